"""The engine's story desk: the story index (bot/stories) filled from the store before
each cycle (after a restart, and what other workers filed), each entry that fires a
watch filed under its story and kept in the store, and who has reported each story so
far. The decisions are bot/stories'; this module does their I/O with the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from bot.dedupe import entry_key
from bot.model import Entry, Feed, Source
from bot.stories.coverage import outlets_within, unnamed_outlets
from bot.stories.group import headline_of, report_of
from bot.stories.index import StoryIndex
from bot.store.base import Store, StoreError

log = logging.getLogger("tipoff.stories")

LATE_WRITES = 60.0  # the index reads back this far before what it last read: other workers' writes land late


@dataclass(frozen=True, slots=True)
class Filed:
    """Where an entry that fired a watch went: the story thread whose alert it belongs
    to (its own when it breaks a story or adds a fact), and who reported that thread."""

    thread: str
    verdict: str  # "new", "copy", "development"
    source: Source  # who reported this entry
    reports: tuple[tuple[Source, float], ...] = ()  # who reported the thread and when, this entry included

    def also(self) -> tuple[Source, ...]:
        """The other outlets that reported the thread, once each, first first."""
        return unnamed_outlets((source for source, _ in self.reports), (self.source,))

    def outlets_within(self, now: float, within: float) -> tuple[Source, ...]:
        """The outlets that reported the thread in the last `within` seconds."""
        return outlets_within(self.reports, now, within)


class StoryDesk:
    def __init__(self, store: Store, window: float, clock: Callable[[], float]) -> None:
        self.store = store
        self.window = window
        self.clock = clock
        self.index = StoryIndex(window)
        self._read_to: float | None = None

    async def read(self) -> None:
        """Headlines that fired a watch since the index last looked (all of the window
        after a start), into the index; a store away now is asked again next cycle."""
        since = self.clock() - self.window
        if self._read_to is not None:
            since = max(since, self._read_to - LATE_WRITES)
        try:
            reported = await self.store.recent_headlines(since)
        except StoreError as exc:
            log.warning("stories: cannot read recent headlines (%s); grouping with what this worker saw", exc)
            return
        for r in reported:
            if r.key not in self.index:  # this worker filed it itself
                self.index.add(r.key, headline_of(r), r.seen_at, r.outlet, r.link)
        self._read_to = max([self._read_to or since, *(r.seen_at for r in reported)])

    def file(self, entry: Entry, feed: Feed, feed_title: str, now: float) -> Filed:
        """File a new entry that fired a watch under its story, and keep it in the store."""
        reported = report_of(entry, entry_key(entry), feed_title, feed.url, now)
        placed = self.index.add(reported.key, headline_of(reported), now, reported.outlet, reported.link)
        self.store.remember_headline(reported, now - self.window)
        if placed.verdict == "copy":
            log.info("story: %r rewords %s (%s)", entry.title[:80], placed.closest,
                     placed.comparison.why if placed.comparison else "the same headline")
        source = Source(reported.outlet, entry.title, entry.link or entry.url)
        return Filed(placed.thread, placed.verdict, source, tuple(self.index.reports(reported.key)))
