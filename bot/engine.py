"""The async loop that wires the stages: schedule → fetch → parse → match → dedupe →
outbox → deliver. It is the store's single writer: each poll cycle's changes (feed
states, entries seen, stories claimed, alerts queued) are flushed in one atomic write,
and alerts leave the outbox only once their platform has accepted them."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, Iterable, Mapping

from bot import dedupe
from bot.adapters.base import Adapter, Delivered, Gone, RetryAfter, SendResult
from bot.config import Settings
from bot.feeds.errors import FeedError
from bot.feeds.fetch import Fetcher, FetchResult, Validators
from bot.feeds.parse import parse_feed
from bot.feeds.schedule import due_feeds, next_poll_after_failure, next_poll_after_success, next_wakeup
from bot.model import Alert, Destination, DestinationName, Entry, Feed, FeedId, FiredWatch, ParsedFeed, Watch, WatchId
from bot.rules.matcher import Matcher, compile_watches
from bot.store.base import DestinationState, FeedState, OutboxItem, Store
from bot.store.codec import alert_from_dict, alert_to_dict

log = logging.getLogger("tipoff.engine")

THREAD_PARSE_BYTES = 256 * 1024  # bigger bodies are parsed off the event loop
PRUNE_EVERY = 3600.0
IDLE_WAKEUP = 60.0


@dataclass(slots=True)
class CycleReport:
    polled: int = 0
    not_modified: int = 0
    unchanged: int = 0
    errors: int = 0
    new_entries: int = 0
    alerts: int = 0
    repeats: int = 0

    def line(self) -> str:
        return (f"polled {self.polled} feeds ({self.not_modified} not modified, {self.unchanged} unchanged, "
                f"{self.errors} failed), {self.new_entries} new entries, {self.alerts} alerts queued, "
                f"{self.repeats} repeats skipped")


@dataclass(frozen=True, slots=True)
class Polled:
    """What one feed's poll produced, before it is absorbed into the store."""

    feed: Feed
    fetched: FetchResult | None = None
    parsed: ParsedFeed | None = None
    error: FeedError | None = None


def backoff_seconds(attempts: int, rng: random.Random) -> float:
    """Delivery retry delay: 5 s doubling per attempt, capped at 15 min, ±20 %."""
    return min(5.0 * 2.0 ** attempts, 900.0) * rng.uniform(0.8, 1.2)


@dataclass
class Engine:
    settings: Settings
    store: Store
    fetcher: Fetcher
    adapters: Mapping[str, Adapter]
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.feeds: tuple[Feed, ...] = self.settings.feeds
        self._watches: dict[WatchId, Watch] = {}
        self._matcher: Matcher = compile_watches([])
        self.set_watches(self.settings.watches)
        self._last_prune = 0.0
        self._warned: set[str] = set()

    def set_watches(self, watches: Iterable[Watch]) -> None:
        watches = tuple(watches)
        self._matcher = compile_watches(watches, self.settings.rules)
        self._watches = {w.id: w for w in watches}

    # -- the loop --------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        """Poll until `stop` is set (or one cycle with `once`), delivering as it goes."""
        await self._until(stop, self.deliver())  # resume the outbox before polling
        if once:
            await self._until(stop, self.poll_cycle(self.feeds))
            await self._until(stop, self.deliver())
            return
        while not stop.is_set():
            now = self.clock()
            due = due_feeds(self.feeds, self._states(), now)
            if due:
                await self._until(stop, self.poll_cycle(due))
            if not stop.is_set():
                await self._until(stop, self.deliver())
            wake = min(next_wakeup(self.feeds, self._states(), self.clock()), self._next_retry(),
                       self.clock() + IDLE_WAKEUP)
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, wake - self.clock()))
            except asyncio.TimeoutError:
                pass

    async def _until(self, stop: asyncio.Event, work: Awaitable[object]) -> None:
        """Run `work` unless `stop` is set first; then cancel it (store writes are shielded)."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        else:
            task.result()

    def _states(self) -> dict[FeedId, FeedState]:
        return {f.id: s for f in self.feeds if (s := self.store.feed_state(f.id)) is not None}

    def _next_retry(self) -> float:
        times = [i.next_try for i in self.store.pending() if self.store.destination_state(i.destination).active]
        return min(times) if times else float("inf")

    # -- polling ---------------------------------------------------------------

    async def poll_cycle(self, feeds: Iterable[Feed]) -> CycleReport:
        feeds = list(feeds)
        polled = await asyncio.gather(*(self._poll(f) for f in feeds))
        now = self.clock()
        report = CycleReport(polled=len(polled))
        for p in polled:
            self._absorb(p, now, report)
        if now - self._last_prune >= PRUNE_EVERY:
            removed = self.store.prune(now, self.settings.poll.retention)
            self._last_prune = now
            if removed:
                log.info("pruned %d expired keys", removed)
        await self.store.flush()
        log.info("cycle: %s", report.line())
        return report

    async def _poll(self, feed: Feed) -> Polled:
        state = self.store.feed_state(feed.id)
        validators = Validators(state.etag, state.last_modified) if state and state.url == feed.url else Validators()
        try:
            fetched = await self.fetcher.fetch(feed, validators)
            if fetched.not_modified or (state and state.polls and fetched.body_hash == state.body_hash):
                return Polled(feed, fetched)
            cap = self.settings.fetch.max_entries
            if len(fetched.body) > THREAD_PARSE_BYTES:
                parsed = await asyncio.to_thread(parse_feed, fetched.body, feed.id, fetched.url, max_entries=cap)
            else:
                parsed = parse_feed(fetched.body, feed.id, fetched.url, max_entries=cap)
            return Polled(feed, fetched, parsed)
        except FeedError as exc:
            return Polled(feed, error=exc)
        except Exception as exc:  # a bug must cost one feed one poll, not the loop
            log.exception("unexpected error polling %s", feed.url)
            return Polled(feed, error=FeedError("malformed", f"internal error: {type(exc).__name__}"))

    def _absorb(self, p: Polled, now: float, report: CycleReport) -> None:
        feed = p.feed
        state = self.store.feed_state(feed.id) or FeedState(feed.id, feed.url)
        if state.url != feed.url:
            state = FeedState(feed.id, feed.url, polls=state.polls)
        state = replace(state, last_polled=now)
        if p.error is not None:
            report.errors += 1
            self._feed_failed(feed, state, p.error, now)
            return
        fetched = p.fetched
        assert fetched is not None
        state = replace(
            state, last_ok=now, failures=0, last_error=None, error_kind=None,
            etag=fetched.etag or (state.etag if fetched.not_modified else None),
            last_modified=fetched.last_modified or (state.last_modified if fetched.not_modified else None),
            next_due=next_poll_after_success(feed, now, self.settings.poll, self.rng),
        )
        if p.parsed is None:
            report.not_modified += fetched.not_modified
            report.unchanged += not fetched.not_modified
            self.store.put_feed_state(replace(state, polls=state.polls + 1))
            return
        fresh = dedupe.fresh_entries(
            p.parsed.entries, self.store.known_entries(feed.id), first_poll=state.polls == 0,
            backfill=feed.backfill, now=datetime.fromtimestamp(now, timezone.utc),
            max_age=timedelta(seconds=self.settings.poll.max_age),
        )
        stamp = float(int(now))
        self.store.remember_entries(feed.id, fresh.present, stamp)
        self.store.put_feed_state(replace(
            state, polls=state.polls + 1, body_hash=fetched.body_hash, last_changed=stamp,
            title=p.parsed.title or state.title,
        ))
        report.new_entries += len(fresh.fresh)
        for entry in fresh.fresh:
            self._route(entry, feed, p.parsed.title or feed.title, now, report)

    def _feed_failed(self, feed: Feed, state: FeedState, error: FeedError, now: float) -> None:
        failures = state.failures + 1
        if error.message != state.last_error:
            log.warning("feed %s: %s", feed.url, error.message)
        self.store.put_feed_state(replace(
            state, failures=failures, last_error=error.message, error_kind=error.kind,
            next_due=next_poll_after_failure(feed, failures, now, self.settings.poll, self.rng, error.retry_after),
        ))

    def _route(self, entry: Entry, feed: Feed, feed_title: str, now: float, report: CycleReport) -> None:
        """Match one new entry and queue one alert per destination that wants it."""
        fired: dict[DestinationName, list[FiredWatch]] = {}
        for match in self._matcher.match(entry, f"{feed_title} {feed.url}"):
            watch = self._watches[match.watch_id]
            for dest in watch.notify:
                fired.setdefault(dest, []).append(FiredWatch(watch.id, watch.rule, match.terms, watch.label))
        if not fired:
            return
        keys = dedupe.story_keys(entry)
        created = datetime.fromtimestamp(now, timezone.utc)
        for dest, watches in fired.items():
            if not self.store.destination_state(dest).active:
                continue
            if not self.store.claim_story(dest, keys, now):
                report.repeats += 1
                continue
            alert = Alert(
                id=f"{dest}:{dedupe.entry_key(entry)}", destination=dest, entry=entry, feed_title=feed_title,
                feed_url=feed.url, watches=tuple(watches), created_at=created, story_keys=keys,
            )
            self.store.enqueue(dest, alert_to_dict(alert), alert.id)
            report.alerts += 1

    # -- delivery --------------------------------------------------------------

    async def deliver(self) -> int:
        """Send what the outbox holds, in order per destination; returns alerts delivered."""
        queues: dict[DestinationName, list[OutboxItem]] = {}
        for item in self.store.pending():
            queues.setdefault(item.destination, []).append(item)
        if not queues:
            return 0
        counts = await asyncio.gather(*(self._drain(dest, items) for dest, items in queues.items()))
        await self.store.flush()
        return sum(counts)

    async def _drain(self, dest_name: DestinationName, items: list[OutboxItem]) -> int:
        dest = self.settings.destinations.get(dest_name)
        if dest is None:
            self._warn_once(f"nodest:{dest_name}", "%d alerts wait for destination %r, which is no longer "
                            "configured", len(items), dest_name)
            return 0
        adapter = self.adapters.get(dest.kind)
        if adapter is None:
            self._warn_once(f"noadapter:{dest.kind}", "no adapter for %s destinations; %d alerts wait",
                            dest.kind, len(items))
            return 0
        sent = 0
        for item in sorted(items, key=lambda i: i.seq):
            if not self.store.destination_state(dest_name).active or item.next_try > self.clock():
                break  # later alerts wait behind this one: delivery stays in order
            result = await self._send(adapter, dest, item)
            if isinstance(result, Delivered):
                self.store.delivered(item.id)
                sent += 1
            elif isinstance(result, RetryAfter):
                wait = result.seconds if result.seconds is not None else backoff_seconds(item.attempts, self.rng)
                self.store.postpone(item.id, self.clock() + wait, result.reason)
                log.warning("destination %s: %s; retrying in %.0fs", dest_name, result.reason, wait)
                break
            else:
                self.store.put_destination_state(DestinationState(dest_name, False, result.reason, self.clock()))
                log.error("destination %s is gone (%s); its alerts stay in the outbox", dest_name, result.reason)
                break
        return sent

    async def _send(self, adapter: Adapter, dest: Destination, item: OutboxItem) -> SendResult:
        try:
            return await adapter.send(dest, alert_from_dict(item.alert))
        except Exception as exc:  # an adapter bug must not lose the alert or stop the loop
            log.exception("adapter error delivering %s", item.id)
            return RetryAfter(None, f"internal error: {type(exc).__name__}")

    def _warn_once(self, key: str, msg: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(msg, *args)
