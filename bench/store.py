"""Seen-store benchmark: tipoff's TinyDB store against TinyDB used the way feed bots
usually use it (default JSONStorage, one document per seen key, Query lookups, one
insert per new key), both in this process, at 10k and 100k keys.

For each: one poll cycle's write (500 new keys across 50 feeds, plus their feed
states), lookups per second, and peak memory while loading and doing one lookup.
Run: python bench/store.py [--sizes 10000,100000] [--cycle 500]"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
import tracemalloc
from pathlib import Path

from _common import best_of


def key(i: int) -> str:
    return f"u{i:032x}"


def peak_memory(build):
    """(result, peak MB traced while building it and doing one lookup)."""
    gc.collect()
    tracemalloc.start()
    obj = build()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return obj, peak / 1e6


def baseline(n: int, cycle: int, folder: Path) -> dict[str, float]:
    from tinydb import Query, TinyDB

    path = folder / "baseline.json"
    db = TinyDB(path)
    db.table("seen").insert_multiple({"key": key(i), "feed": f"f{i % 1000}", "ts": 1} for i in range(n))
    db.close()
    q = Query()

    def open_and_look_up() -> TinyDB:
        opened = TinyDB(path)
        opened.table("seen").contains(q.key == key(0))  # default TinyDB reads the file per operation
        return opened

    db, mem = peak_memory(open_and_look_up)
    table = db.table("seen")
    sample = 20  # each insert rewrites the whole file: time a few, scale to the cycle
    start = time.perf_counter()
    for i in range(sample):
        table.insert({"key": key(n + i), "feed": "f0", "ts": 2})
    per_insert = (time.perf_counter() - start) / sample
    lookups = 50
    start = time.perf_counter()
    for i in range(lookups):
        table.contains(q.key == key(i * 7919 % n))
    per_lookup = (time.perf_counter() - start) / lookups
    db.close()
    return {"write": per_insert * cycle, "lookups": 1 / per_lookup, "memory": mem}


def tipoff(n: int, cycle: int, folder: Path) -> dict[str, float]:
    from bot.store.base import FeedState
    from bot.store.tinydb import TinyDBStore

    async def build() -> None:
        store = TinyDBStore(folder)
        await store.open()
        feeds = max(n // 100, 1)
        for f in range(feeds):
            store.put_feed_state(FeedState(f"f{f}", f"https://feeds.example/{f}", polls=1))
            store.remember_entries(f"f{f}", [key(i) for i in range(f, n, feeds)][:50], 1.0)
        store.claim_story("fans", [key(i) for i in range(n)], 1.0)
        await store.close()

    asyncio.run(build())

    async def load():
        store = TinyDBStore(folder)
        await store.open()
        return store

    def load_and_look_up():
        opened = asyncio.run(load())
        opened.claim_story("fans", [key(0)], 3.0)
        return opened

    store, mem = peak_memory(load_and_look_up)

    counter = iter(range(10**9))

    def one_cycle() -> None:
        base = n + next(counter) * cycle
        for f in range(50):
            store.put_feed_state(FeedState(f"f{f}", f"https://feeds.example/{f}", polls=2))
            store.remember_entries(f"f{f}", [key(base + f * (cycle // 50) + j) for j in range(cycle // 50)], 2.0)
        store.claim_story("fans", [key(base + j) for j in range(cycle)], 2.0)
        asyncio.run(store.flush())

    write = best_of(3, one_cycle)
    lookups = 100_000
    start = time.perf_counter()
    for i in range(lookups):
        store.claim_story("fans", [key(i * 7919 % n)], 3.0)  # all repeats: a pure lookup
    per_lookup = (time.perf_counter() - start) / lookups
    return {"write": write, "lookups": 1 / per_lookup, "memory": mem}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--cycle", type=int, default=500, help="new keys written per poll cycle")
    args = ap.parse_args()
    print(f"{'keys':>8} {'store':<16} {'cycle write':>12} {'lookups/s':>12} {'peak MB':>10}")
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            base = baseline(n, args.cycle, Path(a))
            ours = tipoff(n, args.cycle, Path(b))
        for name, r in (("tinydb default", base), ("tipoff", ours)):
            print(f"{n:>8} {name:<16} {r['write'] * 1000:>10.1f}ms {r['lookups']:>12,.0f} {r['memory']:>10.1f}")
        print(f"{n:>8} {'ratio':<16} {base['write'] / ours['write']:>11.1f}x {ours['lookups'] / base['lookups']:>11.0f}x"
              f" {ours['memory'] / base['memory']:>9.2f}x")


if __name__ == "__main__":
    main()
