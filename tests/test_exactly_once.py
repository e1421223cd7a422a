"""Exactly once across workers on one Redis, in every start and stop pattern: workers
started and stopped together with --once (on one host, under its default name), a
rolling restart, and a worker SIGKILLed mid-send. Each alert goes to a webhook, a
Telegram chat (the fake Bot API) and a Discord channel (the fake REST API): every one
arrives, once, in the order its feed published it, and one request at a time per
destination. Real `tipoff run` processes, a real redis-server, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from aiohttp import web

from tests.factories import eventually
from tests.conftest import PROJECT
from tests.factories import item, rss, spelled
from tests.fakes.discord import TOKEN as discord_token
from tests.fakes.discord import FakeDiscord
from tests.fakes.server import LocalServer
from tests.fakes.telegram import TOKEN as telegram_token
from tests.fakes.telegram import FakeTelegram

FEEDS = 3
CHAT = -1001
CHANNEL = "800000000000000010"
TAG = re.compile(r"duet (\d{4})")
DESTINATIONS = ("hook", "telegram", "discord")


class Feeds(LocalServer):
    """Feeds that gain entries when the test says, and a webhook destination that
    records every request that reaches it (as it arrives: a send cut off by a kill
    reached the platform all the same)."""

    def __init__(self) -> None:
        self.entries: dict[int, list[str]] = defaultdict(list)  # feed → titles, oldest first
        self.hook: list[tuple[str, str, float]] = []  # (Idempotency-Key, tag, when it arrived)
        self.sending = 0
        self.most_at_once = 0
        self.gate: asyncio.Event | None = None  # while set to an unset event, sends wait at the hook
        self.waiting = 0  # sends waiting at the gate
        self.count = 0

    def publish(self, feed: int) -> str:
        tag = f"{self.count:04d}"
        self.count += 1
        self.entries[feed].append(f"Lady Gaga and Britney Spears duet {tag} from feed {spelled(feed)}")
        return tag

    async def start(self) -> None:
        async def serve(request: web.Request) -> web.Response:
            n = int(request.match_info["n"])
            items = [item(t, guid=t, link=f"http://127.0.0.1:{self.port}/story/{TAG.search(t).group(1)}")
                     for t in reversed(self.entries[n])] or [item(f"feed {n} opens", guid="0")]
            return web.Response(body=rss(items), content_type="application/rss+xml")

        async def hook(request: web.Request) -> web.Response:
            body = await request.json()
            self.hook.append((request.headers.get("Idempotency-Key", ""), tag_of(body["entry"]["title"]),
                              time.time()))
            self.sending += 1
            self.most_at_once = max(self.most_at_once, self.sending)
            try:
                if self.gate is not None:
                    self.waiting += 1
                    try:
                        await self.gate.wait()
                    finally:
                        self.waiting -= 1
                await asyncio.sleep(0.005)
            finally:
                self.sending -= 1
            return web.Response(status=204)

        app = web.Application()
        app.router.add_get("/feed/{n}", serve)
        app.router.add_post("/hook", hook)
        await self.serve_app(app)


def tag_of(text: str) -> str:
    found = TAG.search(text)
    assert found, text
    return found.group(1)


class Fleet:
    """The feeds, the three platforms, and `tipoff run` processes on one Redis."""

    def __init__(self, tmp_path: Path, redis_url: str) -> None:
        self.tmp, self.redis_url = tmp_path, redis_url
        self.feeds, self.telegram, self.discord = Feeds(), FakeTelegram(), FakeDiscord()
        self.prefix = f"test-{uuid.uuid4().hex[:12]}:"
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.runs = 0

    async def __aenter__(self) -> Fleet:
        for server in (self.feeds, self.telegram, self.discord):
            await server.start()
        self.telegram.chat(CHAT, "supergroup")
        self.discord.identify_interval = 0.5
        return self

    async def __aexit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        if self.feeds.gate is not None:
            self.feeds.gate.set()
        for server in (self.feeds, self.telegram, self.discord):
            await server.stop()

    def config(self, lease: str) -> Path:
        base = f"http://127.0.0.1:{self.feeds.port}"
        feeds = "".join(f'[[feeds]]\nurl = "{base}/feed/{n}"\nevery = "1s"\n' for n in range(FEEDS))
        path = self.tmp / "tipoff.toml"
        path.write_text(f"""
[store]
prefix = "{self.prefix}"
lease = "{lease}"
[poll]
jitter = 0
[delivery]
retry_base = "0.2s"
[telegram]
base_url = "{self.telegram.base_url}"
rate_chat = 100
rate_group_per_minute = 6000
rate_global = 100
poll_timeout = "1s"
[discord]
api_base = "{self.discord.api_base}"
gateway = "{self.discord.gateway}"
shards = 1
[destinations.hook]
kind = "webhook"
url = "{base}/hook"
[destinations.chat]
kind = "telegram"
chat_id = {CHAT}
[destinations.channel]
kind = "discord"
channel_id = {CHANNEL}
[[watches]]
rule = '"lady gaga" AND "britney spears" AND duet'
notify = ["hook", "chat", "channel"]
{feeds}""")
        return path

    async def start(self, config: Path, name: str | None = None, *args: str) -> asyncio.subprocess.Process:
        """A `tipoff run` process; `name` sets TIPOFF_WORKER (without it, the host name)."""
        self.runs += 1
        env = {**os.environ, "TIPOFF_STORE_URL": self.redis_url, "TIPOFF_LOG_LEVEL": "WARNING",
               "TIPOFF_TELEGRAM_TOKEN": telegram_token, "TIPOFF_DISCORD_TOKEN": discord_token}
        env.pop("TIPOFF_WORKER", None)
        if name is not None:
            env["TIPOFF_WORKER"] = name
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(config), "--data", str(self.tmp / f"d{self.runs}"),
            *args, cwd=PROJECT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        self.procs[name or f"once-{self.runs}"] = proc
        return proc

    def arrived(self) -> dict[str, list[str]]:
        """Per destination, the alerts (by tag) every send that reached it carried, in order."""
        return {
            "hook": [tag for _, tag, _ in self.feeds.hook],
            "telegram": [tag_of(s.text) for s in self.telegram.alerts_to(CHAT)],
            "discord": [tag_of(json.dumps(p.body)) for p in self.discord.posted if p.channel_id == CHANNEL],
        }

    def repeats(self) -> dict[str, list[str]]:
        """Per destination, the alerts sent more than once (Discord's nonce repeats too:
        Discord drops them, but tipoff sent them)."""
        out = {dest: sorted(t for t, n in Counter(tags).items() if n > 1) for dest, tags in self.arrived().items()}
        out["discord"] += [str(nonce) for _, nonce in self.discord.nonce_repeats]
        return out

    def assert_in_feed_order(self, published: list[str]) -> None:
        """Each feed's alerts arrived in the order the feed published them (a feed's new
        entries are queued oldest first), at every destination."""
        for dest, tags in self.arrived().items():
            first: dict[str, int] = {}
            for n, tag in enumerate(tags):
                first.setdefault(tag, n)
            for feed in range(FEEDS):
                mine = [tag_of(t) for t in self.feeds.entries[feed] if tag_of(t) in published]
                assert sorted(mine, key=first.__getitem__) == mine, f"{dest}: feed {feed} out of order: {tags}"


async def ended(proc: asyncio.subprocess.Process, timeout: float = 30) -> None:
    _, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()[-3000:]


@pytest.fixture
async def fleet(tmp_path, redis_url):
    async with Fleet(tmp_path, redis_url) as f:
        yield f


async def test_workers_started_and_stopped_together_alert_once_every_round(fleet):
    """The cron form of the README's multi-worker set-up: three `tipoff run --once` on
    one host, started at the same moment, 20 rounds with new entries in most. They take
    the names host, host-2, host-3 (before the fix they all took the host name, and each
    read the others' alerts as its own: 3 of 4 rounds repeated an alert). Every alert is
    sent by the end of its round, once, at all three destinations."""
    config = fleet.config(lease="10s")
    rnd = random.Random(14)
    published: list[str] = []
    for round_ in range(21):
        if round_ > 0 and round_ % 5 != 3:  # every fifth round brings nothing new
            for feed in rnd.sample(range(FEEDS), rnd.randint(1, FEEDS)):
                published.append(fleet.feeds.publish(feed))
        workers = [await fleet.start(config, None, "--once") for _ in range(3)]
        for proc in workers:
            await ended(proc)
        for dest, tags in fleet.arrived().items():
            assert sorted(tags) == sorted(published), f"round {round_}, {dest}: {tags} vs {published}"
        assert fleet.repeats() == {d: [] for d in DESTINATIONS}, f"round {round_}"
    assert len(published) >= 30
    fleet.assert_in_feed_order(published)
    assert fleet.feeds.most_at_once == 1


async def test_a_rolling_restart_loses_nothing_and_repeats_nothing(fleet):
    """Three long-running workers; each in turn gets SIGTERM and is started again while
    entries keep arriving. Nothing lost, nothing twice, each feed's alerts in order at
    every destination, and never two sends at once to the webhook."""
    config = fleet.config(lease="4s")
    names = ["w0", "w1", "w2"]
    for name in names:
        await fleet.start(config, name)
    published: list[str] = []
    rnd = random.Random(7)

    async def keep_publishing(stop: asyncio.Event) -> None:
        while not stop.is_set():
            published.append(fleet.feeds.publish(rnd.randrange(FEEDS)))
            await asyncio.sleep(0.25)

    await asyncio.sleep(3.0)  # first polls: nothing announced
    stop = asyncio.Event()
    publisher = asyncio.ensure_future(keep_publishing(stop))
    try:
        for name in names:
            await asyncio.sleep(1.5)
            proc = fleet.procs[name]
            proc.send_signal(signal.SIGTERM)
            await ended(proc, timeout=10)
            await fleet.start(config, name)
        await asyncio.sleep(1.5)
    finally:
        stop.set()
        await publisher
    await eventually(lambda: all(sorted(set(t)) == sorted(published) for t in fleet.arrived().values()),
                     timeout=60, what=f"every alert at every destination ({len(published)})")
    await asyncio.sleep(1.0)  # a repeat would come now
    for proc in fleet.procs.values():
        assert proc.returncode is None
    assert fleet.repeats() == {d: [] for d in DESTINATIONS}
    fleet.assert_in_feed_order(published)
    assert fleet.feeds.most_at_once == 1
    assert len(published) >= 20


async def test_a_worker_killed_mid_send_repeats_at_most_that_alert(fleet):
    """The webhook holds a send; the worker sending it (the destination's sender in
    Redis) is SIGKILLed right then. After its lease, another worker takes the chat over:
    the alert that was in flight may arrive again (the platform got it; tipoff never heard
    back), every other alert arrives once, each feed's in order."""
    config = fleet.config(lease="3s")
    names = ["w0", "w1", "w2"]
    for name in names:
        await fleet.start(config, name)
    await asyncio.sleep(3.0)  # first polls: nothing announced
    published = [fleet.feeds.publish(n % FEEDS) for n in range(3)]
    await eventually(lambda: all(sorted(t) == sorted(published) for t in fleet.arrived().values()),
                     timeout=30, what="the first alerts")
    fleet.feeds.gate = asyncio.Event()  # the next send to the webhook waits there
    published += [fleet.feeds.publish(n % FEEDS) for n in range(6)]
    await eventually(lambda: fleet.feeds.waiting == 1, timeout=30, what="a send held at the webhook")
    in_flight = fleet.feeds.hook[-1][1]
    import redis.asyncio as aioredis

    r = aioredis.from_url(fleet.redis_url)
    try:
        sender = (await r.get(f"{fleet.prefix}sender:hook")).decode()
    finally:
        await r.aclose()
    fleet.procs[sender].kill()
    await fleet.procs[sender].wait()
    fleet.feeds.gate.set()
    fleet.feeds.gate = None
    published += [fleet.feeds.publish(n % FEEDS) for n in range(3)]
    await eventually(lambda: all(sorted(set(t)) == sorted(published) for t in fleet.arrived().values()),
                     timeout=60, what="every alert after the kill")
    await asyncio.sleep(1.0)
    repeats = fleet.repeats()
    assert repeats["hook"] in ([], [in_flight]), (repeats, in_flight)
    # the killed worker may have been sending to the others at that moment too: one at most each
    assert len(repeats["telegram"]) <= 1 and len(repeats["discord"]) <= 1, repeats
    fleet.assert_in_feed_order(published)
    for name in names:
        if name != sender:
            assert fleet.procs[name].returncode is None
