"""Drains the outbox: one worker per destination, in order, each alert leaving the
outbox only once its platform accepted it. A worker runs while its destination has
alerts that are due, so a chat paced by its platform, or in a flood wait of hours,
holds only its own queue: other chats and the poller carry on."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable, Iterable, Mapping

from bot import i18n
from bot.adapters.base import Adapter, Delivered, Gone, Moved, Rejected, RetryAfter, SendResult
from bot.config import DeliverySettings
from bot.model import Alert, Destination, DestinationName, Digest, Told
from bot.stories import coverage
from bot.stats import Stats
from bot.store.base import OutboxItem, Store, StoreError

log = logging.getLogger("tipoff.delivery")

EDIT_EVERY = 60.0  # an alert's message is edited at most this often (its story's updates wait, and go as one)


KEPT_CONTENT = 4000  # of an entry's content, what an alert kept for its edits holds (without a summary)


def kept_for_edits(alert: Alert) -> Alert:
    """The alert as it is kept for the story window, to be rendered again when edited:
    what its message shows, without the rest of a long article (the excerpt comes from
    the summary, else from the start of the content)."""
    e = alert.entry
    content = "" if e.summary else e.content[:KEPT_CONTENT]
    return replace(alert, entry=replace(e, content=content)) if content != e.content else alert


def backoff_seconds(attempts: int, rng: random.Random, base: float = 5.0, cap: float = 900.0) -> float:
    """Delivery retry delay: `base` doubling per attempt, capped, ±20 %."""
    return min(base * 2.0 ** attempts, cap) * rng.uniform(0.8, 1.2)


class Delivery:
    def __init__(
        self,
        store: Store,
        resolve: Callable[[str], Destination | None],
        adapters: Mapping[str, Adapter],
        clock: Callable[[], float],
        rng: random.Random,
        on_progress: Callable[[], None] = lambda: None,
        retry: DeliverySettings = DeliverySettings(),
    ) -> None:
        self.retry = retry
        self.store = store
        self.resolve = resolve
        self.adapters = adapters
        self.clock = clock
        self.rng = rng
        self.on_progress = on_progress  # called after every outcome (the engine flushes soon)
        self._workers: dict[DestinationName, asyncio.Task[int]] = {}
        self._warned: set[str] = set()
        self._outcomes = 0  # sends answered, of any kind
        self._stopping = False
        self.stats = Stats()  # the engine hands in its own

    def wake(self, names: Iterable[DestinationName] | None = None) -> list[asyncio.Task[int]]:
        """Start a worker for each destination with waiting alerts (all, by default)."""
        if self._stopping:
            return []
        if names is None:
            names = {i.destination for i in self.store.pending()}
        tasks = []
        for name in names:
            task = self._workers.get(name)
            if task is None or task.done():
                task = self._workers[name] = asyncio.ensure_future(self._work(name))
            tasks.append(task)
        return tasks

    async def settle(self) -> int:
        """Wake every destination and wait until none can make progress now: a round
        of workers that records no outcome at all ends it."""
        total = 0
        while True:
            outcomes = self._outcomes
            tasks = self.wake()
            if not tasks:
                return total
            total += sum(await asyncio.gather(*tasks))
            if self._outcomes == outcomes:
                return total

    def reachable(self, kind: str, reason: str) -> None:
        """A platform that could not be reached can be now: what waits for it for that
        reason is sent at once instead of at its next retry."""
        now = self.clock()
        names = set()
        for item in self.store.pending():
            dest = self.resolve(item.destination)
            if dest is not None and dest.kind == kind and item.last_error == reason and item.next_try > now:
                self.store.defer(item.id, now)
                names.add(item.destination)
        self.wake(names)

    def next_retry(self) -> float:
        times = [i.next_try for i in self.store.pending() if self.store.destination_state(i.destination).active]
        return min(times) if times else float("inf")

    async def close(self, grace: float = 2.5) -> None:
        """Stop: every worker finishes the send it is in (for up to `grace` seconds) and
        starts no other; what is left stays in the outbox for the next start."""
        self._stopping = True
        running = [t for t in self._workers.values() if not t.done()]
        if running:
            await asyncio.wait(running, timeout=grace)
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._workers.clear()

    async def _work(self, name: DestinationName) -> int:
        """Deliver a destination's outbox, tipoff's own words in the chat's language."""
        state, dest = self.store.destination_state(name), self.resolve(name)
        configured = dest.option("language") if dest is not None else None
        # the chat's choice (/language), the operator's for the destination, the chat's set-up language
        with i18n.speaking(state.language, str(configured or ""), state.locale):
            return await self._deliver(name)

    async def _deliver(self, name: DestinationName) -> int:
        sent = 0
        while not self._stopping:
            items = self.store.pending(name)
            if not items or not self.store.destination_state(name).active:
                return sent
            now = self.clock()
            if any(i.attempts and i.next_try > now for i in items):
                return sent  # a failed send waits for its retry, and what came after it waits too
            due = sorted((i for i in items if i.next_try <= now), key=lambda i: i.seq)
            unsent = {i.message.alert.story for i in items if i.message.alert is not None and i.message.alert.story}
            # an update waits while its story's alert is still here to send (held for a digest, say)
            due = [i for i in due if i.message.coverage is None or i.message.coverage.story not in unsent]
            if not due:
                return sent  # held for a digest or quiet hours: the engine wakes this destination then
            dest = self.resolve(name)
            adapter = self.adapters.get(dest.kind) if dest else None
            if dest is None or adapter is None:
                self._warn_once(name, "%d alerts wait for %s, which no configured adapter can reach",
                                len(items), name)
                return sent
            held = [i for i in due if i.message.hold]
            digest = bool(due[0].message.hold) and (len(held) > 1 or due[0].message.hold == "digest")
            cover = due[0].message.coverage
            batch = held if digest else [i for i in due if cover is not None and i.message.coverage is not None
                                         and i.message.coverage.story == cover.story] or due[:1]
            try:
                if not await self._still_ours(batch):
                    continue  # another worker sends it, or earlier alerts arrived: look again
                if cover is not None:
                    outcome = await self._update(adapter, dest, cover.story, batch)
                    if outcome is None:
                        continue  # held for its minute, or nothing new to say
                    go_on = all([await self._record_update(name, item, outcome) for item in batch])
                    if not go_on:
                        return sent
                    continue
            except StoreError as exc:  # the shared store is away: nothing is sent until it is back
                self._warn_once(f"store:{name}", "%s: not sending while the store is away (%s)", name, exc)
                return sent
            if digest:
                batch, result = await self._send_digest(adapter, dest, held)
            else:
                result = await self._send(adapter, dest, due[0])
            for item in batch:
                go_on = await self._record(name, item, result, in_digest=digest)
            if not go_on:
                return sent
            sent += len(batch) if isinstance(result, Delivered) else 0
        return sent

    async def _still_ours(self, items: list[OutboxItem]) -> bool:
        """Ask the store, right before sending, whether these are still this process's
        to send now (with several workers on one store, see Store.ready_to_send)."""
        for item in items:
            if not await self.store.ready_to_send(item.id):
                return False
        return True

    async def _send_digest(self, adapter: Adapter, dest: Destination,
                           held: list[OutboxItem]) -> tuple[list[OutboxItem], SendResult]:
        """Send the first message of the digest these held alerts make; the rest go in
        the next round (each part leaves the outbox once its message was accepted)."""
        why = "digest" if any(i.message.hold == "digest" for i in held) else "quiet"
        whole = Digest(dest.name, tuple(i.message.alert for i in held if i.message.alert is not None), why)
        parts = adapter.split_digest(whole)
        first = parts[0]
        batch = held[:len(first.alerts)]
        try:
            return batch, await adapter.send_digest(dest, first)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("adapter error delivering a digest to %s", dest.name)
            return batch, RetryAfter(None, f"internal error: {type(exc).__name__}")

    async def _send(self, adapter: Adapter, dest: Destination, item: OutboxItem) -> SendResult:
        try:
            if item.message.alert is None:
                return await adapter.notify(dest, item.message.notice)
            return await adapter.send(dest, item.message.alert)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an adapter bug must not lose the alert or stop delivery
            log.exception("adapter error delivering %s", item.id)
            return RetryAfter(None, f"internal error: {type(exc).__name__}")

    async def _update(self, adapter: Adapter, dest: Destination, story: str,
                      batch: list[OutboxItem]) -> SendResult | None:
        """Tell a story's alert of the outlets these items add: its message is edited (at
        most once a minute: sooner, the items wait for their minute and are sent as one).
        None when nothing is to be sent now; an update that cannot be made (no alert was
        sent for the story here, its message is gone) is dropped, never sent as an alert."""
        now = self.clock()
        told = await self.store.told(dest.name, story)
        if told is None or told.closed:
            why = told.closed if told is not None else "no alert of it was sent here within the story window"
            log.info("%s: update of story %s dropped: %s", dest.name, story, why)
            return Rejected(why)
        new = coverage.added_sources(told.alert, [i.message.coverage.source for i in batch if i.message.coverage])
        if not new:
            for item in batch:
                await self.store.acknowledge(item.id)  # every outlet they name is named already
            return None
        if now < told.edited_at + EDIT_EVERY:
            for item in batch:
                self.store.defer(item.id, told.edited_at + EDIT_EVERY)
            return None
        grown = replace(told, alert=replace(told.alert, also=told.alert.also + new), edited_at=now)
        try:
            result = await adapter.update(dest, grown, new)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an adapter bug must not stop delivery
            log.exception("adapter error updating story %s for %s", story, dest.name)
            return RetryAfter(None, f"internal error: {type(exc).__name__}")
        if isinstance(result, Delivered):
            self.store.remember_told(grown)
            self.stats.updated[dest.kind] += 1
        elif isinstance(result, (Rejected, Gone)):
            self.store.remember_told(replace(told, closed=result.reason))
            log.warning("%s: the alert for story %s cannot be updated (%s); its updates are dropped",
                        dest.name, story, result.reason)
        return result

    async def _record_update(self, name: DestinationName, item: OutboxItem, result: SendResult) -> bool:
        """Store an update's outcome: made, or impossible (dropped), it leaves the outbox;
        a destination that is gone or moved is handled as for an alert."""
        if isinstance(result, (Delivered, Rejected)):
            self._outcomes += 1
            await self.store.acknowledge(item.id)
            self.on_progress()
            return True
        return await self._record(name, item, result)

    async def _record(self, name: DestinationName, item: OutboxItem, result: SendResult,
                      in_digest: bool = False) -> bool:
        """Store the outcome; True when the worker should go on to the next alert."""
        now = self.clock()
        self._outcomes += 1
        try:
            if isinstance(result, Delivered):
                await self.store.acknowledge(item.id)
                alert = item.message.alert
                if alert is not None and alert.story:  # what later reports of its story update
                    self.store.remember_told(Told(name, alert.story, kept_for_edits(alert), result.receipt, now,
                                                  in_digest))
                self._count_sent(name, now)
                dest = self.resolve(name)
                self.stats.sent[dest.kind if dest else "unknown"] += 1
                return True
            if isinstance(result, RetryAfter):
                wait = result.seconds if result.seconds is not None else backoff_seconds(
                    item.attempts, self.rng, self.retry.retry_base, self.retry.retry_max)
                self.store.postpone(item.id, now + wait, result.reason)
                self._note_error(name, result.reason, now)
                log.warning("%s: %s; retrying in %.0fs", name, result.reason, wait)
                return False
            if isinstance(result, Moved):
                log.warning("%s moved to %s; its feeds, watches and alerts move with it", name, result.to)
                self.store.rename_destination(name, DestinationName(result.to))
                self.wake([DestinationName(result.to)])
                return False
            if isinstance(result, Rejected):
                await self.store.acknowledge(item.id)  # retrying cannot help; say so once, loudly
                self._note_error(name, result.reason, now)
                log.error("%s refused alert %s for good: %s", name, item.id, result.reason)
                return True
            assert isinstance(result, Gone)
            state = self.store.destination_state(name)
            self.store.put_destination_state(replace(state, active=False, reason=result.reason, since=now))
            log.error("%s is gone (%s); its alerts stay in the outbox", name, result.reason)
            return False
        finally:
            self.on_progress()

    def _count_sent(self, name: DestinationName, now: float) -> None:
        state = self.store.destination_state(name)
        day = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%d")
        sent = (state.sent_today if state.day == day else 0) + 1
        self.store.put_destination_state(replace(state, sent_today=sent, day=day, last_sent=now))

    def _note_error(self, name: DestinationName, reason: str, now: float) -> None:
        state = self.store.destination_state(name)
        self.store.put_destination_state(replace(state, last_error=reason, last_error_at=now))

    def _warn_once(self, key: str, msg: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(msg, *args)
