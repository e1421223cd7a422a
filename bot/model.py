"""The plain records every stage passes to the next. No behaviour lives here beyond
small derived properties; all of them are immutable and hashable."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, NewType

from bot.i18n import _

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
    # the operator's feeds only (chats cannot set them): request headers (a login's
    # Authorization, Cookie) and the proxy to fetch through ("" : directly)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    proxy: str = field(default="", repr=False)
    full_text: bool = False  # each new entry's linked article is fetched and matched too


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
    source: str = ""  # the outlet an aggregator's item comes from (RSS <source>: Google News' publisher)


@dataclass(frozen=True, slots=True)
class Reported:
    """A headline that fired a watch, as the story index needs it again after a restart
    (or on another worker): enough to read it the same way, and when it was seen."""

    key: str  # the entry's key
    seen_at: float
    title: str
    summary: str = ""  # its first words: what a short title borrows (bot/stories/headline.py)
    source: str = ""
    link: str = ""
    outlet: str = ""
    sites: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "seen_at": self.seen_at, "title": self.title, "summary": self.summary,
                "source": self.source, "link": self.link, "outlet": self.outlet, "sites": list(self.sites)}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Reported:
        return Reported(str(d["key"]), float(d["seen_at"]), str(d.get("title") or ""), str(d.get("summary") or ""),
                        str(d.get("source") or ""), str(d.get("link") or ""), str(d.get("outlet") or ""),
                        tuple(str(s) for s in d.get("sites") or ()))


@dataclass(frozen=True, slots=True)
class Fate:
    """What became of a new entry for one destination: "alerted" (detail: the alert's
    id), "held" (for a digest or quiet hours), "repeat" (of the story thread in
    detail), "spreading" (waiting for more outlets), "snoozed" (the watch in detail),
    "paused", or "gone"."""

    destination: str
    outcome: str
    detail: str = ""
    watches: tuple[str, ...] = ()  # the watches that fired for that destination


@dataclass(frozen=True, slots=True)
class RecentEntry:
    """A new entry as the recent-entries store keeps it (`[store] recent`, 7 days): what
    the rule tester, /backtest and /why read, and what became of it for each chat."""

    key: str
    feed_id: FeedId
    seen_at: float
    title: str
    summary: str = ""  # its first RECENT_SUMMARY characters
    link: str = ""
    url: str = ""
    published: float | None = None
    source: str = ""
    fates: tuple[Fate, ...] = ()
    story: str = ""  # the story thread it was filed under (when it fired a watch)

    @property
    def too_old(self) -> bool:
        """New in its feed but published before [poll] max_age: never announced."""
        return any(f.outcome == "too old" for f in self.fates)

    def entry(self) -> Entry:
        """The entry again, for matching (its summary as kept)."""
        when = datetime.fromtimestamp(self.published, timezone.utc) if self.published is not None else None
        return Entry(self.feed_id, self.key, self.url, self.link, self.title, self.summary, published=when,
                     source=self.source)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "feed": self.feed_id, "at": self.seen_at, "title": self.title,
                "summary": self.summary, "link": self.link, "url": self.url, "published": self.published,
                "source": self.source,
                "fates": [[f.destination, f.outcome, f.detail, *([list(f.watches)] if f.watches else [])]
                          for f in self.fates], "story": self.story}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> RecentEntry:
        published = d.get("published")
        return RecentEntry(str(d["key"]), FeedId(str(d["feed"])), float(d["at"]), str(d.get("title") or ""),
                           str(d.get("summary") or ""), str(d.get("link") or ""), str(d.get("url") or ""),
                           float(published) if published is not None else None, str(d.get("source") or ""),
                           tuple(Fate(str(f[0]), str(f[1]), str(f[2]), tuple(str(w) for w in f[3]) if len(f) > 3 else ())
                                 for f in d.get("fates") or ()), str(d.get("story") or ""))


RECENT_SUMMARY = 300


@dataclass(frozen=True, slots=True)
class Source:
    """An outlet that reported a story, with its copy's headline and link."""

    outlet: str
    title: str = ""
    link: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"outlet": self.outlet, "title": self.title, "link": self.link}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Source:
        return Source(str(d.get("outlet") or ""), str(d.get("title") or ""), str(d.get("link") or ""))


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    link: str
    entries: tuple[Entry, ...]
    kind: str  # "rss", "atom", "rdf", "json"
    ttl: float | None = None  # seconds the feed says it may be cached (RSS <ttl>)
    known_keys: tuple[str, ...] = ()  # entries already known, by key: left out of `entries`, not normalised
    reused: int = 0  # entries not read at all: byte for byte as in the feed's last body (feeds/layout.py)


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
    min_sources: int = 0  # alert only once this many outlets carry a story (0 or 1: at the first report)...
    within: float = 0.0  # ...within this many seconds (bot/controls.SPREAD_WITHIN when not given)


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
    full_text: bool = False  # added with /add URL full: each new entry's article is read too


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
    story: str = ""  # the story thread this alert tells (bot/stories): later reports of it update it
    source: Source | None = None  # who reported this entry (the outlet named in "Also reported by" lists)
    also: tuple[Source, ...] = ()  # other outlets that reported the story, first first

    @property
    def sources(self) -> tuple[Source, ...]:
        """Every outlet known to have reported the story: this entry's, then the others."""
        return ((self.source,) if self.source else ()) + self.also

    def to_dict(self) -> dict[str, Any]:
        """The plain (JSON-able) form: the webhook body's core, and how the outbox keeps it."""
        alert = self
        e = alert.entry
        return {
            "id": alert.id,
            "destination": alert.destination,
            "created_at": _time(alert.created_at),
            "feed": {"id": e.feed_id, "title": alert.feed_title, "url": alert.feed_url},
            "entry": {
                "id": e.id, "url": e.url, "link": e.link, "title": e.title, "summary": e.summary,
                "content": e.content, "authors": list(e.authors), "tags": list(e.tags),
                "published": _time(e.published), "updated": _time(e.updated), "image": e.image,
                "source": e.source,
            },
            "watches": [{"id": w.watch_id, "rule": w.rule, "label": w.label, "terms": list(w.terms),
                         "hits": [list(h) for h in w.hits], "mention": w.mention, "owned": w.owned}
                        for w in alert.watches],
            "story_keys": list(alert.story_keys),
            "story": {"id": alert.story, "sources": [s.to_dict() for s in alert.sources]},
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Alert:
        e, f = d["entry"], d["feed"]
        entry = Entry(
            feed_id=FeedId(f["id"]), id=e["id"], url=e.get("url", ""), link=e.get("link", ""),
            title=e.get("title", ""), summary=e.get("summary", ""), content=e.get("content", ""),
            authors=tuple(e.get("authors") or ()), tags=tuple(e.get("tags") or ()),
            published=_parse_time(e.get("published")), updated=_parse_time(e.get("updated")), image=e.get("image"),
            source=str(e.get("source") or ""),
        )
        watches = tuple(FiredWatch(WatchId(w["id"]), w["rule"], tuple(w.get("terms") or ()), w.get("label", ""),
                                   tuple((str(f), int(s), int(e)) for f, s, e in w.get("hits") or ()),
                                   str(w.get("mention") or ""), bool(w.get("owned")))
                        for w in d.get("watches") or ())
        created = _parse_time(d.get("created_at"))
        assert created is not None
        story: Mapping[str, Any] = d["story"] if isinstance(d.get("story"), Mapping) else {}
        sources = [Source.from_dict(s) for s in story.get("sources") or ()]
        return Alert(d["id"], DestinationName(d["destination"]), entry, f.get("title", ""), f.get("url", ""),
                     watches, created, tuple(d.get("story_keys") or ()), str(story.get("id") or ""),
                     sources[0] if sources else None, tuple(sources[1:]))


@dataclass(frozen=True, slots=True)
class Coverage:
    """Another outlet's report of a story: the alert a destination got for the story
    is updated to name it ("Also reported by ...")."""

    story: str  # the story thread (Alert.story)
    source: Source


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the outbox holds for a destination: an alert (held for a digest or quiet
    hours while `hold` says so), a notice to the chat (a feed it added stopped), or
    coverage that updates an alert already sent."""

    alert: Alert | None = None
    notice: str = ""
    hold: str = ""  # "digest" or "quiet" while held; "" when it may go at once
    coverage: Coverage | None = None


@dataclass(frozen=True, slots=True)
class Told:
    """The alert a destination was sent for a story, kept for the story window so that
    later reports of the story update that message instead of sending another."""

    destination: DestinationName
    story: str
    alert: Alert  # as it reads now: its `also` lists the outlets its message names
    receipt: str  # the platform's message id ("" when it gives none)
    sent_at: float
    in_digest: bool = False  # sent as part of a digest: no message of its own to edit
    edited_at: float = 0.0  # the last update sent for it (updates are at most one a minute)
    closed: str = ""  # why it cannot be updated any more (message deleted, too old): later updates are dropped

    def to_dict(self) -> dict[str, Any]:
        return {"destination": self.destination, "story": self.story, "alert": self.alert.to_dict(),
                "receipt": self.receipt, "sent_at": self.sent_at, "in_digest": self.in_digest,
                "edited_at": self.edited_at, "closed": self.closed}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Told:
        return Told(DestinationName(str(d["destination"])), str(d["story"]), Alert.from_dict(d["alert"]),
                    str(d.get("receipt") or ""), float(d.get("sent_at") or 0.0), bool(d.get("in_digest")),
                    float(d.get("edited_at") or 0.0), str(d.get("closed") or ""))


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
    return (Button(_("Mute this watch for 24 h"), f"snooze:{own.watch_id}:24h"),
            Button(_("Unwatch"), f"unwatch:{own.watch_id}"))


def _time(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def feed_id_for(url: str) -> FeedId:
    return FeedId("f" + hashlib.blake2b(url.encode(), digest_size=8).hexdigest())


def watch_id_for(rule: str, notify: tuple[str, ...]) -> WatchId:
    return WatchId("w" + hashlib.blake2b(f"{rule}\x00{','.join(notify)}".encode(), digest_size=5).hexdigest())
