"""The plain records every stage passes to the next. No behaviour lives here beyond
small derived properties; all of them are immutable and hashable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NewType

FeedId = NewType("FeedId", str)
WatchId = NewType("WatchId", str)
DestinationName = NewType("DestinationName", str)


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed to poll. `trusted` feeds come from the operator (the config file or the
    command line): they may use file: URLs and are exempt from the address policy."""

    id: FeedId
    url: str
    every: float  # seconds between polls
    trusted: bool = False
    title: str = ""
    backfill: int = 0  # how many of the newest entries a first poll may announce


@dataclass(frozen=True, slots=True)
class Entry:
    """One feed item in the single normalised shape: text fields are plain text
    (HTML removed, entities decoded); datetimes are timezone-aware UTC."""

    feed_id: FeedId
    id: str  # stable within its feed: guid, else link, else a hash of its content
    url: str  # canonical link (tracking parameters dropped); "" when it has none
    link: str  # the link as the feed gave it
    title: str
    summary: str = ""
    content: str = ""
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None
    image: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    link: str
    entries: tuple[Entry, ...]
    kind: str  # "rss", "atom", "rdf", "json"
    ttl: float | None = None  # seconds the feed says it may be cached (RSS <ttl>)


@dataclass(frozen=True, slots=True)
class Watch:
    """A rule and where its hits go. Config watches (owner None) apply to config feeds;
    a chat's watches (owner: that chat) apply to its own feeds and to every config feed."""

    id: WatchId
    rule: str
    notify: tuple[DestinationName, ...]
    created_at: datetime
    label: str = ""
    owner: DestinationName | None = None
    mention: str = ""  # a platform role to mention on alerts (Discord role id), set per watch
    group: str = ""  # what limits count across ("discord-guild:123"); "" means the chat itself
    snoozed_until: float = 0.0  # POSIX time; no alerts from this watch before it
    digest: str = ""  # "" (as the chat says), "off" (always at once), or a schedule: "hourly", "daily 09:00"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat's own feed, added with /add."""

    id: str
    destination: DestinationName
    url: str
    every: float
    added_at: datetime
    added_by: str = ""
    group: str = ""  # what limits count across ("discord-guild:123"); "" means the chat itself


@dataclass(frozen=True, slots=True)
class TermHit:
    """One rule term found in one field of an entry, with its span in that field."""

    term: str
    field: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Match:
    watch_id: WatchId
    hits: tuple[TermHit, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(h.term for h in self.hits))


@dataclass(frozen=True, slots=True)
class Destination:
    """Where alerts go: a console, a webhook URL, a Telegram chat, a Discord channel."""

    name: DestinationName
    kind: str  # console | webhook | telegram | discord | discord_webhook
    options: tuple[tuple[str, str | int], ...] = ()

    def option(self, key: str, default: str | int | None = None) -> str | int | None:
        for k, v in self.options:
            if k == key:
                return v
        return default


@dataclass(frozen=True, slots=True)
class FiredWatch:
    """A watch that fired on an alert's entry, with the terms it matched."""

    watch_id: WatchId
    rule: str
    terms: tuple[str, ...]
    label: str = ""
    hits: tuple[tuple[str, int, int], ...] = ()  # (field, start, end) in the entry's text
    mention: str = ""  # the watch's role to mention, if any
    owned: bool = False  # the chat's own watch (it may snooze or remove it from the alert)


@dataclass(frozen=True, slots=True)
class Alert:
    """One entry to announce to one destination, with every watch that fired on it."""

    id: str
    destination: DestinationName
    entry: Entry
    feed_title: str
    feed_url: str
    watches: tuple[FiredWatch, ...]
    created_at: datetime
    story_keys: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Digest:
    """Alerts held for one chat (by its digest schedule or quiet hours), sent together:
    one message, or several in a row when one would pass the platform's limits."""

    destination: DestinationName
    alerts: tuple[Alert, ...]
    why: str  # "digest" or "quiet"

    def sections(self) -> list[tuple[str, list[Alert]]]:
        """Alerts grouped by the first watch that fired on them (its label, else its
        rule), groups in order of first appearance."""
        groups: dict[str, list[Alert]] = {}
        for alert in self.alerts:
            w = alert.watches[0] if alert.watches else None
            groups.setdefault((w.label or w.rule) if w else "", []).append(alert)
        return list(groups.items())


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a reply or an alert; pressing it runs `action` (short: it must
    fit Telegram's 64-byte callback data) through the command layer's `press`."""

    label: str
    action: str


def alert_buttons(alert: Alert) -> tuple[Button, ...]:
    """The controls under an alert: mute or remove the chat's own watch that fired (an
    operator's watch gets none: the chat cannot change it)."""
    own = next((w for w in alert.watches if w.owned), None)
    if own is None:
        return ()
    return (Button("Mute this watch for 24 h", f"snooze:{own.watch_id}:24h"),
            Button("Unwatch", f"unwatch:{own.watch_id}"))
