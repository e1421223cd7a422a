"""Story keys and the "is this new?" decisions. Pure functions over plain data.

Two questions, two scopes:
- Is an entry new *in its feed*? (`fresh_entries`) Only entries never seen in the feed
  are matched at all, so a re-ordered, removed-and-re-added or edited entry never
  re-alerts, a first poll announces at most `backfill` entries, and a watch only fires
  on entries first seen after it existed.
- Is a story new *for a destination*? (`is_repeat`) A story is a repeat when any of its
  keys was announced there: its id within its feed, its canonical URL, or (for a
  window of days) its normalised headline, so a syndicated copy alerts once.

Keys are 128-bit BLAKE2b digests written as hex, prefixed with their kind."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Collection, Iterable, Mapping, Sequence

from bot.model import Entry
from bot.rules.normalise import words

TITLE_WINDOW = timedelta(days=3)
MIN_TITLE_WORDS = 3  # shorter headlines ("Live updates") are too generic to merge stories on


def _digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def entry_key(entry: Entry) -> str:
    """The entry's identity within its feed."""
    return key_of(entry.feed_id, entry.id)


def key_of(feed_id: str, entry_id: str) -> str:
    """entry_key of an entry known only by its feed and id (before it is normalised)."""
    return _digest(feed_id, entry_id)


# Words that syndicating sites add, drop or spell as symbols ("and" / "&").
_CONNECTIVES = frozenset({"a", "an", "and", "the", "of", "to", "in", "on", "at", "for", "with", "by"})


def title_fingerprint(title: str) -> str | None:
    """The headline as folded words without connectives; None when too short to be
    specific (fewer than MIN_TITLE_WORDS words that carry meaning)."""
    ws = [w for w in words(title) if w not in _CONNECTIVES]
    return " ".join(ws) if len(ws) >= MIN_TITLE_WORDS else None


def story_keys(entry: Entry) -> tuple[str, ...]:
    keys = ["i" + entry_key(entry)]
    if entry.url:
        keys.append("u" + _digest(entry.url))
    fp = title_fingerprint(entry.title)
    if fp:
        keys.append("t" + _digest(fp))
    return tuple(keys)


def is_title_key(key: str) -> bool:
    """Keys that count only within the story window: a headline's fingerprint ("t") and
    its story thread ("s": the alert a rewording of the story belongs to)."""
    return key.startswith(("t", "s"))


def thread_key(thread: str) -> str:
    """The story key of an entry's thread (bot/stories): one alert per thread."""
    return "s" + _digest(thread)


def is_repeat(keys: Iterable[str], announced: Mapping[str, float], now: datetime,
              window: timedelta = TITLE_WINDOW) -> bool:
    """True when any key was announced for this destination (headline and story-thread
    keys only count within the story window). `announced` maps key → POSIX time of the
    announcement."""
    title_cutoff = (now - window).timestamp()
    for key in keys:
        when = announced.get(key)
        if when is None:
            continue
        if not is_title_key(key) or when >= title_cutoff:
            return True
    return False


@dataclass(frozen=True, slots=True)
class FreshEntries:
    fresh: tuple[Entry, ...]  # entries to match, newest last
    present: tuple[str, ...]  # entry keys of everything the feed carries now
    too_old: int  # new entries skipped because they were published before max_age
    old: tuple[Entry, ...] = ()  # those entries (what /why says of them)


def _newest_first(entries: Sequence[Entry]) -> list[Entry]:
    """Entries by date, newest first; undated entries keep feed order (feeds list newest first)."""
    indexed = list(enumerate(entries))
    dated = [(i, e) for i, e in indexed if (e.published or e.updated)]
    if len(dated) < len(indexed):
        return list(entries)
    dated.sort(key=lambda ie: (ie[1].published or ie[1].updated, -ie[0]), reverse=True)
    return [e for _, e in dated]


def fresh_entries(
    entries: Sequence[Entry],
    known: Collection[str],
    *,
    first_poll: bool,
    backfill: int,
    now: datetime,
    max_age: timedelta,
) -> FreshEntries:
    keys = [entry_key(e) for e in entries]
    present = tuple(dict.fromkeys(keys))
    seen_now: set[str] = set()
    new: list[Entry] = []
    for key, entry in zip(keys, entries):
        if key in known or key in seen_now:
            continue
        seen_now.add(key)
        new.append(entry)
    if first_poll:
        allowed = {id(e) for e in _newest_first(new)[: max(backfill, 0)]}
        new = [e for e in new if id(e) in allowed]
    cutoff = now - max_age
    recent = [e for e in new if (e.published or e.updated or now) >= cutoff]
    recent = _newest_first(recent)[::-1]  # announce oldest first, as the story unfolded
    kept = {id(e) for e in recent}
    old = tuple(e for e in new if id(e) not in kept) if not first_poll else ()
    return FreshEntries(tuple(recent), present, len(new) - len(recent), old)
