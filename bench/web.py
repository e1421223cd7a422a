"""The dashboard's server time per page at scale: 10,000 feeds, 1,000 watches and
100,000 recent entries (a week of busy feeds), the operator's session and one chat's.
Every page is asked N times through the real aiohttp server on 127.0.0.1; the time is
measured in the server (a middleware around the handler), so the client's share does
not count. The rule tester is also compared with a baseline written here that does what
a simple implementation would: a regular expression per rule term over every entry.

Prints the median and 95th percentile of each page, and ends with
`speedup vs baseline: X.Xx` (the tester against the baseline, same data, same run).

Run: python bench/web.py [--feeds 10000] [--watches 1000] [--entries 100000] [--requests 30]"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import re
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from _common import peak_rss_mb

from match import WORDS, artists  # realistic titles


async def main(n_feeds: int, n_watches: int, n_entries: int, requests: int) -> None:
    import aiohttp
    from aiohttp import web

    from bot.commands import Commands
    from bot.config import CONSOLE, FetchSettings, HttpSettings, PollSettings, Settings, feed_id_for
    from bot.dashboard import access
    from bot.dashboard.app import COOKIE, Dashboard
    from bot.engine import Engine
    from bot.service import tune_process
    from bot.feeds.fetch import Fetcher
    from bot.model import Destination, Fate, Feed, RecentEntry, Watch, WatchId
    from bot.store.base import FeedState
    from bot.store.tinydb import TinyDBStore
    from bot.web import WebServer

    rnd = random.Random(7)
    names = artists(rnd, 2000)
    chat = "telegram:-1001234567890"
    now = time.time()
    feeds = tuple(Feed(feed_id_for(f"https://feeds.example/{i}"), f"https://feeds.example/{i}", 600, trusted=True)
                  for i in range(n_feeds))
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(path=None, poll=PollSettings(), fetch=FetchSettings(), feeds=feeds,
                            destinations={CONSOLE: Destination(CONSOLE, "console")}, data_dir=Path(data),
                            http=HttpSettings(("127.0.0.1", 0)))
        store = TinyDBStore(Path(data))
        await store.open()
        for i, f in enumerate(feeds):
            store.put_feed_state(FeedState(f.id, f.url, title=f"Feed {i}", polls=5, last_polled=now - 60,
                                           next_due=now + 540, last_error="HTTP 503" if i % 50 == 0 else None))
        epoch = datetime(2026, 1, 1, tzinfo=timezone.utc)
        for i in range(n_watches):
            rule = f'"{rnd.choice(names)}" AND {rnd.choice(WORDS)}' if i % 3 else rnd.choice(names).split()[-1]
            store.put_watch(Watch(WatchId(f"w{i}"), rule, (chat,), epoch, owner=chat))  # type: ignore[arg-type]
        entries = []
        for i in range(n_entries):
            title = f"{rnd.choice(names)} {rnd.choice(WORDS)} {rnd.choice(WORDS)} {rnd.choice(names)}"
            fates = (Fate(chat, "alerted", f"{chat}:a{i}", (f"w{i % n_watches}",)),) if i % 20 == 0 else ()
            entries.append(RecentEntry(f"k{i}", feeds[i % n_feeds].id, now - 7 * 86400 * (1 - i / n_entries), title,
                                       f"{title}: the story everyone is talking about", f"https://news.example/{i}",
                                       f"https://news.example/{i}", None, "", fates, f"k{i - i % 3}"))
        store.remember_recent(entries)
        fetcher = Fetcher(settings.fetch)
        engine = Engine(settings, store, fetcher, {})
        tune_process()  # as `tipoff run` does, with the heap settled as after its first cycle
        gc.collect()
        gc.freeze()
        commands = Commands(settings, store, engine, fetcher)
        secret = b"bench-secret-bench-secret-bench!"
        spent: dict[str, list[float]] = {}

        @web.middleware
        async def timed(request: web.Request, handler):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return await handler(request)
            finally:
                spent.setdefault(request.path, []).append(time.perf_counter() - start)

        server = WebServer("127.0.0.1", 0, engine, store,
                           dashboard=Dashboard(replace(settings, http=HttpSettings(("127.0.0.1", 0))), engine, store,
                                               commands, secret))
        server.app.middlewares.append(timed)
        await server.start()
        base = f"http://127.0.0.1:{server.port}"
        rules = [f'"{rnd.choice(names)}"', f"{rnd.choice(WORDS)} AND {rnd.choice(WORDS)}",
                 f'{rnd.choice(names).split()[-1]} -{rnd.choice(WORDS)}']
        results = {}
        for scope, label in ((access.OPERATOR, "operator"), (chat, "chat")):
            spent.clear()
            cookie = access.issue(secret, "session", scope, time.time(), 3600)
            paths = ["/", "/feeds", "/watches", "/alerts", "/alerts?q=tour", f"/why?url=https://news.example/{n_entries // 2}"]
            paths += [f"/api/test?rule={r}" for r in rules]
            async with aiohttp.ClientSession(cookies={COOKIE: cookie}) as http:
                for path in paths:
                    for _ in range(requests):
                        async with http.get(base + path) as resp:
                            await resp.read()
                            assert resp.status == 200, (path, resp.status)
            for path, times in spent.items():
                key = f"{label} {path}"
                results[key] = times
        await server.close()
        print(f"{n_feeds:,} feeds, {n_watches:,} watches, {n_entries:,} recent entries, {requests} requests a page")
        print(f"{'page':<44} {'median ms':>10} {'p95 ms':>8}")
        worst = 0.0
        for key, times in sorted(results.items()):
            p95 = statistics.quantiles(times, n=20)[-1] * 1000 if len(times) >= 2 else times[0] * 1000
            worst = max(worst, p95)
            print(f"{key[:44]:<44} {statistics.median(times) * 1000:>10.1f} {p95:>8.1f}")
        print(f"worst p95 ms: {worst:.0f}")

        # the tester against a simple implementation: a regex per term over every entry
        rule_words = rules[1].split(" AND ")
        patterns = [re.compile(rf"\b{re.escape(w)}\b", re.IGNORECASE) for w in rule_words]
        recent = await store.recent_entries(0)
        start = time.perf_counter()
        baseline_hits = sum(1 for e in recent if all(p.search(f"{e.title} {e.summary}") for p in patterns))
        baseline = time.perf_counter() - start
        ours = statistics.median(results["chat /api/test"]) if "chat /api/test" in results else float("nan")
        print(f"tester: {ours * 1000:.1f} ms a rule (median); baseline: {baseline * 1000:.1f} ms "
              f"({baseline_hits} matches)")
        print(f"peak rss MB: {peak_rss_mb():.0f}")
        print(f"speedup vs baseline: {baseline / ours:.1f}x")
        await fetcher.close()
        await store.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--watches", type=int, default=1_000)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=30)
    a = ap.parse_args()
    asyncio.run(main(a.feeds, a.watches, a.entries, a.requests))
