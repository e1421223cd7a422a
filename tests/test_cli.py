"""The commands as a user runs them: real subprocesses of `python -m bot`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import __version__
from tests.conftest import PROJECT

DEMO = PROJECT / "config" / "demo.toml"


def tipoff(*args, timeout=60, **kw):
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=kw.pop("cwd", PROJECT), **kw)


def test_demo_alerts_once_then_never_again(tmp_path):
    first = tipoff("run", "--config", str(DEMO), "--once", "--data", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("━━ tipoff") == 1
    assert "Lady Gaga and Britney Spears are preparing a duet" in first.stdout
    assert "matched:   lady gaga, britney spears, duet" in first.stdout
    # the syndicated copy is the same story: the alert is updated, not sent again
    assert "↳ story update: Lady Gaga and Britney Spears are preparing a duet" in first.stdout
    assert "Also reported by " in first.stdout  # PopWire or MusicWire: whichever feed answered second
    for decoy in ("tour", "Dua Lipa", "Gagarin", "Madonna", "Chromatica", "best duets"):
        assert decoy not in first.stdout
    second = tipoff("run", "--config", str(DEMO), "--once", "--data", str(tmp_path))
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""


@pytest.mark.parametrize("rule, text, code, out", [
    ('"lady gaga" AND duet', "Lady Gaga duet!", 0, "match: lady gaga, duet"),
    ('"lady gaga" AND duet', "Gagarin duet", 1, "no match"),
    ('"lady gaga AND duet', "x", 2, "unclosed quote at column 1"),
])
def test_match_exit_codes(rule, text, code, out):
    result = tipoff("match", rule, "--text", text)
    assert result.returncode == code
    assert out in result.stdout + result.stderr


def test_match_explain_shows_tree_and_spans():
    result = tipoff("match", "gaga -rumor", "--text", "Gaga confirms", "--explain")
    assert "rule: (gaga AND NOT rumor)" in result.stdout
    assert "'gaga' in title at 0-4: 'Gaga'" in result.stdout


def test_check_lists_entries_and_marks_matches():
    sample = PROJECT / "config" / "samples" / "popwire.xml"
    result = tipoff("check", str(sample), "--rule", '"lady gaga" AND "britney spears" AND duet')
    assert result.returncode == 0, result.stderr
    assert "PopWire — rss, 4 entries" in result.stdout
    assert "[match] Lady Gaga and Britney Spears are preparing a duet" in result.stdout
    assert "[     ] Dua Lipa and Elton John release a surprise duet" in result.stdout


def test_check_json_prints_one_object_per_entry():
    sample = PROJECT / "config" / "samples" / "indiebeat.json"
    result = tipoff("check", str(sample), "--rule", "gaga", "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [set(r) for r in rows] == [{"id", "url", "title", "published", "matched"}] * 2
    assert [r["matched"] for r in rows] == [True, False]
    assert rows[0]["published"] == "2026-11-24T07:30:00+00:00"


def test_check_explains_a_broken_feed(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<!doctype html><html><body>hi</body></html>")
    result = tipoff("check", str(page))
    assert result.returncode == 1
    assert "not a feed: received an HTML page" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_help_on_every_command():
    assert tipoff("--version").stdout.strip() == f"tipoff {__version__}"
    for cmd in ("run", "check", "match"):
        result = tipoff(cmd, "--help")
        assert result.returncode == 0 and "usage: tipoff " + cmd in result.stdout


def test_config_error_names_key_and_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[poll]\nevery = "10m"\n\n[[feeds]]\nurl = "https://a.example/f"\nevery = "ten minutes"\n')
    result = tipoff("run", "--config", str(bad), "--once", "--data", str(tmp_path / "d"))
    assert result.returncode == 2
    assert f"{bad}:6: feeds[1].every" in result.stderr


def _serve_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "tipoff.toml"
    config.write_text(f'[poll]\nevery = "1s"\n[[feeds]]\nurl = "{url}"\n[[watches]]\nrule = "duet"\n')
    return config


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_second_instance_on_a_data_dir_is_refused_and_sigterm_stops_within_5s(tmp_path):
    sample = (PROJECT / "config" / "samples" / "popwire.xml").as_uri()
    config = _serve_config(tmp_path, sample)
    data = tmp_path / "data"
    first = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config), "--data", str(data)],
                             cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: (data / "tipoff.json").exists()), "first instance never wrote its store"
        second = tipoff("run", "--config", str(config), "--data", str(data), timeout=20)
        assert second.returncode == 1
        assert f"in use by another tipoff (pid {first.pid})" in second.stderr
        started = time.monotonic()
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=10)
        assert time.monotonic() - started < 5
        assert first.returncode == 0
    finally:
        if first.poll() is None:
            first.kill()
    # and the store it left behind loads
    assert json.loads((data / "tipoff.json").read_text())["meta"]


def test_sigint_during_a_slow_fetch_exits_quickly(tmp_path):
    # a feed that never answers: the poll is in flight when the signal arrives
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)  # accepts, never replies
    port = sock.getsockname()[1]
    config = _serve_config(tmp_path, f"http://127.0.0.1:{port}/feed")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config), "--data",
                             str(tmp_path / "d")], cwd=PROJECT, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: (tmp_path / "d" / "tipoff.lock").exists())
        time.sleep(1.0)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()


def test_preview_prints_the_exact_send_message_parameters():
    from tests.fakes.telegram_html import visible_text

    sample = PROJECT / "config" / "samples" / "popwire.xml"
    result = tipoff("preview", str(sample), "--platform", "telegram", "--rule", '"lady gaga" duet',
                    "--chat-id", "-1001234")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 1
    params = rows[0]
    assert params["chat_id"] == -1001234 and params["parse_mode"] == "HTML"
    assert "<b>Lady Gaga</b>" in params["text"] and "&amp; a video" in params["text"]
    visible_text(params["text"])
    everything = tipoff("preview", str(sample), "--platform", "telegram")
    assert len(everything.stdout.splitlines()) == 4


async def test_the_bot_token_never_reaches_the_logs(tmp_path):
    import asyncio

    from tests.fakes.telegram import TOKEN, FakeTelegram

    fake = FakeTelegram()
    await fake.start()
    try:
        config = tmp_path / "t.toml"
        config.write_text(f'[telegram]\nbase_url = "{fake.base_url}"\n'
                          f'[destinations.tg]\nkind = "telegram"\nchat_id = -1001\n')
        env = {**os.environ, "TIPOFF_TELEGRAM_TOKEN": TOKEN, "TIPOFF_LOG_LEVEL": "DEBUG"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--once", "--config", str(config), "--data", str(tmp_path / "d"),
            cwd=PROJECT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        await fake.stop()
    assert proc.returncode == 0, err.decode()
    assert "getMe" in fake.calls  # it really talked to Telegram
    assert TOKEN not in out.decode() + err.decode()
    assert TOKEN.split(":")[1] not in err.decode()


def test_redaction_covers_messages_and_tracebacks():
    import logging

    from bot.cli import RedactSecrets

    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "GET /bot%s/getMe failed", ("123:abc",), None)
    try:
        raise RuntimeError("url /bot123:abc/sendMessage")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RedactSecrets(["123:abc"]).filter(record)
    assert record.getMessage() == "GET /bot***/getMe failed"
    assert "123:abc" not in (record.exc_text or "") and "/bot***/sendMessage" in (record.exc_text or "")


def test_preview_for_discord_prints_message_payloads():
    from tests.fakes.discord import pings, validate_message

    sample = PROJECT / "config" / "samples" / "musicwire.atom"
    result = tipoff("preview", str(sample), "--platform", "discord", "--rule", "britney")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2
    for payload in rows:
        assert set(payload) == {"content", "embeds", "allowed_mentions"}
        assert validate_message(payload) == {} and pings(payload) == []
    assert "**Britney**" in rows[0]["embeds"][0]["description"]


async def test_check_honours_the_http_charset(feed_server):
    import asyncio

    body = '<rss version="2.0"><channel><title>t</title><item><title>Ação é já</title><guid>1</guid></item>' \
           '</channel></rss>'
    url = feed_server.serve("/latin1", body.encode("latin-1"), content_type="application/rss+xml; charset=iso-8859-1")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "check", url, "--json", cwd=PROJECT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out.decode().splitlines()[0])["title"] == "Ação é já"
