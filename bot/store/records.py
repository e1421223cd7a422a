"""What both stores keep the same way: feed states, chats' feeds, watches and
settings, and outbox items, held in memory as immutable records, each change marked
in `_dirty[table]` for the store's next commit. A store subclasses this and adds
how it claims stories, queues alerts and writes."""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from bot.model import DestinationName, FeedId, Outgoing, RecentEntry, Reported, Subscription, Told, Watch, WatchId
from bot.store.base import DestinationState, FeedState, OutboxItem

TABLES = ("feeds", "outbox", "destinations", "subscriptions", "watches", "headlines", "told", "spent", "counts")
COUNT_DAYS = 31  # alerts a day are kept this many days (the dashboard charts 30)


def count_key_parts(key: str) -> tuple[str, str, str]:
    day, destination, watch = key.split("\x00")
    return day, destination, watch


def told_key(destination: str, story: str) -> str:
    return f"{destination}\x00{story}"


class Records:
    def __init__(self) -> None:
        self._feeds: dict[FeedId, FeedState] = {}
        self._known: dict[FeedId, dict[str, float]] = {}
        self._outbox: dict[str, OutboxItem] = {}
        self._dests: dict[DestinationName, DestinationState] = {}
        self._subs: dict[str, Subscription] = {}
        self._watches: dict[WatchId, Watch] = {}
        self._reported: dict[str, Reported] = {}  # headlines that fired a watch, oldest first
        self._told: dict[str, Told] = {}  # told_key → the alert a destination was sent for a story
        self._recent: dict[str, RecentEntry] = {}  # new entries of the last `[store] recent`, oldest first
        self._recent_new: list[RecentEntry] = []  # not yet written
        self._spent: dict[str, float] = {}  # dashboard tokens used up (a sign-in link, a signed-out session) → until
        self._counts: dict[str, int] = {}  # "day\x00destination\x00watch" → alerts queued that day
        self._dirty: dict[str, set[str]] = {t: set() for t in TABLES}
        self._next_seq = 1
        self._unflushed: set[str] = set()  # alerts queued here, not yet written where they last

    # -- stories -------------------------------------------------------------

    def remember_headline(self, reported: Reported, keep_after: float) -> None:
        self._reported.pop(reported.key, None)  # a headline seen again goes to the end
        self._reported[reported.key] = reported
        self._dirty["headlines"].add(reported.key)
        while self._reported:
            key, oldest = next(iter(self._reported.items()))
            if oldest.seen_at >= keep_after:
                break
            del self._reported[key]
            self._dirty["headlines"].add(key)

    async def recent_headlines(self, since: float) -> list[Reported]:
        return sorted((r for r in self._reported.values() if r.seen_at >= since), key=lambda r: r.seen_at)

    def remember_told(self, told: Told) -> None:
        key = told_key(told.destination, told.story)
        self._told[key] = told
        self._dirty["told"].add(key)

    async def told(self, destination: DestinationName, story: str) -> Told | None:
        return self._told.get(told_key(destination, story))

    def remember_recent(self, entries: list[RecentEntry]) -> None:
        for entry in entries:
            self._recent.pop(entry.key, None)
            self._recent[entry.key] = entry
        self._recent_new.extend(entries)

    async def recent_entries(self, since: float) -> list[RecentEntry]:
        return [e for e in self._recent.values() if e.seen_at >= since]

    def _forget_recent(self, before: float) -> int:
        """Forget new entries seen before then (the oldest come first)."""
        gone = 0
        while self._recent:
            key, oldest = next(iter(self._recent.items()))
            if oldest.seen_at >= before:
                break
            del self._recent[key]
            gone += 1
        return gone

    def count_alert(self, day: str, destination: str, watches: tuple[str, ...]) -> None:
        for watch in watches:
            key = f"{day}\x00{destination}\x00{watch}"
            self._counts[key] = self._counts.get(key, 0) + 1
            self._dirty["counts"].add(key)

    async def alert_counts(self, since_day: str) -> list[tuple[str, str, str, int]]:
        return [(*count_key_parts(k), n) for k, n in self._counts.items() if k >= since_day]

    def _forget_counts(self, before_day: str) -> int:
        old = [k for k in self._counts if k < before_day]
        for key in old:
            del self._counts[key]
            self._dirty["counts"].add(key)
        return len(old)

    async def spend(self, token_id: str, until: float) -> bool:
        """Use up a one-time token; False when it was used already."""
        if token_id in self._spent:
            return False
        self._spent[token_id] = until
        self._dirty["spent"].add(token_id)
        return True

    async def spent(self, token_id: str) -> bool:
        return token_id in self._spent

    def _forget_spent(self, now: float) -> int:
        """Forget tokens past their expiry (an expired token is refused anyway)."""
        gone = [k for k, until in self._spent.items() if until < now]
        for key in gone:
            del self._spent[key]
            self._dirty["spent"].add(key)
        return len(gone)

    def _forget_told(self, before: float) -> int:
        """Forget alerts sent before then (past the story window: nothing updates them)."""
        stale = [k for k, t in self._told.items() if t.sent_at < before]
        for key in stale:
            del self._told[key]
            self._dirty["told"].add(key)
        return len(stale)

    # -- feeds -------------------------------------------------------------

    def feed_state(self, feed_id: FeedId) -> FeedState | None:
        return self._feeds.get(feed_id)

    def put_feed_state(self, state: FeedState) -> None:
        self._feeds[state.feed_id] = state
        self._dirty["feeds"].add(state.feed_id)

    def known_entries(self, feed_id: FeedId) -> Mapping[str, float]:
        return self._known.get(feed_id, {})

    def _stale_known(self, now: float, retention: float) -> dict[FeedId, list[str]]:
        """Per feed, its known entries past the retention, except those still in the feed
        at its last change (they were seen again then, whatever their stamp)."""
        cutoff = now - retention
        out: dict[FeedId, list[str]] = {}
        for fid, known in self._known.items():
            state = self._feeds.get(fid)
            keep_from = min(cutoff, state.last_changed if state and state.last_changed else cutoff)
            stale = [k for k, ts in known.items() if ts < keep_from]
            if stale:
                out[fid] = stale
        return out

    # -- outbox ------------------------------------------------------------

    def _queue(self, destination: DestinationName, message: Outgoing, item_id: str,
               not_before: float) -> bool:
        """Add an alert to the outbox, in order, as not yet written; False when it is there."""
        if item_id in self._outbox:
            return False
        self._outbox[item_id] = OutboxItem(item_id, self._next_seq, destination, message, next_try=not_before)
        self._next_seq += 1
        self._unflushed.add(item_id)
        return True

    def delivered(self, item_id: str) -> None:
        if self._outbox.pop(item_id, None) is not None:
            self._dirty["outbox"].add(item_id)

    def defer(self, item_id: str, until: float) -> None:
        """Hold an item until then, with no failure counted (an update waiting for its minute)."""
        item = self._outbox.get(item_id)
        if item is not None:
            self._outbox[item_id] = replace(item, next_try=until)
            self._dirty["outbox"].add(item_id)

    def postpone(self, item_id: str, until: float, error: str) -> None:
        item = self._outbox.get(item_id)
        if item is not None:
            self._outbox[item_id] = replace(item, attempts=item.attempts + 1, next_try=until, last_error=error)
            self._dirty["outbox"].add(item_id)

    # -- destinations --------------------------------------------------------

    def destination_state(self, name: DestinationName) -> DestinationState:
        return self._dests.get(name) or DestinationState(name)

    def put_destination_state(self, state: DestinationState) -> None:
        self._dests[state.name] = state
        self._dirty["destinations"].add(state.name)

    def _move_records(self, old: DestinationName, new: DestinationName) -> None:
        """Move a destination's feeds, watches, waiting alerts (in their order) and
        settings to a new name (a Telegram group that became a supergroup); topics of
        the old chat move with it. The store moves its announced stories itself."""
        def moved(name: DestinationName) -> DestinationName:
            if name == old or name.startswith(old + "/"):
                return DestinationName(new + name[len(old):])
            return name

        for sub in list(self._subs.values()):
            if moved(sub.destination) != sub.destination:
                self.put_subscription(replace(sub, destination=moved(sub.destination)))
        for w in list(self._watches.values()):
            owner = moved(w.owner) if w.owner else None
            notify = tuple(moved(n) for n in w.notify)
            if owner != w.owner or notify != w.notify:
                self.put_watch(replace(w, owner=owner, notify=notify))
        for item in list(self._outbox.values()):
            if moved(item.destination) != item.destination:
                self._outbox[item.id] = replace(item, destination=moved(item.destination))
                self._dirty["outbox"].add(item.id)
        for name in [n for n in self._dests if moved(n) != n]:
            self.put_destination_state(replace(self._dests.pop(name), name=moved(name)))
            self._dirty["destinations"].add(name)
        for key, told in list(self._told.items()):
            if moved(told.destination) != told.destination:
                del self._told[key]
                self._dirty["told"].add(key)
                self.remember_told(replace(told, destination=moved(told.destination)))

    # -- chats' own feeds and watches ------------------------------------------

    def subscriptions(self, destination: DestinationName | None = None) -> list[Subscription]:
        return [s for s in self._subs.values() if destination is None or s.destination == destination]

    def put_subscription(self, sub: Subscription) -> None:
        self._subs[sub.id] = sub
        self._dirty["subscriptions"].add(sub.id)

    def remove_subscription(self, sub_id: str) -> Subscription | None:
        sub = self._subs.pop(sub_id, None)
        self._dirty["subscriptions"].add(sub_id)
        return sub

    def watches(self, owner: DestinationName | None = None) -> list[Watch]:
        return [w for w in self._watches.values() if owner is None or w.owner == owner]

    def put_watch(self, watch: Watch) -> None:
        self._watches[watch.id] = watch
        self._dirty["watches"].add(watch.id)

    def remove_watch(self, watch_id: WatchId) -> Watch | None:
        watch = self._watches.pop(watch_id, None)
        self._dirty["watches"].add(watch_id)
        return watch
