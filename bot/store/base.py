"""The Store protocol: everything tipoff remembers, in domain verbs. The engine is its
single writer; mutations are staged in memory and `flush()` makes them durable in one
atomic write per poll cycle. A server-backed store (Redis) implements the same verbs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Protocol, runtime_checkable

from bot.model import DestinationName, Feed, FeedId, Outgoing, RecentEntry, Reported, Subscription, Told, Watch, WatchId

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the poller knows about one feed between polls. Times are POSIX seconds."""

    feed_id: FeedId
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str = ""
    polls: int = 0  # successful polls; 0 means the next one is the first
    last_polled: float | None = None
    last_ok: float | None = None
    last_changed: float | None = None
    last_error: str | None = None
    error_kind: str | None = None
    failures: int = 0
    next_due: float | None = None
    failing_since: float | None = None  # start of the current run of failures
    moved_to: str | None = None  # where a 301/308 said the feed now lives
    stopped: str | None = None  # why polling stopped (410 Gone, failing too long); None while active
    gap: float | None = None  # smoothed seconds between polls that found new entries
    last_new: float | None = None  # when a poll last found new entries
    lower_bound: float | None = None  # the server's Cache-Control max-age or the feed's <ttl>
    hub: str | None = None  # the WebSub hub the feed advertises
    hub_retry_at: float | None = None  # after a failed subscription request, not before this
    push_topic: str | None = None  # what the hub knows the feed by
    push_secret: str | None = None  # the HMAC secret of our subscription
    push_until: float | None = None  # the verified subscription's lease end
    last_push: float | None = None  # the last sign of life from push (verification or content)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An alert waiting for its destination to accept it. `seq` orders delivery."""

    id: str
    seq: int
    destination: DestinationName
    message: Outgoing  # the alert (or notice) waiting
    attempts: int = 0
    next_try: float = 0.0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DestinationState:
    """A destination's state: whether it can be reached, what its chat set (digest,
    quiet hours, pause), and what delivery saw lately (for /status)."""

    name: DestinationName
    active: bool = True
    reason: str | None = None  # why it cannot be reached (bot removed, channel deleted)
    since: float | None = None
    digest: str = ""  # the chat's digest schedule ("hourly", "daily 09:00 Europe/Berlin"), "" for none
    quiet: str = ""  # the chat's quiet hours ("23:00-07:00 Europe/Berlin"), "" for none
    paused: bool = False
    sent_today: int = 0
    day: str = ""  # the UTC day (YYYY-MM-DD) sent_today counts
    last_sent: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    language: str = ""  # the language the chat chose (/language), "" for its locale's
    locale: str = ""  # the platform language of whoever set the chat up (its first admin command)


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says why and where."""


class Store(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def flush(self) -> None: ...
    def problem(self) -> str | None: ...  # why writes fail now (for /healthz), or None

    # feeds
    def feed_state(self, feed_id: FeedId) -> FeedState | None: ...
    def put_feed_state(self, state: FeedState) -> None: ...
    def known_entries(self, feed_id: FeedId) -> Mapping[str, float]: ...
    def remember_entries(self, feed_id: FeedId, keys: Iterable[str], now: float) -> None: ...

    # a story's alert for a destination: claim its keys there and queue the alert, as one
    # step (False: the story was announced there already). Durable at the next flush; on
    # a shared store a claim another worker made first wins then, and this alert is dropped
    def claim_and_queue(self, destination: DestinationName, keys: Iterable[str], now: float,
                        message: Outgoing, item_id: str, not_before: float = 0.0) -> bool: ...

    # outbox
    def enqueue(self, destination: DestinationName, message: Outgoing, item_id: str,
                not_before: float = 0.0) -> None: ...  # held (digest, quiet hours) until not_before
    def pending(self, destination: DestinationName | None = None) -> list[OutboxItem]: ...  # durable ones
    def delivered(self, item_id: str) -> None: ...
    async def acknowledge(self, item_id: str) -> None: ...  # delivered, and durable before returning
    def postpone(self, item_id: str, until: float, error: str) -> None: ...  # a failed attempt
    def defer(self, item_id: str, until: float) -> None: ...  # not before then; no failure counted
    # asked right before a send: still this process's to send now? (False: look at pending() again)
    async def ready_to_send(self, item_id: str) -> bool: ...

    # destinations
    def destination_state(self, name: DestinationName) -> DestinationState: ...
    def put_destination_state(self, state: DestinationState) -> None: ...
    def rename_destination(self, old: DestinationName, new: DestinationName) -> None: ...

    # what chats set up: their own feeds and watches
    def subscriptions(self, destination: DestinationName | None = None) -> list[Subscription]: ...
    def put_subscription(self, sub: Subscription) -> None: ...
    def remove_subscription(self, sub_id: str) -> Subscription | None: ...
    def watches(self, owner: DestinationName | None = None) -> list[Watch]: ...
    def put_watch(self, watch: Watch) -> None: ...
    def remove_watch(self, watch_id: WatchId) -> Watch | None: ...

    # housekeeping
    def prune(self, now: float, retention: float) -> int: ...

    # stories: headlines that fired a watch, so that the story index outlives a restart
    def remember_headline(self, reported: Reported, keep_after: float) -> None: ...  # and forget older ones
    async def recent_headlines(self, since: float) -> list[Reported]: ...  # oldest first
    # the alert a destination was sent for a story (kept for the story window): what a
    # later report of the story updates
    def remember_told(self, told: Told) -> None: ...
    async def told(self, destination: DestinationName, story: str) -> Told | None: ...

    # new entries of the last `[store] recent` (7 days), and what became of each: the rule
    # tester, /backtest and /why read them
    def remember_recent(self, entries: list[RecentEntry]) -> None: ...

    # dashboard tokens used up (a sign-in link, a signed-out session), until they expire:
    # spend is False when the token was spent already; durable at the next flush
    async def spend(self, token_id: str, until: float) -> bool: ...

    # alerts queued a day, by destination and watch (31 days): the dashboard's chart
    def count_alert(self, day: str, destination: str, watches: tuple[str, ...]) -> None: ...
    async def alert_counts(self, since_day: str) -> list[tuple[str, str, str, int]]: ...  # (day, dest, watch, n)
    async def spent(self, token_id: str) -> bool: ...
    async def recent_entries(self, since: float) -> list[RecentEntry]: ...  # oldest first


@dataclass(frozen=True)
class Fleet:
    """What the workers sharing one store hold now (`tipoff workers`), read without
    changing anything."""

    now: int  # Redis' clock, seconds
    feeds: int  # feeds being polled (stopped ones are not)
    due_now: int
    outbox: int  # alerts waiting for their platform, all workers
    seen: Mapping[str, int] = field(default_factory=dict)  # worker → when it last asked for due feeds
    pending: Mapping[str, int] = field(default_factory=dict)  # worker → outbox entries it holds
    feed_leases: Mapping[str, int] = field(default_factory=dict)  # worker → feeds it is polling
    senders: Mapping[str, int] = field(default_factory=dict)  # worker → chats it sends for
    locks: Mapping[str, str] = field(default_factory=dict)  # lock name → holder
    shards: int = 0  # Discord shards the workers agreed on (0: no Discord)



@runtime_checkable
class SharedStore(Store, Protocol):
    """A Store that several worker processes share (Redis): besides the Store verbs,
    what workers decide between them."""

    # feeds: each due feed polled by one worker at a time, under a lease
    async def claim_due(self, feeds: list[Feed], now: float, limit: int = 500) -> list[Feed]: ...
    # alerts handed to this worker (it sends for their chat), or left by a dead one
    async def reclaim_stale(self) -> int: ...
    async def refresh_settings(self) -> bool: ...  # another worker changed chats' setup
    # stopping: hand alerts and unpolled feeds to the other workers (False: alerts were
    # handed to this one meanwhile; unless forced, take and send them first)
    async def hand_back(self, force: bool = False) -> bool: ...

    # elections (Telegram's poller, Discord's shards)
    async def hold_lock(self, name: str, ttl: float) -> bool: ...
    async def release_lock(self, name: str) -> None: ...
    async def take_turn(self, name: str, seconds: float) -> bool: ...
    async def workers_alive(self, within: float) -> int: ...
    async def leave(self) -> None: ...
    async def agree_count(self, name: str, proposal: int, locks: str) -> int: ...
