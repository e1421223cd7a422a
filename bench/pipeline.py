"""The whole pipeline at scale: N feeds served by a local aiohttp server (in its own
process) with bodies from ../shared/corpus/real, 10% of them gaining an entry each
cycle, M watches. tipoff's real engine (conditional GET, parse, match, dedupe, store,
outbox) against a baseline written here that does what typical Python feed bots do:
aiohttp + feedparser on every body + every watch's regex on every entry + a TinyDB
insert per new entry. Same machine, same run.

Prints feeds/s, CPU seconds per cycle, the longest event-loop stall and peak memory for
tipoff, feeds/s for the baseline (timed for a budget, since it is far slower), and ends
with `peak rss MB: N` and `speedup vs baseline: X.Xx`.

Run: python bench/pipeline.py --feeds 1000 [--watches 1000] [--cycles 3]"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

from _common import corpus_files

warnings.filterwarnings("ignore")

NEW_ITEM = ("<item><title>{title}</title><link>https://bench.example/{feed}/{version}</link>"
            "<guid>bench-{feed}-{version}</guid><pubDate>{date}</pubDate>"
            "<description>{title}: the story everyone is talking about.</description></item>")
NEW_ENTRY = ("<entry><title>{title}</title><link href=\"https://bench.example/{feed}/{version}\"/>"
             "<id>bench-{feed}-{version}</id><updated>{iso}</updated><summary>{title}</summary></entry>")


def _bases() -> list[bytes]:
    """Real corpus bodies we can add an item to: RSS or Atom feeds with entries."""
    from bot.feeds.errors import FeedError
    from bot.feeds.parse import parse_feed

    out = []
    for path in corpus_files("real"):
        body = path.read_bytes()
        if not ((b"<item" in body and b"</channel>" in body) or (b"<entry" in body and b"</feed>" in body)):
            continue
        try:
            if parse_feed(body, "f").entries:
                out.append(body)
        except FeedError:
            pass
    return out


def _server(n_feeds: int, port_out: "multiprocessing.Queue[int]", seed: int) -> None:
    from email.utils import formatdate

    from aiohttp import web

    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from match import artists, WORDS  # realistic titles for new entries

    rnd = random.Random(seed)
    bases = _bases()
    names = artists(rnd, 2000)
    versions = [0] * n_feeds
    extra: list[list[bytes]] = [[] for _ in range(n_feeds)]

    def body(i: int) -> bytes:
        base = bases[i % len(bases)]
        if not extra[i]:
            return base
        marker = b"<item" if b"<item" in base else b"<entry"
        at = base.find(marker)
        return base[:at] + b"".join(reversed(extra[i])) + base[at:]

    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        etag = f'"{i}-{versions[i]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body(i), headers={"ETag": etag, "Content-Type": "application/xml"})

    async def advance(request: web.Request) -> web.Response:
        changed = rnd.sample(range(n_feeds), max(1, n_feeds // 10))
        for i in changed:
            versions[i] += 1
            title = f"{rnd.choice(names)} {rnd.choice(WORDS)} news"
            atom = b"<item" not in bases[i % len(bases)]
            template = NEW_ENTRY if atom else NEW_ITEM
            extra[i].append(template.format(title=title, feed=i, version=versions[i], date=formatdate(usegmt=True),
                                            iso=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())).encode())
        return web.Response(text=str(len(changed)))

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i}", feed)
        app.router.add_get("/advance", advance)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port_out.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


class LoopMonitor:
    """Measures the longest time the event loop was blocked (a 10 ms ticker's lateness)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - start - 0.01)

    def __enter__(self) -> "LoopMonitor":
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


class CountingAdapter:
    kinds = ("console",)

    def __init__(self) -> None:
        self.alerts = 0
        self.updates = 0

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, destination, alert):  # type: ignore[no-untyped-def]
        from bot.adapters.base import Delivered
        self.alerts += 1
        return Delivered()

    async def notify(self, destination, text):  # type: ignore[no-untyped-def]
        from bot.adapters.base import Delivered
        return Delivered()

    async def update(self, destination, told, new):  # type: ignore[no-untyped-def]
        from bot.adapters.base import Delivered
        self.updates += 1
        return Delivered()

    def split_digest(self, digest):  # type: ignore[no-untyped-def]
        return [digest]

    async def send_digest(self, destination, digest):  # type: ignore[no-untyped-def]
        from bot.adapters.base import Delivered
        self.alerts += len(digest.alerts)
        return Delivered()


async def advance(base: str) -> None:
    import aiohttp
    async with aiohttp.ClientSession() as s, s.get(f"{base}/advance") as r:
        await r.read()


async def run_tipoff(base: str, n_feeds: int, rules: list[str], cycles: int) -> dict[str, float]:
    from dataclasses import replace
    from datetime import datetime, timezone

    from bot.config import CONSOLE, FetchSettings, PollSettings, Settings, feed_id_for
    from bot.engine import Engine
    from bot.service import settle_heap, tune_process
    from bot.feeds.fetch import Fetcher
    from bot.model import Destination, Feed, Watch, WatchId
    from bot.store.tinydb import TinyDBStore

    feeds = tuple(Feed(feed_id_for(f"{base}/feed/{i}"), f"{base}/feed/{i}", 600, trusted=True, backfill=0)
                  for i in range(n_feeds))
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    watches = tuple(Watch(WatchId(f"w{i}"), r, (CONSOLE,), epoch) for i, r in enumerate(rules))
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(path=None, poll=replace(PollSettings(), max_age=10**9),
                            fetch=FetchSettings(concurrency=100, per_host=100, timeout=60),
                            feeds=feeds, destinations={CONSOLE: Destination(CONSOLE, "console")},
                            watches=watches, data_dir=Path(data))
        store = TinyDBStore(Path(data))
        await store.open()
        adapter = CountingAdapter()
        fetcher = Fetcher(settings.fetch)
        engine = Engine(settings, store, fetcher, {"console": adapter})  # type: ignore[dict-item]
        tune_process()  # as `tipoff run` does
        heap = asyncio.ensure_future(settle_heap(engine))
        await engine.poll_cycle(feeds)  # the first poll: everything is new, nothing announced
        await heap
        print("tipoff: first poll done; timing steady cycles", file=sys.stderr, flush=True)
        walls, cpus = [], []
        with LoopMonitor() as monitor:
            for _ in range(cycles):
                await advance(base)
                wall, cpu = time.perf_counter(), time.process_time()
                await engine.poll_cycle(feeds)
                await engine.delivery.settle()
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
        await engine.delivery.close()
        await store.close()
        await fetcher.close()
    return {"feeds_per_s": n_feeds / (sum(walls) / len(walls)), "cpu_per_cycle": sum(cpus) / len(cpus),
            "blocked_ms": monitor.worst * 1000, "alerts": adapter.alerts,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


async def run_baseline(base: str, n_feeds: int, rules: list[str], budget: float) -> dict[str, float]:
    """What a typical Python feed bot does, for as many feeds as the budget allows."""
    import aiohttp
    import feedparser
    from tinydb import Query, TinyDB

    from match import naive_compile, naive_eval

    compiled = [naive_compile(r) for r in rules]
    q = Query()
    with tempfile.TemporaryDirectory() as data:
        db = TinyDB(Path(data) / "seen.json")
        seen = db.table("seen")
        done = 0
        semaphore = asyncio.Semaphore(100)
        start = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            async def one(i: int) -> None:
                nonlocal done
                async with semaphore:
                    if time.perf_counter() - start > budget:
                        return
                    try:
                        async with session.get(f"{base}/feed/{i}") as r:
                            body = await r.read()
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        return  # a bot skips a feed that did not answer; it does not count as done
                    parsed = feedparser.parse(body)
                    for e in parsed.entries:
                        text = f"{e.get('title', '')}\n{e.get('summary', '')}"
                        for w in compiled:
                            naive_eval(w, text)
                        key = e.get("id") or e.get("link") or e.get("title")
                        if not seen.contains(q.key == key):
                            seen.insert({"key": key, "feed": i})
                    done += 1
            order = list(range(n_feeds))
            random.Random(7).shuffle(order)
            await asyncio.gather(*(one(i) for i in order))
        elapsed = min(time.perf_counter() - start, budget + 60)
        db.close()
    return {"feeds_per_s": done / elapsed, "feeds": done}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--watches", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--baseline-budget", type=float, default=60.0, help="seconds the baseline may run")
    args = ap.parse_args()

    from match import make_rules

    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_server, args=(args.feeds, ports, 11), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=60)}"
    rules = make_rules(args.watches)
    try:
        ours = asyncio.run(run_tipoff(base, args.feeds, rules, args.cycles))
        print(f"tipoff:   {ours['feeds_per_s']:,.0f} feeds/s, {ours['cpu_per_cycle']:.2f} CPU s per cycle, "
              f"event loop blocked at most {ours['blocked_ms']:.0f} ms, {ours['alerts']:.0f} alerts "
              f"({args.feeds} feeds, {args.watches} watches, 10% changing per cycle)")
        peak = ours["rss_mb"]
        theirs = asyncio.run(run_baseline(base, args.feeds, rules, args.baseline_budget))
        print(f"baseline: {theirs['feeds_per_s']:,.1f} feeds/s (timed on {theirs['feeds']:.0f} feeds)")
        print(f"peak rss MB: {peak:.0f}")
        print(f"speedup vs baseline: {ours['feeds_per_s'] / theirs['feeds_per_s']:.1f}x")
    finally:
        server.terminate()


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.ERROR)
    multiprocessing.set_start_method("fork")
    main()
