"""Three `tipoff run` workers on one Redis share 2,000 locally served feeds; one is
SIGKILLed mid-run. Afterwards: every feed kept being polled (the others took over the
dead worker's feeds when its leases ran out), and every expected alert arrived, once
per alert id (a repeat can only be one the dead worker had in flight, and it carries the
same Idempotency-Key, so the receiver drops it). One worker at a time sent for the
destination, so each feed's stories arrived in the order they appeared."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
import uuid
from collections import defaultdict

from aiohttp import web

from tests.factories import eventually
from tests.conftest import PROJECT
from tests.factories import item, rss, spelled
from tests.fakes.server import LocalServer

FEEDS = 2000
EVERY = 10.0
LEASE = 4.0


class World(LocalServer):
    def __init__(self) -> None:
        self.entries: dict[int, list[str]] = defaultdict(list)
        self.polls: dict[int, list[float]] = defaultdict(list)
        self.received: list[tuple[str, str, float]] = []  # (Idempotency-Key, title, at)
        self.sending = 0  # requests in progress at the hook
        self.most_at_once = 0

    async def start(self) -> None:
        async def serve(request: web.Request) -> web.Response:
            i = int(request.match_info["i"])
            self.polls[i].append(time.time())
            etag = f'"{i}-{len(self.entries[i])}"'
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            items = [item(t, guid=t) for t in reversed(self.entries[i])] or [item(f"feed {i} opens", guid="0")]
            return web.Response(body=rss(items), content_type="application/rss+xml", headers={"ETag": etag})

        async def hook(request: web.Request) -> web.Response:
            body = await request.json()
            self.received.append((request.headers.get("Idempotency-Key", ""), body["entry"]["title"], time.time()))
            self.sending += 1  # one destination: two requests at once would be two workers sending for it
            self.most_at_once = max(self.most_at_once, self.sending)
            try:
                await asyncio.sleep(0.02)
            finally:
                self.sending -= 1
            return web.Response(status=204)

        app = web.Application()
        app.router.add_get("/feed/{i}", serve)
        app.router.add_post("/hook", hook)
        await self.serve_app(app)


async def test_three_workers_one_killed_every_feed_polled_every_alert_once(tmp_path, redis_url):
    world = World()
    await world.start()
    base = f"http://127.0.0.1:{world.port}"
    feeds = "".join(f'[[feeds]]\nurl = "{base}/feed/{i}"\nevery = "{EVERY:g}s"\n' for i in range(FEEDS))
    config = tmp_path / "tipoff.toml"
    config.write_text(f"""
[store]
prefix = "test-{uuid.uuid4().hex[:12]}:"
lease = "{LEASE:g}s"
[fetch]
concurrency = 50
per_host = 50
[delivery]
retry_base = "0.2s"
[destinations.hook]
kind = "webhook"
url = "{base}/hook"
[[watches]]
rule = "duet"
notify = ["hook"]
{feeds}""")
    env = {**os.environ, "TIPOFF_STORE_URL": redis_url, "TIPOFF_LOG_LEVEL": "WARNING"}

    async def worker(n: int) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(config), "--data", str(tmp_path / f"d{n}"),
            cwd=PROJECT, env={**env, "TIPOFF_WORKER": f"w{n}"},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)

    workers = [await worker(n) for n in range(3)]
    rnd = random.Random(9)
    expected: list[str] = []
    try:
        await eventually(lambda: len(world.polls) == FEEDS, timeout=90, what="every feed's first poll")
        for second in range(12):
            for i in rnd.sample(range(FEEDS), 15):
                title = f"duet {len(expected):04d} in feed {spelled(i)}"
                world.entries[i].append(title)
                expected.append(title)
            if second == 5:
                killed_at = time.time()
                workers[0].kill()  # mid-run: it holds leases on feeds and perhaps an alert in flight
                await workers[0].wait()
            await asyncio.sleep(1.0)
        stopped_adding = time.time()
        await eventually(lambda: set(expected) <= {t for _, t, _ in world.received}, timeout=90,
                         what="every expected alert")
        end = time.time()
        for w in workers[1:]:
            assert w.returncode is None, (await w.stderr.read()).decode()[-2000:]
    finally:
        for w in workers:
            if w.returncode is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            await asyncio.wait_for(w.wait(), 20)
        await world.stop()

    # every feed polled on time, before and after the kill: no gap longer than its
    # interval plus a lease (a dead worker's feeds wait for its lease), plus slack
    worst = max(b - a for i in range(FEEDS) for a, b in zip(world.polls[i], [*world.polls[i][1:], end])
                if a >= world.polls[i][0])
    assert worst <= EVERY + LEASE + 8.0, f"a feed waited {worst:.1f}s between polls"
    keys = defaultdict(list)
    for key, title, at in world.received:
        keys[key].append((title, at))
    titles = [t for _, t, _ in world.received]
    assert set(titles) == set(expected)  # none lost
    assert len(keys) == len(expected)  # one alert id per story: never announced twice
    repeats = [(k, v) for k, v in keys.items() if len(v) > 1]
    print(f"\n3 workers, {FEEDS} feeds, {len(expected)} alerts, {len(world.received)} deliveries, "
          f"{len(repeats)} repeated in flight at the kill; worst poll gap {worst:.1f}s")
    assert all(abs(v[0][1] - killed_at) < 2 * LEASE + 5 for _, v in repeats), [(k, [round(at - killed_at, 1) for _, at in v]) for k, v in repeats]
    assert stopped_adding < end
    # one worker at a time sent for the destination, so each feed's stories arrived in the
    # order they appeared (a feed's new entries are announced oldest first)
    assert world.most_at_once == 1
    first: dict[str, int] = {}
    for n, (_, title, _) in enumerate(world.received):
        first.setdefault(title, n)
    for i in range(FEEDS):
        mine = sorted((t for t in expected if t.endswith(f" in feed {spelled(i)}")), key=first.__getitem__)
        assert mine == sorted(mine), f"feed {i}'s stories arrived out of order: {mine}"
