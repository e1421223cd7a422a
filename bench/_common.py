"""Helpers shared by the benchmarks: locating the corpus, timing, memory."""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))


def corpus_files(sub: str = "real") -> list[Path]:
    folder = CORPUS / sub
    if not folder.is_dir():
        sys.exit(f"bench: the feed corpus is missing at {folder} (it lives beside the project as ../shared)")
    return sorted(p for p in folder.rglob("*") if p.is_file())


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """The fastest of several runs: the least disturbed by a shared, noisy machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def best_of_each(repeats: int, *fns: Callable[[], object]) -> list[float]:
    """best_of for several functions whose times are compared, run in turn (a, b, a, b,
    ...): a slow spell of the machine then falls on all of them, not on one."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
