"""Secrets never reach the output, whatever goes wrong: a token Telegram rejects, a
Telegram that is down at start, DEBUG logs of the webhook set-up, delivery errors of a
destination whose URL is a secret. Real `tipoff run` processes, fakes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from tests.factories import eventually, free_port
from tests.conftest import PROJECT
from tests.factories import item, rss
from tests.fakes.feed_server import Served
from tests.fakes.telegram import TOKEN, FakeTelegram


async def tipoff_run(config, data, *args, env=None):
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config), "--data", str(data), *args, cwd=PROJECT,
        env={**os.environ, "TIPOFF_LOG_LEVEL": "DEBUG", **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def stopped(proc, timeout=20, term=True):
    if term and proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return (out + err).decode()


async def test_a_token_telegram_rejects_is_a_clear_error_and_never_printed(tmp_path):
    fake = FakeTelegram()
    await fake.start()
    wrong = "123456:WRONG-token-never-printed"
    try:
        config = tmp_path / "t.toml"
        config.write_text(f'[telegram]\nbase_url = "{fake.base_url}"\n'
                          f'[destinations.tg]\nkind = "telegram"\nchat_id = -1001\n')
        proc = await tipoff_run(config, tmp_path / "d", "--once", env={"TIPOFF_TELEGRAM_TOKEN": wrong})
        output = await stopped(proc, 60, term=False)
    finally:
        await fake.stop()
    assert proc.returncode == 2, output
    assert "Telegram refused the bot token in TIPOFF_TELEGRAM_TOKEN" in output
    assert wrong not in output and "WRONG-token" not in output
    assert "Traceback" not in output


async def test_telegram_down_at_start_is_retried_while_the_rest_runs(tmp_path, feed_server):
    """The Bot API answers 502 when tipoff starts: it keeps polling feeds, retries
    Telegram with backoff, and the alert found meanwhile is delivered once it is up."""
    fake = FakeTelegram()
    await fake.start()
    fake.chat(-1001, "supergroup")
    fake.down = True
    url = feed_server.serve("/f", rss([item("old news", guid="old")]))
    config = tmp_path / "t.toml"
    config.write_text(f'[telegram]\nbase_url = "{fake.base_url}"\npoll_timeout = "1s"\n'
                      f'[destinations.tg]\nkind = "telegram"\nchat_id = -1001\n'
                      f'[[watches]]\nrule = "duet"\nnotify = ["tg"]\n'
                      f'[[feeds]]\nurl = "{url}"\nevery = "1s"\n')
    proc = await tipoff_run(config, tmp_path / "d", env={"TIPOFF_TELEGRAM_TOKEN": TOKEN})
    try:
        await eventually(lambda: len(feed_server.hits("/f")) >= 2, timeout=30, what="polling while Telegram is down")
        feed_server.serve("/f", rss([item("Lady Gaga duet", guid="new"), item("old news", guid="old")]))
        await asyncio.sleep(2.0)
        assert proc.returncode is None
        fake.down = False
        # at once when the Bot API is reached (not at the 30 s retry of "not reached yet")
        await eventually(lambda: fake.alerts_to(-1001), timeout=20, what="the alert once Telegram is up")
    finally:
        output = await stopped(proc)
        await fake.stop()
    assert "the Bot API cannot be reached" in output
    assert TOKEN not in output
    assert f'File "{PROJECT / "bot"}' not in output  # no traceback through tipoff: it never failed
    assert len(fake.alerts_to(-1001)) == 1


async def test_webhook_secrets_and_destination_urls_stay_out_of_debug_logs(tmp_path, feed_server):
    """At DEBUG, python-telegram-bot logs setWebhook's parameters (its secret_token
    would let anyone forge updates), and a webhook destination whose URL is a secret
    (url_env) fails with an error aiohttp words with the URL: neither reaches the log."""
    fake = FakeTelegram()
    await fake.start()
    listen = free_port()
    secret_path = "/hooks/TOPSECRETPATH123"
    loop = feed_server.serve(secret_path, Served(b"", status=307, headers={"Location": secret_path}))
    url = feed_server.serve("/f", rss([item("old news", guid="old")]))
    config = tmp_path / "t.toml"
    config.write_text(f'[http]\nlisten = "127.0.0.1:{listen}"\n'
                      f'[telegram]\nbase_url = "{fake.base_url}"\nwebhook = "http://127.0.0.1:{listen}"\n'
                      f'[delivery]\nretry_base = "0.2s"\n'
                      f'[destinations.secret]\nkind = "webhook"\nurl_env = "SECRET_HOOK"\n'
                      f'[[watches]]\nrule = "duet"\nnotify = ["secret"]\n'
                      f'[[feeds]]\nurl = "{url}"\nevery = "1s"\n')
    proc = await tipoff_run(config, tmp_path / "d", env={"TIPOFF_TELEGRAM_TOKEN": TOKEN, "SECRET_HOOK": loop})
    try:
        await eventually(lambda: fake.webhook is not None, timeout=30, what="setWebhook")
        await eventually(lambda: len(feed_server.hits("/f")) >= 2, timeout=30, what="a second poll")
        feed_server.serve("/f", rss([item("Lady Gaga duet", guid="new"), item("old news", guid="old")]))
        await eventually(lambda: len(feed_server.hits(secret_path)) >= 5, timeout=30, what="the failing delivery")
    finally:
        output = await stopped(proc)
        await fake.stop()
    secret_token = fake.webhook["secret_token"]
    assert secret_token and secret_token not in output
    assert "TOPSECRETPATH123" not in output
    assert "too many redirects" in output  # the failure is still said, in words without the URL
    assert TOKEN not in output


async def test_sigterm_while_telegram_polling_backs_off_stops_within_5_seconds(tmp_path):
    """getUpdates fails for a while, so python-telegram-bot backs off (its waits grow to
    30 s); a SIGTERM then still ends the process within 5 s (it took 9.6 s)."""
    import time

    fake = FakeTelegram()
    await fake.start()
    fake.updates_down = True
    config = tmp_path / "t.toml"
    config.write_text(f'[telegram]\nbase_url = "{fake.base_url}"\npoll_timeout = "1s"\n')
    proc = await tipoff_run(config, tmp_path / "d", env={"TIPOFF_TELEGRAM_TOKEN": TOKEN, "TIPOFF_LOG_LEVEL": "INFO"})
    try:
        await eventually(lambda: fake.calls.count("getUpdates") >= 6, timeout=60, what="getUpdates failing a while")
        began = time.monotonic()
        output = await stopped(proc, timeout=30)
        took = time.monotonic() - began
    finally:
        await fake.stop()
    assert proc.returncode == 0, output
    assert took < 5.0, f"stopping took {took:.1f}s"
