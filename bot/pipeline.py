"""The decisions of the data path, as plain functions over plain records: what a poll's
result means for its feed (the state to write, the entries new in it), which watches a
new entry fires for which destination, and what each destination is to be sent. The
engine (bot/engine.py) does the I/O around them: fetching, the store, delivery. Pure."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Mapping

from bot import controls, dedupe
from bot.config import PollSettings, WebSubSettings
from bot.feeds.errors import FeedError
from bot.feeds.fetch import FetchResult
from bot.feeds.schedule import (
    next_poll_after_failure,
    next_poll_after_success,
    observed_gap,
    poll_interval,
    polled_interval,
)
from bot.model import (RECENT_SUMMARY, Alert, DestinationName, Entry, Fate, Feed, FiredWatch, Match, ParsedFeed,
                       RecentEntry, Source, Watch, WatchId)
from bot.store.base import DestinationState, FeedState


@dataclass(frozen=True, slots=True)
class Absorbed:
    """What one poll of a feed decided, before anything is written."""

    state: FeedState  # the feed's state to write, its next poll scheduled
    fresh: tuple[Entry, ...] = ()  # entries new in the feed, oldest first: to match
    present: tuple[str, ...] = ()  # keys of every entry in the body: remembered as known
    changed: bool = False  # a new body was parsed
    stopped: str | None = None  # why polling stops now (410, failing too long), to tell its chats
    old: tuple[Entry, ...] = ()  # entries new in the feed but published before [poll] max_age: not announced


@dataclass(frozen=True, slots=True)
class Planned:
    """An alert one destination is to get (once its story is claimed there)."""

    destination: DestinationName
    alert: Alert
    hold: controls.Hold  # until when it waits (a digest, quiet hours), and why


def schedule(feed: Feed, state: FeedState, now: float, poll: PollSettings, rng: random.Random,
             push: WebSubSettings | None = None) -> FeedState:
    """The state with its next poll after a success: the feed's interval, adapted to how
    often it changes, bounded by what the server asked, long while WebSub pushes it."""
    return replace(state, next_due=_next_due(feed, state, state.gap, state.lower_bound, now, poll, rng, push))


def _next_due(feed: Feed, state: FeedState, gap: float | None, bound: float | None, now: float, poll: PollSettings,
              rng: random.Random, push: WebSubSettings | None) -> float:
    interval = poll_interval(feed, gap, bound, poll)
    if push is not None:
        interval = polled_interval(interval, state, now, push)
    return next_poll_after_success(feed, now, poll, rng, interval)


def absorb_failure(feed: Feed, state: FeedState, error: FeedError, now: float, poll: PollSettings,
                   rng: random.Random) -> Absorbed:
    """A failed poll: back off (honouring Retry-After); stop for good on 410 Gone or after
    failing for `[poll] pause_after`. A host that asked to slow down (or tipoff's budget
    for it) is no failure of the feed: it is polled again when the host allows."""
    if error.kind in ("throttled", "paced"):
        wait = error.retry_after or poll.every
        return Absorbed(replace(state, last_polled=now, last_error=error.message, error_kind=error.kind,
                                next_due=now + wait))
    failures = state.failures + 1
    since = state.failing_since or now
    state = replace(state, last_polled=now, failures=failures, last_error=error.message, error_kind=error.kind,
                    failing_since=since, next_due=next_poll_after_failure(feed, failures, now, poll, rng,
                                                                          error.retry_after))
    stopped = None
    if error.kind == "gone":
        stopped = "the server says it is gone for good (HTTP 410)"
    elif now - since >= poll.pause_after:
        stopped = f"it has failed for {_hours(now - since)}"
    return Absorbed(replace(state, stopped=stopped) if stopped else state, stopped=stopped)


def absorb(feed: Feed, state: FeedState, fetched: FetchResult, parsed: ParsedFeed | None,
           known: Mapping[str, float] | frozenset[str], now: float, poll: PollSettings, rng: random.Random,
           push: WebSubSettings | None = None) -> Absorbed:
    """A successful poll: the state to write (validators, cache bounds, a move, the next
    poll) and, for a parsed body, the entries new in the feed. The new state is built
    once (this runs for every feed every cycle, most of them answering 304)."""
    ttl = parsed.ttl if parsed is not None else None
    bound = max(fetched.max_age or 0.0, ttl or 0.0) or (state.lower_bound if parsed is None else None)
    changes = dict(
        last_polled=now, last_ok=now, failures=0, last_error=None, error_kind=None, failing_since=None,
        lower_bound=bound, polls=state.polls + 1,
        etag=fetched.etag or (state.etag if fetched.not_modified else None),
        last_modified=fetched.last_modified or (state.last_modified if fetched.not_modified else None),
    )
    if fetched.permanent_url and fetched.permanent_url != state.moved_to:
        changes["moved_to"] = fetched.permanent_url
    if parsed is None:  # not modified, or the same body again
        changes["next_due"] = _next_due(feed, state, state.gap, bound, now, poll, rng, push)
        return Absorbed(replace(state, **changes))  # type: ignore[arg-type]
    fresh = dedupe.fresh_entries(parsed.entries, known, first_poll=state.polls == 0, backfill=feed.backfill,
                                 now=datetime.fromtimestamp(now, timezone.utc),
                                 max_age=timedelta(seconds=poll.max_age))
    gap = state.gap
    if fresh.fresh and state.polls > 0:
        gap = changes["gap"] = observed_gap(state.gap, state.last_new, now)
        changes["last_new"] = now
    elif state.last_new is None:
        changes["last_new"] = now
    changes.update(body_hash=fetched.body_hash, last_changed=float(int(now)), title=parsed.title or state.title,
                   next_due=_next_due(feed, state, gap, bound, now, poll, rng, push))
    present = fresh.present + parsed.known_keys  # entries the parse left out as known are present too
    return Absorbed(replace(state, **changes), fresh.fresh, present, changed=True,  # type: ignore[arg-type]
                    old=fresh.old)


def fired_watches(matches: Iterable[Match], watches: Mapping[WatchId, Watch], applies: Callable[[Watch], bool],
                  now: float) -> dict[DestinationName, list[FiredWatch]]:
    """Which destinations an entry's matches alert, with the watches that fired for each:
    only watches that apply to the entry's feed and are not snoozed."""
    fired: dict[DestinationName, list[FiredWatch]] = {}
    for match in matches:
        watch = watches.get(match.watch_id)
        if watch is None or not applies(watch) or watch.snoozed_until > now:
            continue
        for dest in watch.notify:
            fired.setdefault(dest, []).append(fired_watch(match, watch, dest))
    return fired


def spread_enough(fired: Mapping[DestinationName, list[FiredWatch]], watches: Mapping[WatchId, Watch],
                  outlets: Callable[[float], int]) -> dict[DestinationName, list[FiredWatch]]:
    """Only the watches whose story has spread as far as they ask (`min_sources`
    outlets within `within`; `outlets(seconds)` counts them); a destination left with
    none is told nothing yet: a later report of the story may reach the threshold."""
    out: dict[DestinationName, list[FiredWatch]] = {}
    for dest, fired_here in fired.items():
        kept = [f for f in fired_here if (w := watches.get(f.watch_id)) is None or w.min_sources <= 1
                or outlets(w.within or controls.SPREAD_WITHIN) >= w.min_sources]
        if kept:
            out[dest] = kept
    return out


TOO_OLD = Fate("", "too old")  # the fate of an entry new in its feed but published before [poll] max_age


def snoozed(matches: Iterable[Match], watches: Mapping[WatchId, Watch], now: float) -> list[Fate]:
    """The destinations a match would have alerted but for its watch's snooze."""
    return [Fate(dest, "snoozed", str(watch.id)) for m in matches
            if (watch := watches.get(m.watch_id)) is not None and watch.snoozed_until > now for dest in watch.notify]


def unsent_fates(fired: Mapping[DestinationName, list[FiredWatch]], spread: Iterable[DestinationName],
                 planned: set[DestinationName], settings: Mapping[DestinationName, DestinationState],
                 thread: str) -> list[Fate]:
    """What became of an entry for the destinations it fired for but did not alert:
    its story had not spread far enough yet, or the chat is paused or gone."""
    spread = set(spread)
    return ([Fate(dest, "spreading", thread, tuple(f.watch_id for f in fired[dest])) for dest in fired
             if dest not in spread]
            + [Fate(d, "paused" if settings[d].active else "gone", settings[d].reason or "") for d in fired
               if d in spread and d not in planned])


def recent_of(entry: Entry, now: float, fates: list[Fate], story: str = "") -> RecentEntry:
    """A new entry as the recent-entries store keeps it."""
    when = entry.published or entry.updated
    return RecentEntry(dedupe.entry_key(entry), entry.feed_id, now, entry.title,
                       " ".join((entry.summary or entry.content).split())[:RECENT_SUMMARY], entry.link, entry.url,
                       when.timestamp() if when else None, entry.source, tuple(fates), story)


def fired_watch(match: Match, watch: Watch, destination: DestinationName | None = None) -> FiredWatch:
    """What an alert says of a watch that fired: its rule, label and mention, the terms
    and where they matched, and whether the destination owns it (its buttons apply)."""
    spans = tuple((h.field, h.start, h.end) for h in match.hits)
    return FiredWatch(watch.id, watch.rule, match.terms, watch.label, spans, watch.mention,
                      owned=destination is not None and watch.owner == destination)


@dataclass(frozen=True, slots=True)
class StoryOf:
    """The story an entry tells (bot/stories): its thread, announced once per
    destination, who reported this entry, and who else reported the thread so far."""

    thread: str
    source: Source | None = None
    also: tuple[Source, ...] = ()


def plan(entry: Entry, feed: Feed, feed_title: str, fired: Mapping[DestinationName, list[FiredWatch]],
         settings: Mapping[DestinationName, DestinationState], watches: Mapping[WatchId, Watch],
         now: float, story: StoryOf | None = None) -> list[Planned]:
    """The alert each destination is to get for a new entry: none where the destination
    is gone or paused; held for its digest or quiet hours where those apply."""
    thread = story.thread if story else ""
    keys = dedupe.story_keys(entry) + ((dedupe.thread_key(thread),) if thread else ())
    created = datetime.fromtimestamp(now, timezone.utc)
    out = []
    for dest, fired_here in fired.items():
        state = settings.get(dest) or DestinationState(dest)
        if not state.active or state.paused:
            continue
        alert = Alert(id=f"{dest}:{dedupe.entry_key(entry)}", destination=dest, entry=entry, feed_title=feed_title,
                      feed_url=feed.url, watches=tuple(fired_here), created_at=created, story_keys=keys,
                      story=thread, source=story.source if story else None, also=story.also if story else ())
        digests = [w.digest for f in fired_here if (w := watches.get(f.watch_id)) is not None]
        out.append(Planned(dest, alert, hold_for(state, digests, now)))
    return out


def hold_for(state: DestinationState, digests: list[str], now: float) -> controls.Hold:
    """Until when an alert to this destination waits (0: not at all); a setting an
    older version stored that no longer parses means no hold."""
    try:
        return controls.release(now, state.digest, digests, state.quiet)
    except controls.ControlError:
        return controls.Hold(0.0, "")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.0f} hours" if seconds >= 7200 else f"{seconds / 60:.0f} minutes"
