"""`tipoff workers`: the table (pure), and the command against a real Redis that two
workers' stores have been using."""

from __future__ import annotations

import asyncio
import os
import sys

from bot.fleet import Fleet, ago, render
from tests.conftest import PROJECT
from tests.factories import feed, note, redis_prefix


def test_the_table_lists_each_worker_with_what_it_holds():
    fleet = Fleet(now=10_000, feeds=2000, due_now=12, outbox=5,
                  seen={"w1": 9_999, "w2": 9_990, "dead": 1_000},
                  pending={"w1": 3, "w2": 0, "dead": 2}, feed_leases={"w1": 40, "w2": 38},
                  senders={"w1": 4, "w2": 1},
                  locks={"telegram-poller:00ff": "w2", "discord-shard:00ff:0": "w1",
                         "discord-shard:00ff:2": "w1", "discord-shard:00ff:1": "w2"}, shards=3)
    lines = render(fleet, "redis://…@host:6379/0, prefix 'tipoff:'")
    assert lines[0] == "store: redis://…@host:6379/0, prefix 'tipoff:'"
    assert lines[1] == "feeds polled: 2,000 (12 due now); alerts waiting: 5"
    assert lines[2].split() == ["worker", "last", "seen", "alerts", "held", "chats", "sent", "for", "feeds",
                                "polling", "roles"]
    assert lines[3].split() == ["w1", "1s", "ago", "3", "4", "40", "discord", "shards", "0,", "2", "of", "3"]
    assert lines[4].split() == ["w2", "10s", "ago", "0", "1", "38", "telegram", "poller,", "discord", "shard",
                                "1", "of", "3"]
    assert lines[5].split() == ["dead", "2h", "ago", "2", "0", "0", "-"]  # died holding two alerts


def test_ago():
    assert [ago(s) for s in (0, 119, 120, 7199, 7200, 172_800)] == ["0s ago", "119s ago", "2m ago", "119m ago",
                                                                    "2h ago", "2d ago"]


def test_an_empty_store_says_so():
    assert render(Fleet(now=1, feeds=0, due_now=0, outbox=0), "x")[-1] == "no worker has run on this store yet"


async def test_the_command_reads_a_live_store(tmp_path, redis_url):
    from bot.store.redis import RedisStore

    prefix = redis_prefix()
    a = RedisStore(redis_url, prefix=prefix, consumer="worker-a")
    b = RedisStore(redis_url, prefix=prefix, consumer="worker-b")
    await a.open()
    await b.open()
    try:
        feeds = [feed(f"https://feeds.example/{i}") for i in range(6)]
        assert len(await a.claim_due(feeds, 1000.0, limit=4)) == 4
        assert len(await b.claim_due(feeds, 1000.0)) == 2
        for n, dest in enumerate(["fans", "fans", "club"]):
            assert a.claim_and_queue(dest, [f"i:{n}"], 1000.0, note(n), f"alert-{n}")
        await a.flush()
        assert await b.hold_lock("telegram-poller:00ff", 30)
        config = tmp_path / "tipoff.toml"
        config.write_text(f'[store]\nprefix = "{prefix}"\n')
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "workers", "--config", str(config), cwd=PROJECT,
            env={**os.environ, "TIPOFF_STORE_URL": redis_url}, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        rows = {line.split()[0]: line.split() for line in out.decode().splitlines()[3:]}
        assert rows["worker-a"][3:6] == ["3", "2", "4"]  # 3 alerts held, 2 chats, 4 feeds polling
        assert rows["worker-b"][3:] == ["0", "0", "2", "telegram", "poller"]
        assert "feeds polled: 6 (" in out.decode() and "alerts waiting: 3" in out.decode()
    finally:
        await a.close()
        await b.close()


def test_the_command_on_tinydb_explains(tmp_path):
    import subprocess

    config = tmp_path / "tipoff.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "TIPOFF_STORE_URL"}
    done = subprocess.run([sys.executable, "-m", "bot", "workers", "--config", str(config)], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "the store is TinyDB" in done.stderr
