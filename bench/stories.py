"""Story lookups at scale: N recent stories in the index (default 100,000 generated
headlines: artists, places, numbers and music words, each story told by one to three
outlets), then lookups of headlines that are rewordings of indexed ones and of new ones.
The baseline, in the same run, compares a headline with every recent story (what an
index avoids); it is timed on a sample. Prints lookups/s, the index's memory, and ends
with `speedup vs baseline: X.Xx`.

Run: python bench/stories.py [--stories 100000] [--lookups 5000]"""

from __future__ import annotations

import argparse
import gc
import random
import time

from _common import ROOT  # noqa: F401  (puts the project on the path)
from match import WORDS, artists

PLACES = ["Paris", "Tokyo", "Berlin", "Lagos", "Lima", "Oslo", "Seoul", "Austin", "Leeds", "Porto", "Cairo", "Perth"]
VERBS = ["announce", "tease", "plan", "record", "preview", "discuss", "book", "film", "rehearse", "schedule"]
FILLER = ["sources say", "report says", "fans react", "what we know", "in pictures", "officially", "this week"]


def headline(rng: random.Random, names: list[str]) -> tuple[str, str]:
    """A story and one rewording of it (another outlet's headline)."""
    a, b = rng.sample(names, 2)
    word, place, verb = rng.choice(WORDS), rng.choice(PLACES), rng.choice(VERBS)
    n = rng.randint(2, 90)
    first = f"{a} and {b} {verb} {word} in {place} with {n} dates, {rng.choice(FILLER)}"
    other = f"{b}, {a} to {verb} {n}-date {word} in {place}"
    return first, other


def _rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stories", type=int, default=100_000)
    ap.add_argument("--lookups", type=int, default=5_000)
    args = ap.parse_args()

    from bot.stories.compare import compare, idf_weight
    from bot.stories.headline import read_headline
    from bot.stories.index import StoryIndex

    rng = random.Random(5)
    names = artists(rng, 20_000)
    pairs = [headline(rng, names) for _ in range(args.stories)]
    profiles = [read_headline(first) for first, _ in pairs]
    gc.collect()
    before = _rss_now()
    index = StoryIndex(window=10**9)
    start = time.perf_counter()
    for i, profile in enumerate(profiles):
        index.add(f"s{i}", profile, float(i))
    built = time.perf_counter() - start
    gc.collect()
    memory = (_rss_now() - before) / 2**20  # the index (its headlines' profiles are held by the list too)

    probes = [read_headline(pairs[rng.randrange(len(pairs))][1]) if i % 2 else read_headline(headline(rng, names)[0])
              for i in range(args.lookups)]
    now = float(len(pairs))
    start = time.perf_counter()
    found = sum(index.find(p, now) is not None for p in probes)
    ours = len(probes) / (time.perf_counter() - start)

    stored = profiles
    weight = idf_weight(index._df.__getitem__, len(index))
    sample = probes[:max(20, args.lookups // 250)]
    start = time.perf_counter()
    for p in sample:
        for h in stored:
            compare(h, p, weight)
    theirs = len(sample) / (time.perf_counter() - start)

    print(f"index: {len(index):,} headlines, built in {built:.1f} s; its memory {memory:.0f} MB beside the "
          f"profiles ({memory * 2**20 / len(index):.0f} bytes a headline)")
    print(f"lookups: {ours:,.0f}/s ({found:,} of {len(probes):,} found a story; half are rewordings)")
    print(f"baseline (compare with every story): {theirs:,.1f} lookups/s (timed on {len(sample)})")
    print(f"speedup vs baseline: {ours / theirs:.1f}x")


if __name__ == "__main__":
    main()
