"""Entries grouped into stories, in the order the stories broke: what `tipoff stories`
and `/test` show of what tipoff considers one story. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable
from urllib.parse import parse_qsl, urlsplit

from bot.model import Entry, ParsedFeed, Reported
from bot.stories.headline import SUMMARY_WORDS, Headline, read_headline, site_names
from bot.stories.index import StoryIndex


@dataclass(frozen=True, slots=True)
class Member:
    entry: Entry
    outlet: str  # who reported it: the aggregator's named source, else the feed, else the host
    verdict: str  # "new" (it broke the story), "copy", "development"
    why: str  # why it joined the story ("" for the first)


@dataclass(frozen=True, slots=True)
class StoryGroup:
    id: str
    members: tuple[Member, ...]

    @property
    def headline(self) -> str:
        return self.members[0].entry.title

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.outlet for m in self.members if m.outlet))


def outlet_of(entry: Entry, feed_title: str, feed_url: str) -> str:
    """The aggregator's named source, else the publisher a redirecting link leads to
    (Google Alerts' google.com/url?url=...), else the feed's title, else its host."""
    if entry.source:
        return entry.source
    parts = urlsplit(entry.link or "")
    if parts.path == "/url" and (parts.hostname or "").endswith("google.com"):
        query = dict(parse_qsl(parts.query))
        target = query.get("url") or query.get("q") or ""
        if host := urlsplit(target).hostname:
            return host.removeprefix("www.")
    return feed_title or (urlsplit(feed_url).hostname or "").removeprefix("www.")


def report_of(entry: Entry, key: str, feed_title: str, feed_link: str, seen_at: float) -> Reported:
    """What the story index reads of an entry, as the store keeps it: read again with
    headline_of after a restart (or on another worker), it gives the same profile."""
    return Reported(key, seen_at, entry.title, " ".join(entry.summary.split()[:SUMMARY_WORDS]), entry.source,
                    entry.link, outlet_of(entry, feed_title, feed_link), site_names(feed_title, feed_link))


def headline_of(reported: Reported) -> Headline:
    return read_headline(reported.title, reported.summary, source=reported.source, sites=reported.sites,
                         link=reported.link)


def group_entries(feeds: Iterable[tuple[ParsedFeed, str]], window: float = 3 * 86400.0) -> list[StoryGroup]:
    """Every entry of the feeds (each with the address it came from), filed into
    stories oldest first (undated entries in feed order, after the dated ones)."""
    dated: list[tuple[float, int, Entry, Reported]] = []
    for parsed, url in feeds:
        for entry in parsed.entries:
            when = entry.published or entry.updated
            stamp = when.timestamp() if when else float("inf")
            n = len(dated)
            dated.append((stamp, n, entry, report_of(entry, f"{entry.feed_id}:{entry.id}:{n}", parsed.title,
                                                     parsed.link or url, stamp)))
    dated.sort(key=lambda d: (d[0], d[1]))
    newest = max((d[0] for d in dated if d[0] != float("inf")), default=datetime.now(timezone.utc).timestamp())
    index = StoryIndex(window)
    members: dict[str, list[Member]] = {}
    for stamp, _, entry, reported in dated:
        placed = index.add(reported.key, headline_of(reported), stamp if stamp != float("inf") else newest,
                           reported.outlet)
        why = placed.comparison.why if placed.comparison else ""
        members.setdefault(placed.story.id, []).append(Member(entry, reported.outlet, placed.verdict, why))
    return [StoryGroup(story_id, tuple(ms)) for story_id, ms in members.items()]
