"""Running counts of what tipoff did, as plain numbers the engine and the delivery
workers bump; bot/web.py exposes them in Prometheus format. No I/O here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

CYCLE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass
class Stats:
    polls: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # by FeedError kind
    entries_parsed: int = 0
    entries_reused: int = 0  # not read again: byte for byte in the feed's last body
    hits: int = 0  # alerts queued
    sent: Counter[str] = field(default_factory=Counter)  # alerts accepted, by platform
    updated: Counter[str] = field(default_factory=Counter)  # alerts edited as their story grew, by platform
    cycle_counts: list[int] = field(default_factory=lambda: [0] * (len(CYCLE_BUCKETS) + 1))
    cycle_sum: float = 0.0
    started_at: float = 0.0  # the loop began polling (0: not running)
    alive_at: float = 0.0  # the loop last went round (or a poll cycle made progress)
    goes_round_every: float = 60.0  # the loop goes round at least this often while it runs

    def observe_cycle(self, seconds: float) -> None:
        i = next((i for i, bound in enumerate(CYCLE_BUCKETS) if seconds <= bound), len(CYCLE_BUCKETS))
        self.cycle_counts[i] += 1
        self.cycle_sum += seconds

    def cumulative_buckets(self) -> list[tuple[str, int]]:
        """(upper bound, count of cycles at or below it), Prometheus style."""
        out, total = [], 0
        for bound, n in zip((*(str(b) for b in CYCLE_BUCKETS), "+Inf"), self.cycle_counts):
            total += n
            out.append((bound, total))
        return out
