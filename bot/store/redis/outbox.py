"""The outbox on Redis: a stream read through a consumer group, one sender per
destination (its lease), hand-overs between workers, the check right before each send,
and handing everything over when a worker stops."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from redis.exceptions import RedisError

from bot.model import DestinationName, Outgoing
from bot.store.base import OutboxItem
from bot.store.redis.base import RedisBase, log, reaching_redis
from bot.store.redis.encoding import decode_entries, item_from, stream_order
from bot.store.redis.keys import GROUP
from bot.store.redis.scripts import BEGIN_SEND, HAND_BACK, RECLAIM, ROUTE
from bot.store.redis.survey import roll_call

FORGET_AFTER = 86400.0  # a worker not seen this long, holding nothing, is forgotten
FORGET_EVERY = 600.0  # how often a worker looks for such


class OutboxOnRedis(RedisBase):
    def enqueue(self, destination: DestinationName, message: Outgoing, item_id: str,
                not_before: float = 0.0) -> None:
        """Queue an alert that claims no story (a notice to a chat)."""
        self._queue(destination, message, item_id, not_before)

    def pending(self, destination: DestinationName | None = None) -> list[OutboxItem]:
        """Alerts this worker holds through the consumer group (each entry is held by
        one worker: whoever read it first), once committed."""
        if self._name_lost or self._left:
            return []
        return [i for i in self._outbox.values()
                if (destination is None or i.destination == destination) and i.id not in self._unflushed
                and i.id in self._stream_ids]

    @reaching_redis
    async def ready_to_send(self, item_id: str) -> bool:
        """Asked right before sending (see BEGIN_SEND): True when this worker is to send
        this alert now. False when it is not this worker's any more (it is dropped here),
        or when alerts of its destination queued before it were not here yet (they are
        now): look at pending() again."""
        entry = self._stream_ids.get(item_id)
        if entry is None or self._name_lost or self._left:
            return False
        answer = await self._require().eval(BEGIN_SEND, 1, self._k("outbox"), GROUP, self.consumer,
                                            int(self.lease * 1000), self._k(""), entry)
        if not int(answer[0]):
            self._drop_entry(item_id)
            self._outbox.pop(item_id, None)
            self._dirty["outbox"].discard(item_id)
            log.info("alert %s is not this worker's to send any more; left to its destination's sender", item_id)
            return False
        here = set(self._stream_ids.values())
        earlier = [e.decode() for e in answer[1:] if e.decode() not in here]
        if not earlier:
            return True
        await self._load_items(await self._entries(earlier), [])
        return False

    async def acknowledge(self, item_id: str) -> None:
        """The platform accepted it: XACK and remove it in Redis before the next send.
        With Redis away, the acknowledgement is owed: made before anything else once it
        is back (until then this worker keeps the entry, so nobody sends it again)."""
        self._outbox.pop(item_id, None)
        self._dirty["outbox"].discard(item_id)
        entry, dest = self._drop_entry(item_id)
        try:
            async with self._require().pipeline(transaction=True) as pipe:
                self._forget_entry(pipe, item_id, entry, dest)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._owed_acks[item_id] = (entry, dest)
            self.outage = f"cannot reach Redis at {self.safe_url()}: {exc}"[:300]
            log.error("%s was delivered, but Redis is away (%s): its acknowledgement waits for Redis", item_id, exc)

    async def _take(self, start: str) -> None:
        """Read outbox entries through the consumer group as this consumer: `>` for new
        ones, `0` for ours still pending (after a restart). Those of destinations another
        worker sends for are handed to it; the rest stay pending, owned by us, until
        acknowledged after the platform accepted them."""
        r = self._require()
        while True:
            answer = await r.xreadgroup(GROUP, self.consumer, {self._k("outbox"): start}, count=1000)
            entries = answer[0][1] if answer else []
            if not entries:
                break
            await self._adopt(decode_entries(entries))
            if start == "0":
                start = entries[-1][0].decode()  # page through our pending entries
            elif len(entries) < 1000:
                break
        # what this worker queued but another read first is that worker's to send
        for item_id in [i for i in self._outbox if i not in self._stream_ids and i not in self._unflushed]:
            del self._outbox[item_id]

    async def _adopt(self, entries: list[tuple[str, str, str]]) -> int:
        """Keep the (entry, item id, destination) triples whose destination this worker
        may send for (taking or renewing its sender lease) and load their items; hand
        the others to their destination's sender. Returns how many were new here."""
        if not entries:
            return 0
        r = self._require()
        pairs = [x for entry, _, dest in entries for x in (entry, dest)]
        kept = {k.decode() for k in await r.eval(ROUTE, 1, self._k("outbox"), GROUP, self.consumer,
                                                 int(self.lease * 1000), self._k(""), *pairs)}
        return await self._load_items([t for t in entries if t[0] in kept],
                                      [i for e, i, _ in entries if e not in kept])

    async def _load_items(self, kept: list[tuple[str, str, str]], handed: list[str]) -> int:
        for item_id in handed:  # another worker sends for that destination now
            self._drop_entry(item_id)
            if item_id not in self._unflushed:
                self._outbox.pop(item_id, None)
        for entry, item_id, dest in kept:
            self._stream_ids[item_id] = entry
            self._entry_dests[entry] = DestinationName(dest)
        missing = [(e, i) for e, i, _ in kept if i not in self._outbox]
        new = 0
        if missing:
            raws = await self._require().hmget(self._k("outbox", "items"), [i for _, i in missing])
            for (entry, _), raw in zip(missing, raws):
                if raw is not None:
                    item = item_from(raw)
                    self._next_seq = max(self._next_seq, item.seq + 1)
                    self._outbox[item.id] = item
                    new += 1
        for entry, item_id, _ in kept:  # delivery order is queueing order in Redis, whoever queued it
            held = self._outbox.get(item_id)
            if held is not None:
                self._outbox[item_id] = replace(held, seq=stream_order(entry))
        return new

    def _forget_item(self, pipe: Any, item_id: str) -> None:
        entry, dest = self._drop_entry(item_id)
        self._forget_entry(pipe, item_id, entry, dest)

    @reaching_redis
    async def reclaim_stale(self) -> int:
        """Take over outbox entries: those another worker handed to this one (it reads
        the stream, we send for their destination), and those a worker took and never
        acknowledged within the lease (it died). Returns how many are new here. Now and
        then, also forgets workers long gone."""
        r = self._require()
        if time.monotonic() >= self._next_forget:
            self._next_forget = time.monotonic() + FORGET_EVERY
            departed = await self.forget_departed()
            if departed:
                log.info("forgot workers not seen for a day, holding nothing: %s", ", ".join(departed))
        async with r.pipeline(transaction=True) as pipe:
            pipe.lrange(self._k("handed", self.consumer), 0, -1)
            pipe.delete(self._k("handed", self.consumer))
            handed, _ = await pipe.execute()
        taken = 0
        if handed:  # handed on again if the destination changed hands meanwhile
            taken += await self._adopt(await self._entries(handed))
        idle = int(self.lease * 1000)
        start = "-"
        while True:
            stale = await r.xpending_range(self._k("outbox"), GROUP, min=start, max="+", count=500, idle=idle)
            if not stale:
                return taken
            pairs = [x for p in stale if p["consumer"].decode() != self.consumer
                     for x in (p["message_id"].decode(), p["consumer"].decode())]
            if pairs:
                kept = [k.decode() for k in await r.eval(RECLAIM, 1, self._k("outbox"), GROUP, self.consumer,
                                                         idle, idle, self._k(""), *pairs)]
                if kept:
                    taken += await self._load_items(await self._entries(kept), [])
            if len(stale) < 500:
                return taken
            start = "(" + stale[-1]["message_id"].decode()

    async def forget_departed(self, after: float = FORGET_AFTER) -> list[str]:
        """Drop workers gone for longer than `after` seconds and holding nothing from the
        consumer group and from `seen` (`tipoff workers` would list them forever: in
        containers a worker's name, the host name, is new at every deploy). Returns them."""
        r = self._require()
        now, seen, consumers = await roll_call(r, self.p)
        holding = set()
        gone = []
        for name, pending, idle_ms in consumers:
            quiet = min(idle_ms / 1000, now - seen.get(name, 0))
            if name == self.consumer or pending or quiet <= after:
                holding.add(name)
                continue
            await r.xgroup_delconsumer(self._k("outbox"), GROUP, name)
            gone.append(name)
        stale = [w for w, t in seen.items() if now - t > after and w not in holding and w != self.consumer]
        if stale:
            await r.hdel(self._k("seen"), *stale)
        return sorted(set(gone) | set(stale))

    async def _entries(self, ids: list[Any]) -> list[tuple[str, str, str]]:
        """(entry, item id, destination) of these stream entries, those still there."""
        async with self._require().pipeline(transaction=False) as pipe:
            for entry in ids:
                pipe.xrange(self._k("outbox"), entry, entry)
            rows = await pipe.execute()
        return decode_entries([row for found in rows for row in found])

    @reaching_redis
    async def hand_back(self, force: bool = False) -> bool:
        """Stopping: hand this worker's alerts to the other workers and make its unpolled
        feeds due again, so nothing waits for its leases to run out (see HAND_BACK).
        Unless `force`d, False while alerts handed to this worker wait to be read: take
        them (reclaim_stale), send them, and ask again. Once it succeeded, the worker has
        left: it reads no more alerts."""
        if self._left:
            return True
        if self._name_lost:  # not ours to hand: the process holding the name has them
            self._left = True
            return True
        r = self._require()
        owned = await r.xpending_range(self._k("outbox"), GROUP, min="-", max="+", count=100000,
                                       consumername=self.consumer)
        entries = [p["message_id"].decode() for p in owned]
        due: list[str | float] = []
        for fid in sorted(self._leased):
            state = self._feeds.get(fid)
            due += [fid, (state.next_due or 0.0) if state else 0.0]
        done = await r.eval(HAND_BACK, 2, self._k("outbox"), self._k("due"), GROUP, self.consumer,
                            int(self.lease * 1000) * 10, self._k(""), 1 if force else 0, self._token,
                            int(self.lease * 1000), len(entries), *entries, *due)
        if not done:
            return False
        self._left = True
        self._leased.clear()
        for item_id in list(self._stream_ids):  # every entry went to another worker
            self._outbox.pop(item_id, None)
        self._stream_ids.clear()
        return True
