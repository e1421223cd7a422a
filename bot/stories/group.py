"""Entries grouped into stories, in the order the stories broke: what `tipoff stories`
and `/test` show of what tipoff considers one story. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable
from urllib.parse import parse_qsl, urlsplit

from bot.model import Entry, ParsedFeed
from bot.stories.headline import read_headline, site_names
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
        target = dict(parse_qsl(parts.query)).get("url") or dict(parse_qsl(parts.query)).get("q") or ""
        if host := urlsplit(target).hostname:
            return host.removeprefix("www.")
    return feed_title or (urlsplit(feed_url).hostname or "").removeprefix("www.")


def group_entries(feeds: Iterable[tuple[ParsedFeed, str]], window: float = 3 * 86400.0) -> list[StoryGroup]:
    """Every entry of the feeds (each with the address it came from), filed into
    stories oldest first (undated entries in feed order, after the dated ones)."""
    dated: list[tuple[float, int, Entry, str, tuple[str, ...]]] = []
    order = 0
    for parsed, url in feeds:
        sites = site_names(parsed.title, parsed.link or url)
        for entry in parsed.entries:
            when = entry.published or entry.updated
            stamp = when.timestamp() if when else float("inf")
            outlet = outlet_of(entry, parsed.title, url)
            dated.append((stamp, order, entry, outlet, sites))
            order += 1
    dated.sort(key=lambda d: (d[0], d[1]))
    newest = max((d[0] for d in dated if d[0] != float("inf")), default=datetime.now(timezone.utc).timestamp())
    index = StoryIndex(window)
    members: dict[str, list[Member]] = {}
    for stamp, n, entry, outlet, sites in dated:
        key = f"{entry.feed_id}:{entry.id}:{n}"
        profile = read_headline(entry.title, entry.summary, source=entry.source, sites=sites, link=entry.link)
        placed = index.add(key, profile, stamp if stamp != float("inf") else newest, outlet)
        why = placed.comparison.why if placed.comparison else ""
        members.setdefault(placed.story.id, []).append(Member(entry, outlet, placed.verdict, why))
    return [StoryGroup(story_id, tuple(ms)) for story_id, ms in members.items()]
