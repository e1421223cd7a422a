"""Nothing lost, nothing twice: a platform outage, and tipoff SIGKILLed at random
moments while feeds keep gaining entries. Everything on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from aiohttp import web

from bot.config import DeliverySettings
from bot.model import Destination, DestinationName
from bot.service import run_service
from tests.factories import eventually
from tests.conftest import PROJECT
from tests.factories import feed, item, rss, settings, watch
from tests.fakes.server import LocalServer


class GrowingFeed:
    """A feed that gains one entry every `every` seconds from its start, up to a stop."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.started = time.time()
        self.frozen_at: float | None = None

    def count(self) -> int:
        now = self.frozen_at or time.time()
        return int((now - self.started) / self.every) + 1

    def body(self) -> bytes:
        n = self.count()
        base = datetime.now(timezone.utc) - timedelta(minutes=10)
        items = [item(f"duet {i:04d}", guid=f"g{i}", published=base + timedelta(seconds=i)) for i in range(n)]
        return rss(list(reversed(items))[:100])  # newest first, like real feeds, 100 at most


class Platform(LocalServer):
    """A webhook platform that records what it accepts; its behaviour can be scripted by time."""

    def __init__(self) -> None:
        self.received: list[tuple[str, float]] = []
        self.mode = "ok"  # ok | error | hang

    async def start(self, feed: GrowingFeed) -> None:
        async def hook(request: web.Request) -> web.Response:
            if self.mode == "error":
                return web.Response(status=500)
            if self.mode == "hang":
                await asyncio.sleep(5)
                return web.Response(status=500)
            body = await request.json()
            self.received.append((body["entry"]["title"], time.time()))
            if self.mode == "slow":
                await asyncio.sleep(1.0)
            return web.Response(status=204)

        async def serve_feed(request: web.Request) -> web.Response:
            return web.Response(body=feed.body(), content_type="application/rss+xml")

        app = web.Application()
        app.router.add_post("/hook", hook)
        app.router.add_get("/feed", serve_feed)
        await self.serve_app(app)

    def titles(self) -> list[str]:
        return [t for t, _ in self.received]

    def settings(self, data):  # type: ignore[no-untyped-def]
        """tipoff watching this platform's feed for "duet" and delivering to its hook."""
        hook = Destination(DestinationName("hook"), "webhook", (("url", f"http://127.0.0.1:{self.port}/hook"),))
        url = f"http://127.0.0.1:{self.port}/feed"
        return settings(data, [feed(url, every=1.0, backfill=100)], [watch("duet", "hook", id="w")], [hook])


async def test_an_outage_of_errors_then_timeouts_loses_nothing_and_repeats_nothing(tmp_path):
    growing = GrowingFeed(every=0.3)
    platform = Platform()
    await platform.start(growing)
    s = replace(platform.settings(tmp_path / "d"), delivery=DeliverySettings(retry_base=0.1, retry_max=0.8,
                                                                            timeout=0.5))
    stop = asyncio.Event()
    platform.mode = "error"
    task = asyncio.create_task(run_service(s, stop))
    try:
        await asyncio.sleep(1.5)
        platform.mode = "hang"  # now it times out
        await asyncio.sleep(1.5)
        growing.frozen_at = time.time()
        platform.mode = "ok"
        expected = [f"duet {i:04d}" for i in range(growing.count())]
        await eventually(lambda: len(platform.received) >= len(expected), timeout=30, what="every alert")
        await asyncio.sleep(1.0)
        assert platform.titles() == expected  # all, in order, none twice
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await platform.stop()


async def test_a_graceful_stop_finishes_the_send_in_flight(tmp_path):
    growing = GrowingFeed(every=3600)
    platform = Platform()
    await platform.start(growing)
    s = platform.settings(tmp_path / "d")
    platform.mode = "slow"
    try:
        for _ in range(2):
            stop = asyncio.Event()
            task = asyncio.create_task(run_service(s, stop))
            await eventually(lambda: platform.received, what="the send to begin")
            stop.set()  # while the platform is still answering
            started = time.monotonic()
            await asyncio.wait_for(task, 10)
            assert time.monotonic() - started < 5
        assert platform.titles() == ["duet 0000"]  # finished before exit, so not sent again
    finally:
        await platform.stop()


KILLS = 30


async def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    growing = GrowingFeed(every=0.15)
    platform = Platform()
    await platform.start(growing)
    config = tmp_path / "tipoff.toml"
    config.write_text(f"""
[poll]
every = "1s"
[delivery]
retry_base = "0.1s"
timeout = "15s"
[[feeds]]
url = "http://127.0.0.1:{platform.port}/feed"
backfill = 100
[destinations.hook]
kind = "webhook"
url = "http://127.0.0.1:{platform.port}/hook"
[[watches]]
rule = "duet"
notify = ["hook"]
""")
    data = tmp_path / "data"
    command = [sys.executable, "-m", "bot", "run", "--config", str(config), "--data", str(data)]
    env = {**os.environ, "TIPOFF_LOG_LEVEL": "WARNING"}
    rnd = random.Random(20261125)
    kills: list[float] = []

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(*command, cwd=PROJECT, env=env,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.PIPE)
    try:
        for _ in range(KILLS):
            proc = await start()
            await asyncio.sleep(rnd.uniform(0.4, 2.0))
            assert proc.returncode is None, (await proc.stderr.read()).decode()  # it loaded its database
            kills.append(time.time())
            proc.kill()
            await proc.wait()
        growing.frozen_at = time.time()
        expected = [f"duet {i:04d}" for i in range(growing.count())]
        proc = await start()
        try:
            await eventually(lambda: set(expected) <= set(platform.titles()), timeout=60, what="every alert")
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 10)
    finally:
        await platform.stop()

    titles = platform.titles()
    first_seen: dict[str, float] = {}
    duplicates = []
    for title, at in platform.received:
        if title in first_seen:
            duplicates.append((title, first_seen[title]))
        else:
            first_seen[title] = at
    # A duplicate is acceptable only if its first delivery was in flight when a kill came: the
    # kill fell between the request leaving tipoff (the platform may log it a moment after the
    # sender died) and tipoff journaling the platform's answer (milliseconds after it).
    unexplained = [t for t, at in duplicates if not any(at - 0.5 <= k <= at + 1.0 for k in kills)]
    print(f"\n{KILLS} kills, {len(expected)} alerts expected, {len(titles)} received, "
          f"{len(duplicates)} duplicates (all in flight at a kill: {not unexplained})")
    assert set(titles) == set(expected)
    detail = [(t, [round(k - at, 2) for k in kills if -1 < k - at < 5]) for t, at in duplicates]
    assert not unexplained, f"unexplained duplicates (title, seconds from first delivery to nearby kills): {detail}"
