"""The async loop that wires the stages: schedule → fetch → parse → match → dedupe →
outbox → deliver. It is the store's single writer for polling: each poll cycle's
changes (feed states, entries seen, stories claimed, alerts queued) are flushed in one
atomic write, and the Delivery workers drain the outbox from there.

Feeds are the config's plus those chats added; watches likewise. A config watch sees
config feeds; a chat's watch sees that chat's own feeds and every config feed."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from dataclasses import dataclass, field, replace
from typing import Awaitable, Callable, Iterable, Mapping

from bot import destinations, i18n, pipeline
from bot.adapters.base import Adapter
from bot.config import Settings, WebSubSettings, feed_id_for
from bot.delivery import Delivery
from bot.feeds.articles import ArticleReader
from bot.feeds.errors import FeedError
from bot.feeds.fetch import Fetcher, FetchResult, Validators
from bot.feeds.layout import Layouts
from bot.feeds.parse import charset_of
from bot.feeds.schedule import due_feeds, next_wakeup
from bot.model import Coverage, Destination, DestinationName, Entry, Fate, Feed, FeedId, Outgoing, ParsedFeed, Watch, WatchId
from bot.render.text import stopped_notice
from bot.rules.matcher import Matcher
from bot.stats import Stats
from bot.store.base import FeedState, SharedStore, Store, StoreError
from bot.storydesk import StoryDesk

log = logging.getLogger("tipoff.engine")

THREAD_PARSE_BYTES = 64 * 1024  # bigger bodies are parsed off the event loop...
THREAD_PARSES = 2  # ...two at a time: a parse tree is ~10x its body, and memory is the limit
PRUNE_EVERY = 3600.0
IDLE_WAKEUP = 60.0
SHARED_WAKEUP = 2.0  # with a shared store, other workers change what is due: look again this often
FLUSH_DELAY = 0.5  # delivery outcomes are written at most this long after they happen
STORE_RETRY_MAX = 60.0  # a store that cannot be written (full disk, Redis away) is retried at least this often

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
    state: FeedState  # the feed's state as the poll found it (read once per poll)
    fetched: FetchResult | None = None
    parsed: ParsedFeed | None = None
    error: FeedError | None = None
    parse_later: bool = False  # a small changed body, to be parsed on the loop in its turn


def chat_feeds(settings: Settings, store: Store) -> tuple[Feed, ...]:
    """Config feeds plus every feed a chat added; a URL in both is one feed, polled at
    the shortest interval anyone asked for."""
    feeds = {f.url: f for f in settings.feeds}
    for sub in store.subscriptions():
        known = feeds.get(sub.url)
        if known is None:
            feeds[sub.url] = Feed(feed_id_for(sub.url), sub.url, sub.every, trusted=False, full_text=sub.full_text)
        elif sub.every < known.every or (sub.full_text and not known.full_text):
            feeds[sub.url] = replace(known, every=min(sub.every, known.every),
                                     full_text=known.full_text or sub.full_text)
    return tuple(feeds.values())


@dataclass
class Engine:
    settings: Settings
    store: Store
    fetcher: Fetcher
    adapters: Mapping[str, Adapter]
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._matcher = Matcher(self.settings.rules)
        self._watches: dict[WatchId, Watch] = {}
        self.feeds: tuple[Feed, ...] = ()
        self._config_feeds: frozenset[FeedId] = frozenset(f.id for f in self.settings.feeds)
        self._subscribers: dict[FeedId, set[DestinationName]] = {}
        self.delivery = Delivery(self.store, self.destination, self.adapters, self.clock, self.rng,
                                 on_progress=self.flush_soon, retry=self.settings.delivery)
        self._flush_task: asyncio.Task[None] | None = None
        self._store_trouble: str | None = None  # why the store cannot be written or reached now
        self._store_failures = 0  # attempts that failed since it last worked
        self._poke = asyncio.Event()  # set when feeds change: the loop looks again at once
        self._parse_slots = asyncio.Semaphore(THREAD_PARSES)
        self.layouts = Layouts.within(self.settings.poll.retention)  # entries unchanged since the last body
        # Parsing and matching a changed feed takes a turn, and a turn passes on only in
        # the next loop iteration: when a hundred fetches complete together, their CPU
        # work is spread over a hundred iterations instead of holding one for all of it.
        self._turn = asyncio.Lock()
        # Stories told so far (headlines that fired a watch, within the window): a
        # rewording of one a chat was told updates that alert instead of alerting again.
        self.desk = StoryDesk(self.store, self.settings.stories.window, self.clock)
        self.articles = ArticleReader(self.fetcher)  # full_text feeds' articles
        self._last_prune = 0.0
        self.on_body: list[Callable[[Feed, bytes, str | None], None]] = []  # shown every polled body (WebSub)
        self.push: WebSubSettings | None = None  # WebSub is on: feeds it pushes are polled as a safety net
        self.stats = Stats(goes_round_every=IDLE_WAKEUP)
        self.delivery.stats = self.stats
        self.cycled = asyncio.Event()  # set after the first poll cycle (the service then settles the heap)
        for w in (*self.settings.watches, *self.store.watches()):
            self.add_watch(w)
        self.feeds_changed()

    # -- what to watch, and for whom -------------------------------------------------

    def add_watch(self, watch: Watch) -> None:
        """Start matching a watch (raises RuleError for a bad rule)."""
        self._matcher.add(watch)
        self._watches[watch.id] = watch

    def watching(self, watch_id: str) -> Watch | None:
        """The watch the engine matches under this id, as it has it now."""
        return self._watches.get(WatchId(watch_id))

    def remove_watch(self, watch_id: WatchId) -> None:
        self._matcher.remove(watch_id)
        self._watches.pop(watch_id, None)

    def set_watches(self, watches: Iterable[Watch]) -> None:
        for wid in list(self._watches):
            self.remove_watch(wid)
        for w in watches:
            self.add_watch(w)

    def wake(self, names: Iterable[DestinationName]) -> None:
        """Deliver to these destinations now (a chat resumed, a destination back)."""
        self.delivery.wake(list(names))

    def feeds_changed(self) -> None:
        """Re-read which feeds exist and who subscribes to them (after /add, /remove)."""
        self.feeds = chat_feeds(self.settings, self.store)
        subscribers: dict[FeedId, set[DestinationName]] = {}
        by_url = {f.url: f.id for f in self.feeds}
        for sub in self.store.subscriptions():
            subscribers.setdefault(by_url[sub.url], set()).add(sub.destination)
        self._subscribers = subscribers
        self.layouts.keep(f.id for f in self.feeds)
        self._poke.set()

    def destination(self, name: str) -> Destination | None:
        return destinations.resolve(name, self.settings.destinations)

    def _applies(self, watch: Watch, feed: Feed) -> bool:
        if feed.id in self._config_feeds:
            return True
        return watch.owner is not None and watch.owner in self._subscribers.get(feed.id, ())

    # -- the loop --------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        """Poll until `stop` is set (or one cycle with `once`), delivering as it goes."""
        try:
            shared = self.store if isinstance(self.store, SharedStore) else None  # several workers
            if once:
                if shared is not None:
                    await shared.reclaim_stale()  # alerts stopped workers handed back
                await self._until(stop, self.delivery.settle())  # resume the outbox first
                await self._until(stop, self.poll_cycle(self.feeds))
                await self._until(stop, self.delivery.settle())
                if shared is not None:
                    await self._until(stop, self._leave(shared))
                return
            self.delivery.wake()  # resume the outbox before polling
            self.stats.started_at = self.clock()
            while not stop.is_set():
                self.stats.alive_at = self.clock()
                if shared is not None:
                    try:
                        due = await self._shared_turn(shared)
                    except StoreError as exc:  # Redis away: keep running, say so, try again
                        await self._sleep_until(stop, self.clock() + self._store_failed(exc))
                        continue
                else:
                    due = due_feeds(self.feeds, self._states(), self.clock())
                if due:
                    await self._until(stop, self.poll_cycle(due))
                self.delivery.wake()
                if shared is not None and due:
                    continue  # there was work: ask the shared store for more at once
                if shared is not None:  # what is due lives in the shared store: ask it again soon
                    wake = min(self.delivery.next_retry(), self.clock() + SHARED_WAKEUP)
                else:
                    wake = min(next_wakeup(self.feeds, self._states(), self.clock()), self.delivery.next_retry(),
                               self.clock() + IDLE_WAKEUP)
                await self._sleep_until(stop, wake)
        finally:
            self.stats.started_at = 0.0
            await self.delivery.close()
            if self._flush_task is not None:
                self._flush_task.cancel()

    async def _shared_turn(self, shared: SharedStore) -> list[Feed]:
        """With a shared store: take other workers' changes to chats, the feeds due for
        this worker, and alerts handed to it."""
        if await shared.refresh_settings():
            self.set_watches((*self.settings.watches, *self.store.watches()))
            self.feeds_changed()  # another worker's /add, /watch, /quiet...
        due = await shared.claim_due(list(self.feeds), self.clock())
        if await shared.reclaim_stale():
            self.delivery.wake()  # alerts handed over or taken over: send them now
        self._store_ok()
        return due

    async def write_store(self) -> bool:
        """Make the store's changes durable. When it cannot (a full disk, Redis away),
        tipoff keeps running: /healthz answers 503 with the store's reason, the reason is
        logged when it starts and when it changes, and the write is retried with backoff.
        Nothing staged is dropped, and alerts are offered for delivery only once written."""
        try:
            await self.store.flush()
        except StoreError as exc:
            self._retry_store_later(self._store_failed(exc))
            return False
        self._store_ok()
        return True

    def _store_failed(self, exc: StoreError) -> float:
        """Note a failed store operation; how long to wait before the next attempt."""
        self._store_failures += 1
        wait = min(STORE_RETRY_MAX, 2.0 ** self._store_failures)
        if str(exc) != self._store_trouble:
            log.error("%s; trying again in %.0fs, and until it works (nothing is dropped meanwhile)", exc, wait)
            self._store_trouble = str(exc)
        return wait

    def _store_ok(self) -> None:
        if self._store_trouble is not None:
            log.warning("the store works again (after %d failed attempts)", self._store_failures)
        self._store_trouble, self._store_failures = None, 0

    def _retry_store_later(self, wait: float) -> None:
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.ensure_future(self._delayed_flush(wait))

    async def _leave(self, shared: SharedStore) -> None:
        """The end of a --once run beside other workers: they may have handed this one
        alerts for chats it sends for. Send those until none are left to take, then
        hand the rest (held or waiting to retry) to a worker still running."""
        while True:
            if not await self.write_store():
                return  # the store's close hands back what it can
            if await shared.hand_back():
                return
            await shared.reclaim_stale()
            await self.delivery.settle()

    async def _sleep_until(self, stop: asyncio.Event, wake: float) -> None:
        """Sleep until `wake`, or until stopped, or until the feeds change."""
        self._poke.clear()
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._poke.wait())}
        try:
            await asyncio.wait(waiters, timeout=max(0.0, wake - self.clock()), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

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

    def flush_soon(self) -> None:
        """Write the store within FLUSH_DELAY (for changes made outside a poll cycle)."""
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.ensure_future(self._delayed_flush())

    async def _delayed_flush(self, delay: float = FLUSH_DELAY) -> None:
        await asyncio.sleep(delay)
        await self.write_store()

    def _states(self) -> dict[FeedId, FeedState]:
        return {f.id: s for f in self.feeds if (s := self.store.feed_state(f.id)) is not None}

    # -- polling ---------------------------------------------------------------

    async def poll_cycle(self, feeds: Iterable[Feed]) -> CycleReport:
        """Poll feeds with a fixed pool of workers (as many as may fetch at once), each
        absorbing a feed's result as soon as it is in: no body outlives its feed's turn,
        and the loop never holds thousands of ready tasks at once."""
        feeds = list(feeds)
        report = CycleReport(polled=len(feeds))
        await self.desk.read()
        queue = iter(feeds)

        began = time.monotonic()

        async def worker() -> None:
            for feed in queue:  # one shared iterator: each feed is taken by one worker
                polled = await self._poll(feed)
                if feed.full_text and (polled.parsed is not None or polled.parse_later) and polled.state.polls:
                    polled = await self._with_articles(polled)  # network: outside the turn
                if polled.parsed is None and not polled.parse_later:
                    self._absorb(polled, self.clock(), report)  # not modified, unchanged, failed: cheap
                else:
                    async with self._turn:  # parsing and matching: one feed per loop iteration
                        parsed = polled if polled.parsed is not None else await self._parse(polled)  # big: in a thread
                        self._absorb(parsed, self.clock(), report)
                        await asyncio.sleep(0)  # the turn passes on only in the next iteration
                self.stats.alive_at = self.clock()

        await asyncio.gather(*(worker() for _ in range(min(self.settings.fetch.concurrency, len(feeds)))))
        now = self.clock()
        if now - self._last_prune >= PRUNE_EVERY:
            removed = self.store.prune(now, self.settings.poll.retention)
            self._last_prune = now
            if removed:
                log.info("pruned %d expired keys", removed)
        await self.write_store()
        self.stats.polls += report.polled
        self.stats.hits += report.alerts
        self.stats.observe_cycle(time.monotonic() - began)
        self.delivery.wake()
        self.cycled.set()
        log.info("cycle: %s", report.line())
        return report

    async def _poll(self, feed: Feed) -> Polled:
        known = self.store.feed_state(feed.id)
        state = known if known is not None and known.url == feed.url else FeedState(
            feed.id, feed.url, polls=known.polls if known else 0)
        validators = Validators(state.etag, state.last_modified)
        target = replace(feed, url=state.moved_to) if state.moved_to else feed
        try:
            fetched = await self.fetcher.fetch(target, validators)
        except FeedError as exc:
            return Polled(feed, state, error=exc)
        except Exception as exc:  # a bug must cost one feed one poll, not the loop
            log.exception("unexpected error polling %s", feed.url)
            return Polled(feed, state, error=FeedError("malformed", f"internal error: {type(exc).__name__}"))
        if fetched.not_modified or (state.polls and fetched.body_hash == state.body_hash):
            return Polled(feed, state, fetched)
        if len(fetched.body) <= THREAD_PARSE_BYTES:
            return Polled(feed, state, fetched, parse_later=True)  # parsed on the loop, in its turn
        return await self._parse(Polled(feed, state, fetched), in_thread=True)

    async def _with_articles(self, p: Polled) -> Polled:
        """A full_text feed's new entries with their linked articles' text."""
        if p.parse_later:
            p = await self._parse(p)
        if p.parsed is None or not p.parsed.entries:
            return p
        return replace(p, parsed=replace(p.parsed, entries=tuple(await self.articles.enrich(p.parsed.entries))))

    async def _parse(self, p: Polled, *, in_thread: bool = False) -> Polled:
        """The one parse path (polled bodies, small ones on the loop in their turn, big
        ones in a thread; pushed bodies the same way)."""
        assert p.fetched is not None
        body, url, charset = p.fetched.body, p.fetched.url, charset_of(p.fetched.content_type)
        cap = self.settings.fetch.max_entries
        known = self.store.known_entries(p.feed.id)  # only new entries are normalised
        parse = functools.partial(self.layouts.parse, body, p.feed.id, url, now=self.clock(), max_entries=cap,
                                  charset=charset, known=known, reuse=p.state.polls > 0)
        try:
            if in_thread:
                async with self._parse_slots:
                    parsed = await asyncio.to_thread(parse)
            else:
                parsed = parse()
            return replace(p, parsed=parsed, parse_later=False)
        except FeedError as exc:
            return replace(p, error=exc, parse_later=False)
        except Exception as exc:  # a bug must cost one feed one poll, not the loop
            log.exception("unexpected error parsing %s", p.feed.url)
            return replace(p, error=FeedError("malformed", f"internal error: {type(exc).__name__}"), parse_later=False)

    def _absorb(self, p: Polled, now: float, report: CycleReport) -> None:
        """Write what the pipeline decided about one poll, and queue the alerts of its
        new entries."""
        feed, state = p.feed, p.state  # the pipeline's verdict sets last_polled
        poll = self.settings.poll
        if p.error is not None:
            report.errors += 1
            self.stats.errors[p.error.kind] += 1
            if p.error.message != state.last_error and p.error.kind not in ("throttled", "paced"):
                log.warning("feed %s: %s", feed.url, p.error.message)  # a throttling host is logged once, by the fetcher
            decided = pipeline.absorb_failure(feed, state, p.error, now, poll, self.rng)
            if decided.stopped:
                self._tell_stopped(feed, decided.state, decided.stopped, now)
            self.store.put_feed_state(decided.state)
            return
        fetched = p.fetched
        assert fetched is not None
        if fetched.permanent_url and fetched.permanent_url != state.moved_to:
            log.warning("feed %s moved permanently to %s; polling the new address", feed.url, fetched.permanent_url)
        known = self.store.known_entries(feed.id) if p.parsed is not None else frozenset[str]()
        decided = pipeline.absorb(feed, state, fetched, p.parsed, known, now, poll, self.rng, self.push)
        self.store.put_feed_state(decided.state)
        if not decided.changed:
            report.not_modified += fetched.not_modified
            report.unchanged += not fetched.not_modified
            return
        assert p.parsed is not None
        self.stats.entries_parsed += len(p.parsed.entries) + len(p.parsed.known_keys)
        self.stats.entries_reused += p.parsed.reused
        self.store.remember_entries(feed.id, decided.present, float(int(now)))
        if fetched.body:
            for show in self.on_body:
                show(feed, fetched.body, fetched.link_header)
        report.new_entries += len(decided.fresh)
        title = p.parsed.title or feed.title or decided.state.title
        self.store.remember_recent([pipeline.recent_of(entry, now, *self._route(entry, feed, title, now, report))
                                    for entry in decided.fresh]
                                   + [pipeline.recent_of(entry, now, [pipeline.TOO_OLD]) for entry in decided.old])

    async def absorb_pushed(self, feed: Feed, body: bytes) -> CycleReport:
        """Content a WebSub hub pushed for a feed: parsed and absorbed exactly like a
        polled body (same dedupe, matching, outbox), then written and delivered."""
        report = CycleReport(polled=0)
        state = self.store.feed_state(feed.id) or FeedState(feed.id, feed.url)
        pushed = FetchResult(feed.url, 200, body, state.etag, state.last_modified, "application/xml")
        polled = await self._parse(Polled(feed, state, pushed), in_thread=len(body) > THREAD_PARSE_BYTES)
        if polled.error is not None:
            log.warning("websub: pushed content for %s was unreadable: %s", feed.url, polled.error.message)
            return report
        self._absorb(polled, self.clock(), report)
        await self.write_store()
        self.stats.hits += report.alerts
        self.delivery.wake()
        log.info("push for %s: %d new entries, %d alerts queued", feed.url, report.new_entries, report.alerts)
        return report

    def _tell_stopped(self, feed: Feed, state: FeedState, why: str, now: float) -> None:
        """A feed stopped being polled: say so in the log, and once to every chat that added it."""
        log.error("feed %s stopped: %s (last error: %s)", feed.url, why, state.last_error)
        for dest in sorted(self._subscribers.get(feed.id, ())):
            chat = self.store.destination_state(dest)
            with i18n.speaking(chat.language, chat.locale):
                text = stopped_notice(state.title or feed.url, feed.url, why, state.last_error or "")
            self.store.enqueue(dest, Outgoing(notice=text), f"{dest}:notice:{feed.id}:{int(now)}")

    def _route(self, entry: Entry, feed: Feed, feed_title: str, now: float,
               report: CycleReport) -> tuple[list[Fate], str]:
        """Match one new entry, and queue one alert per destination that wants it (and
        has not announced its story), held for a digest or quiet hours where those apply.
        What became of it for each destination its watches name, and its story thread
        (kept for /why and the alert history)."""
        matches = self._matcher.match(entry, f"{feed_title} {feed.url}")
        applies = [m for m in matches if (w := self._watches.get(m.watch_id)) is not None and self._applies(w, feed)]
        fates = pipeline.snoozed(applies, self._watches, now)
        fired = pipeline.fired_watches(applies, self._watches, lambda w: True, now)
        if not fired:
            return fates, ""
        filed = self.desk.file(entry, feed, feed_title, now)
        spread = pipeline.spread_enough(fired, self._watches, lambda within: len(filed.outlets_within(now, within)))
        settings = {dest: self.store.destination_state(dest) for dest in spread}
        story = pipeline.StoryOf(filed.thread, filed.source, filed.also())
        planned_for = set()
        for planned in pipeline.plan(entry, feed, feed_title, spread, settings, self._watches, now, story):
            planned_for.add(planned.destination)
            ids = tuple(f.watch_id for f in planned.alert.watches)
            message = Outgoing(planned.alert, hold=planned.hold.why if planned.hold.until else "")
            if self.store.claim_and_queue(planned.destination, planned.alert.story_keys, now, message,
                                          planned.alert.id, not_before=planned.hold.until):
                report.alerts += 1
                self.store.count_alert(planned.alert.created_at.strftime("%Y-%m-%d"), planned.destination, ids)
                fates.append(Fate(planned.destination, "held" if planned.hold.until else "alerted", planned.alert.id, ids))
            else:  # told already: the alert sent for its story names this outlet too
                report.repeats += 1
                fates.append(Fate(planned.destination, "repeat", filed.thread, ids))
                self.store.enqueue(planned.destination, Outgoing(coverage=Coverage(filed.thread, filed.source)),
                                   f"{planned.alert.id}:coverage")
        return fates + pipeline.unsent_fates(fired, spread, planned_for, settings, filed.thread), filed.thread
