"""When each feed is due. Pure: times are POSIX seconds, randomness is passed in.

A feed is polled every `every` seconds with ±jitter so that feeds added together do
not stay in lockstep; after errors the interval grows exponentially (with the same
jitter) up to `max_backoff`, and a server's Retry-After is honoured as a floor."""

from __future__ import annotations

import random
from typing import Iterable, Mapping

from bot.config import PollSettings
from bot.model import Feed, FeedId
from bot.store.base import FeedState


def jittered(interval: float, jitter: float, rng: random.Random) -> float:
    return interval * (1 + rng.uniform(-jitter, jitter)) if jitter else interval


def next_poll_after_success(feed: Feed, now: float, poll: PollSettings, rng: random.Random) -> float:
    return now + jittered(feed.every, poll.jitter, rng)


def next_poll_after_failure(
    feed: Feed, failures: int, now: float, poll: PollSettings, rng: random.Random, retry_after: float | None = None
) -> float:
    """Exponential backoff: the interval doubles per consecutive failure, capped."""
    backoff = min(feed.every * 2 ** max(failures - 1, 0), max(poll.max_backoff, feed.every))
    delay = jittered(backoff, poll.jitter, rng)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + delay


def due_feeds(feeds: Iterable[Feed], states: Mapping[FeedId, FeedState], now: float) -> list[Feed]:
    """Feeds whose time has come, most overdue first; never-polled feeds first of all."""
    due = []
    for feed in feeds:
        state = states.get(feed.id)
        when = state.next_due if state and state.next_due is not None else None
        if when is None or when <= now:
            due.append((when if when is not None else float("-inf"), feed))
    due.sort(key=lambda wf: wf[0])
    return [f for _, f in due]


def next_wakeup(feeds: Iterable[Feed], states: Mapping[FeedId, FeedState], now: float) -> float:
    """The earliest next_due among the feeds (now, if any was never polled)."""
    earliest = float("inf")
    for feed in feeds:
        state = states.get(feed.id)
        if state is None or state.next_due is None:
            return now
        earliest = min(earliest, state.next_due)
    return earliest
