"""When each feed is due. Pure: times are POSIX seconds, randomness is passed in.

A feed is polled every `every` seconds with ±jitter so that feeds added together do
not stay in lockstep; after errors the interval grows exponentially (with the same
jitter) up to `max_backoff`, and a server's Retry-After is honoured as a floor."""

from __future__ import annotations

import random
from typing import Iterable, Mapping

from bot.config import PollSettings, WebSubSettings
from bot.model import Feed, FeedId
from bot.store.base import FeedState


def jittered(interval: float, jitter: float, rng: random.Random) -> float:
    return interval * (1 + rng.uniform(-jitter, jitter)) if jitter else interval


MAX_LOWER_BOUND = 24 * 3600.0  # a server's max-age or <ttl> is honoured up to a day
GAP_WEIGHT = 0.3  # how fast the observed update gap follows change


def observed_gap(previous: float | None, last_new: float | None, now: float) -> float | None:
    """The smoothed time between polls that found new entries, after one more."""
    if last_new is None:
        return previous
    sample = max(now - last_new, 0.0)
    return sample if previous is None else previous + GAP_WEIGHT * (sample - previous)


def poll_interval(feed: Feed, gap: float | None, lower_bound: float | None, poll: PollSettings) -> float:
    """A feed's interval: its configured one, stretched for feeds that rarely change
    (half their observed update gap, up to max_every) and never shorter than what the
    server or the feed asked for (Cache-Control max-age, RSS <ttl>)."""
    interval = feed.every
    if poll.adaptive and gap is not None:
        interval = min(max(interval, gap / 2), max(poll.max_every, feed.every))
    if lower_bound:
        interval = max(interval, min(lower_bound, MAX_LOWER_BOUND))
    return interval


def next_poll_after_success(feed: Feed, now: float, poll: PollSettings, rng: random.Random,
                            interval: float | None = None) -> float:
    return now + jittered(interval if interval is not None else feed.every, poll.jitter, rng)


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
        if state is not None and state.stopped:
            continue
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
        if state is not None and state.stopped:
            continue
        if state is None or state.next_due is None:
            return now
        earliest = min(earliest, state.next_due)
    return earliest


def push_active(state: FeedState | None, now: float, settings: WebSubSettings) -> bool:
    """True while a verified subscription is live and push has shown life recently."""
    if state is None or not state.push_until or state.push_until <= now:
        return False
    return now - (state.last_push or 0.0) < settings.quiet_after


def polled_interval(interval: float, state: FeedState | None, now: float, settings: WebSubSettings) -> float:
    """A feed's poll interval given its push state: the long safety-net interval while
    push works, the normal one otherwise."""
    return max(interval, settings.poll_every) if push_active(state, now, settings) else interval
