"""The Store on Redis (redis-py's asyncio client), selected with `[store] url =
"redis://…"`.

Like the TinyDB store, it keeps what the engine reads often in memory and makes a poll
cycle's changes durable in one `flush()`; the commit point is Redis instead of a file.
What must be decided across processes is decided in Redis, atomically:

- A story claim is a set of keys `story:{dest}:{key}` created with SET NX semantics and
  an expiry (headline and story-thread keys for the story window, ids and URLs for the retention), by a
  Lua script that also queues the alert: so two workers can never both announce one
  story, and an alert is queued exactly when its claim is made.
- The outbox is a Redis Stream read through a consumer group; an alert's entry is
  acknowledged (XACK) and removed only after the platform accepted it.
- One worker at a time sends a destination's alerts, whichever worker queued them: the
  holder of its sender lease. Entries read by another worker are handed to it, so a
  chat's alerts go out in the order Redis queued them, and a retry holds back the rest.
  Right before each send it checks that the entry is still its own and takes every
  older entry of the destination's queue (BEGIN_SEND).
- A worker's name (its consumer in the group) is held by one live process at a time
  (HOLD_NAME): two under one name would each send the other's alerts.

Layout (every key under the configured prefix, "tipoff:" by default): `meta` (hash),
`feeds` (hash fid → FeedState JSON), `known:{fid}` (hash entry key → time),
`story:{dest}:{key}` (string, with expiry), `outbox` (stream), `outbox:items` (hash id →
item JSON: attempts and retry times change), `sender:{dest}` (the worker sending for a
destination, with expiry), `handed:{worker}` (list of entries handed to a worker), `due`
(sorted set fid → due time), `lease:{fid}`, `lock:{name}`, `turn:{name}` (strings with
expiry), `workers` (sorted set worker → last sign of life, for the shard election),
`seen` (hash worker → when it last asked for due feeds), `alive:{worker}` (the process
holding a worker's name, with expiry), `names` (set of workers' names), `queue:{dest}`
(list: a destination's stream entries not yet acknowledged, in order), `agreed:{name}`,
`settings:version`, `dests`, `subs`, `watches` (hashes of JSON), `headlines` (hash key →
the JSON of a headline that fired a watch), `told:{dest}:{story}` (the alert a chat was sent for a
story, what its updates edit; expires with the story window) and `headlines:at` (sorted set key → when
seen), the story index's memory across restarts and workers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timezone
from typing import Iterable

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot import dedupe
from bot.model import DestinationName, FeedId, Outgoing, RecentEntry, Reported, Told
from bot.store.base import SCHEMA_VERSION, FeedState, SharedStore, StoreError
from bot.store.codec import destination_to_dict, subscription_to_dict, watch_to_dict
from bot.store.redis.base import log, reaching_redis
from bot.store.redis.encoding import CHAT_TABLES, item_json, state_from, write_records
from bot.store.redis.keys import GROUP
from bot.store.records import COUNT_DAYS, count_key_parts
from bot.store.redis.outbox import OutboxOnRedis
from bot.store.redis.scripts import BUILD_QUEUES, CLAIM_AND_QUEUE, RENEW_SENDERS
from bot.store.redis.sharing import WorkersOnRedis


class RedisStore(OutboxOnRedis, WorkersOnRedis):
    async def open(self) -> None:
        # bounded waits: a Redis that is down must not hold the loop's work for long
        self._r = aioredis.from_url(self.url, socket_connect_timeout=5, socket_timeout=15)
        try:
            await self._r.ping()
            await self._check_persistence()
            meta = await self._r.hgetall(self._k("meta"))
            version = int(meta.get(b"schema", SCHEMA_VERSION))
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.safe_url()} was written by a newer tipoff (schema {version})")
            await self._r.hset(self._k("meta"), "schema", SCHEMA_VERSION)
            try:
                await self._r.xgroup_create(self._k("outbox"), GROUP, id="0", mkstream=True)
            except RedisError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            await self._take_name()
            await self._r.eval(BUILD_QUEUES, 2, self._k("outbox"), self._k("meta"), self._k(""))
            await self._r.hsetnx(self._k("meta"), "epoch", uuid.uuid4().hex)
            self._epoch = (await self._r.hget(self._k("meta"), "epoch")).decode()
            # the version before reading: a change made while we read is seen at the next refresh
            self._settings_version = int(await self._r.get(self._k("settings", "version")) or 0)
            await self._load()
            self._keeper = asyncio.ensure_future(self._keep_alive())
        except (RedisError, OSError) as exc:
            raise StoreError(f"cannot use the Redis store at {self.safe_url()}: {exc}") from None

    async def _check_persistence(self) -> None:
        """Warn when Redis keeps nothing on disk: a restart of it would lose chats' feeds,
        watches and settings and the alerts waiting (CONFIG may be disabled: then say nothing)."""
        try:
            aof = str((await self._r.config_get("appendonly")).get("appendonly", ""))
            save = str((await self._r.config_get("save")).get("save", ""))
        except RedisError:
            return
        if aof != "yes" and not save.strip():
            log.warning("Redis at %s keeps nothing on disk (appendonly no, save \"\"): if it restarts, chats' "
                        "feeds, watches and settings and the alerts waiting are gone. Set appendonly yes "
                        "(docs/operations.md)", self.safe_url())

    async def _load(self) -> None:
        r = self._require()
        for raw in (await r.hgetall(self._k("feeds"))).values():
            state = state_from(raw)
            self._feeds[state.feed_id] = state
        async with r.pipeline(transaction=False) as pipe:
            ids = list(self._feeds)
            for fid in ids:
                pipe.hgetall(self._k("known", fid))
            for fid, known in zip(ids, await pipe.execute()):
                if known:
                    self._known[fid] = {k.decode(): float(v) for k, v in known.items()}
        await self._take("0")  # ours from before a restart
        await self._take(">")  # and everything not yet taken
        self._subs, self._watches, self._dests = await self._read_chats()

    async def _keep_alive(self) -> None:
        """Keep the outbox entries this worker holds fresh (idle time reset by claiming
        them to itself), so that others take them over only when it has really stopped,
        not while they wait their turn here (per-destination order, a retry); and keep
        the sender leases of their destinations."""
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                if self._left:
                    return
                if self._owed_acks:
                    await self._pay_owed_acks()
                await self._check_epoch()
                if not self._name_lost and not await self._hold_name(self.consumer, take=True):
                    self._name_lost = True
                    log.error("worker %r stalled past its lease and another process holds its name now; this "
                              "process sends nothing more: restart it", self.consumer)
                if self._name_lost:
                    continue
                held = {entry for item_id, entry in self._stream_ids.items() if item_id in self._outbox}
                owned = await self._require().xpending_range(self._k("outbox"), GROUP, min="-", max="+",
                                                             count=100000, consumername=self.consumer)
                # only entries the group still says are ours: never steal one back
                mine = [p["message_id"] for p in owned if p["message_id"].decode() in held]
                for start in range(0, len(mine), 500):
                    await self._require().xclaim(self._k("outbox"), GROUP, self.consumer, 0,
                                                 mine[start:start + 500], justid=True)
                # and stay the sender of their destinations while they wait here
                senders = sorted({self._k("sender", i.destination) for i in self._outbox.values()
                                  if i.id in self._stream_ids})
                for start in range(0, len(senders), 500):
                    lost = await self._require().eval(RENEW_SENDERS, len(senders[start:start + 500]),
                                                      *senders[start:start + 500], self.consumer,
                                                      int(self.lease * 1000))
                    if lost:
                        log.warning("%d destinations this worker holds alerts for are sent by another "
                                    "worker now (this one stalled past the lease)", lost)
            except (RedisError, OSError, StoreError) as exc:
                self.outage = f"cannot reach Redis at {self.safe_url()}: {exc}"[:300]
                log.warning("could not refresh this worker's outbox entries: %s", exc)

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            try:
                await self._keeper
            except (asyncio.CancelledError, Exception):
                pass
            self._keeper = None
        if self._r is not None:
            try:
                await self.flush()
                await self.hand_back(force=True)
            except (RedisError, OSError, StoreError) as exc:  # they come back when the leases run out
                log.warning("could not hand back this worker's alerts and feeds: %s", exc)
            await self._r.aclose()
            self._r = None

    async def flush(self) -> None:
        async with self._flush_lock:
            try:
                if self._owed_acks:
                    await self._pay_owed_acks()
                await asyncio.shield(self._commit())
                self.write_error = self.outage = None
                if self._restoring:
                    self._restoring, self.data_lost = False, None
                    log.warning("restored what this worker held into the emptied Redis at %s", self.safe_url())
            except (RedisError, OSError) as exc:
                self.write_error = f"cannot write to Redis at {self.safe_url()}: {exc}"
                raise StoreError(self.write_error) from None

    async def _commit(self) -> None:
        r = self._require()
        renames, self._renames = self._renames, []
        for old, new in renames:
            await self._rename_stories(old, new)
        for item_id in [i for i in self._unflushed if i not in self._outbox]:
            self._unflushed.discard(item_id)
            self._claims.pop(item_id, None)
        # claims and their alerts, one atomic script each, in the order they were queued:
        # the stream's order is the order they are sent in
        landing = sorted(self._unflushed, key=lambda i: self._outbox[i].seq)
        script = r.register_script(CLAIM_AND_QUEUE)
        for item_id in landing:
            item = self._outbox[item_id]
            claim = self._claims.pop(item_id, None)
            dest, keys, now = claim if claim is not None else (item.destination, (), 0.0)  # a notice: no claim
            story_keys = [self._k("story", dest, k) for k in keys]
            ttls = [int(self.story_window) if dedupe.is_title_key(k) else int(self.retention) for k in keys]
            ok = await script(keys=[*story_keys, self._k("outbox", "items"), self._k("outbox"),
                                    self._k("queue", dest)],
                              args=[*ttls, item.id, item_json(item), dest, int(now)])
            if not ok:  # announced meanwhile by another worker: not ours to send
                self._outbox.pop(item.id, None)
                log.info("%s: story already announced by another worker; dropped %s", dest, item.id)
            self._unflushed.discard(item.id)
        for item_id in landing:
            self._unflushed.discard(item_id)
        self._claimed_here.clear()
        async with r.pipeline(transaction=True) as pipe:
            for fid in self._dirty["feeds"]:
                state = self._feeds.get(FeedId(fid))
                if state is None:
                    pipe.hdel(self._k("feeds"), fid)
                    pipe.delete(self._k("known", fid))
                else:
                    pipe.hset(self._k("feeds"), fid, orjson.dumps(state))
                    if state.stopped:
                        pipe.zrem(self._k("due"), fid)
                    elif state.next_due is not None:  # polled: its next turn, for whichever worker
                        pipe.zadd(self._k("due"), {fid: state.next_due})
                    pipe.delete(self._k("lease", fid))
            for fid, added in self._new_known.items():
                if added:
                    pipe.hset(self._k("known", fid), mapping={k: int(v) for k, v in added.items()})
            for fid, gone in self._gone_known.items():
                if gone:
                    pipe.hdel(self._k("known", fid), *gone)
            for item_id in self._dirty["outbox"]:
                changed = self._outbox.get(item_id)
                if changed is None:
                    self._forget_item(pipe, item_id)
                else:
                    pipe.hset(self._k("outbox", "items"), item_id, item_json(changed))
            write_records(pipe, self._k("dests"), self._dirty["destinations"], self._dests, destination_to_dict)
            write_records(pipe, self._k("subs"), self._dirty["subscriptions"], self._subs, subscription_to_dict)
            write_records(pipe, self._k("watches"), self._dirty["watches"], self._watches, watch_to_dict)
            for key in self._dirty["headlines"]:
                reported = self._reported.get(key)
                if reported is None:
                    pipe.hdel(self._k("headlines"), key)
                    pipe.zrem(self._k("headlines", "at"), key)
                else:
                    pipe.hset(self._k("headlines"), key, orjson.dumps(reported.to_dict()))
                    pipe.zadd(self._k("headlines", "at"), {key: reported.seen_at})
            for key in self._dirty["counts"]:  # added to every worker's count, kept COUNT_DAYS days
                n = self._counts.pop(key, 0)
                if n:
                    day, _, field = key.partition("\x00")
                    pipe.hincrby(self._k("counts", day), field, n)
                    pipe.expire(self._k("counts", day), COUNT_DAYS * 86400)
            fresh, self._recent_new = self._recent_new, []
            for entry in fresh:  # every worker's, read from Redis when asked (not kept here)
                pipe.hset(self._k("recent"), entry.key, orjson.dumps(entry.to_dict()))
                pipe.zadd(self._k("recent", "at"), {entry.key: entry.seen_at})
            for key in self._dirty["told"]:  # a forgotten one is left to expire
                if (told := self._told.get(key)) is not None:
                    pipe.set(self._k("told", told.destination, told.story), orjson.dumps(told.to_dict()),
                             ex=max(1, int(self.story_window)))
            if self._headlines_before is not None:  # every worker's, past the story window
                pipe.zremrangebyscore(self._k("headlines", "at"), "-inf", f"({self._headlines_before}")
            if any(self._dirty[t] for t in CHAT_TABLES):  # other workers re-read chats' settings then
                pipe.incr(self._k("settings", "version"))
            self._new_known.clear()
            self._gone_known.clear()
            self._leased.difference_update(FeedId(fid) for fid in self._dirty["feeds"])  # leases deleted
            for names in self._dirty.values():
                names.clear()
            await pipe.execute()
        if self._recent_before is not None:
            await self._forget_recent_in_redis(self._recent_before)
            self._recent_before = None
        if not self._left:
            await self._take(">")

    async def _rename_stories(self, old: DestinationName, new: DestinationName) -> None:
        r = self._require()
        async for key in r.scan_iter(match=self._k("story", old, "*"), count=500):
            suffix = key.decode()[len(self._k("story", old, "")):]
            await r.rename(key, self._k("story", new, suffix))

    def remember_headline(self, reported: Reported, keep_after: float) -> None:
        super().remember_headline(reported, keep_after)
        self._headlines_before = keep_after

    @reaching_redis
    async def recent_headlines(self, since: float) -> list[Reported]:
        """Every worker's headlines since then (this one's not yet written included)."""
        r = self._require()
        keys = await r.zrangebyscore(self._k("headlines", "at"), since, "+inf")
        found = {reported.key: reported for reported in await super().recent_headlines(since)}
        if keys:
            for raw in await r.hmget(self._k("headlines"), keys):
                if raw is not None:
                    reported = Reported.from_dict(orjson.loads(raw))
                    found.setdefault(reported.key, reported)
        return sorted(found.values(), key=lambda rep: rep.seen_at)

    @reaching_redis
    async def spend(self, token_id: str, until: float) -> bool:
        """Use up a one-time token in Redis (every worker sees it spent at once)."""
        ttl = max(1, int(until - time.time()) + 1)
        return bool(await self._require().set(self._k("spent", token_id), 1, nx=True, ex=ttl))

    @reaching_redis
    async def spent(self, token_id: str) -> bool:
        return bool(await self._require().exists(self._k("spent", token_id)))

    @reaching_redis
    async def alert_counts(self, since_day: str) -> list[tuple[str, str, str, int]]:
        """Every worker's counts (this one's not yet written included)."""
        r = self._require()
        out: dict[tuple[str, str, str], int] = {}
        async for key in r.scan_iter(match=self._k("counts", "*"), count=200):
            day = key.decode().rsplit(":", 1)[-1]
            if day < since_day:
                continue
            for field, n in (await r.hgetall(key)).items():
                dest, watch = field.decode().split("\x00")
                out[(day, dest, watch)] = int(n)
        for k, n in self._counts.items():
            parts = count_key_parts(k)
            if parts[0] >= since_day:
                out[parts] = out.get(parts, 0) + n
        return [(*k, n) for k, n in out.items()]

    def remember_recent(self, entries: list[RecentEntry]) -> None:
        self._recent_new.extend(entries)  # written at the commit; read back from Redis

    @reaching_redis
    async def recent_entries(self, since: float) -> list[RecentEntry]:
        """Every worker's new entries since then (this one's not yet written included)."""
        r = self._require()
        keys = await r.zrangebyscore(self._k("recent", "at"), since, "+inf")
        found: dict[str, RecentEntry] = {}
        for start in range(0, len(keys), 1000):
            for raw in await r.hmget(self._k("recent"), keys[start:start + 1000]):
                if raw is not None:
                    entry = RecentEntry.from_dict(orjson.loads(raw))
                    found[entry.key] = entry
        for entry in self._recent_new:
            if entry.seen_at >= since:
                found[entry.key] = entry
        return sorted(found.values(), key=lambda e: e.seen_at)

    async def _forget_recent_in_redis(self, before: float) -> int:
        r = self._require()
        old = await r.zrangebyscore(self._k("recent", "at"), "-inf", f"({before}")
        if old:
            async with r.pipeline(transaction=True) as pipe:
                pipe.hdel(self._k("recent"), *old)
                pipe.zrem(self._k("recent", "at"), *old)
                await pipe.execute()
        return len(old)

    @reaching_redis
    async def told(self, destination: DestinationName, story: str) -> Told | None:
        """The alert sent for a story (by whichever worker sent it)."""
        here = await super().told(destination, story)
        if here is not None:
            return here
        raw = await self._require().get(self._k("told", destination, story))
        return Told.from_dict(orjson.loads(raw)) if raw is not None else None

    def remember_entries(self, feed_id: FeedId, keys: Iterable[str], now: float) -> None:
        known = self._known.setdefault(feed_id, {})
        new = self._new_known.setdefault(feed_id, {})
        stamp = float(int(now))
        for key in keys:
            known[key] = stamp
            new[key] = stamp
        if feed_id not in self._feeds:
            self.put_feed_state(FeedState(feed_id=feed_id, url=""))

    def claim_and_queue(self, destination: DestinationName, keys: Iterable[str], now: float,
                        message: Outgoing, item_id: str, not_before: float = 0.0) -> bool:
        """Claim the story and queue its alert. Refused at once when this process claimed
        it already; made for good in Redis at the next flush, by one script with the
        queueing (CLAIM_AND_QUEUE), or refused there when another worker was first (the
        alert is then dropped, and logged)."""
        keys = tuple(keys)
        mine = self._claimed_here.setdefault(destination, {})
        if dedupe.is_repeat(keys, mine, datetime.fromtimestamp(now, timezone.utc)):
            return False
        if not self._queue(destination, message, item_id, not_before):
            return False
        for key in keys:
            mine[key] = now
        self._claims[item_id] = (destination, keys, now)
        return True

    async def _check_epoch(self) -> None:
        """A Redis that restarted without its data (no AOF, no snapshot) has lost the
        mark this store's data carries: say so loudly, and restore what this worker
        holds in memory (chats' feeds, watches and settings, feed states and known
        entries, the alerts it holds) at the next commit. Announced stories are lost."""
        epoch = await self._require().hget(self._k("meta"), "epoch")
        if epoch is not None and epoch.decode() == self._epoch:
            return
        r = self._require()
        await r.hsetnx(self._k("meta"), "epoch", self._epoch)  # the first worker to notice marks it again
        await r.hset(self._k("meta"), mapping={"schema": SCHEMA_VERSION, "queues": "1"})
        try:
            await r.xgroup_create(self._k("outbox"), GROUP, id="0", mkstream=True)
        except RedisError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._epoch = (await r.hget(self._k("meta"), "epoch")).decode()
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        self.data_lost = (f"Redis at {self.safe_url()} came back empty at {when}: restoring chats' setup and "
                          "waiting alerts from memory (see the log)")
        log.critical("Redis at %s came back EMPTY (restarted without persistence?): chats' feeds, watches and "
                     "settings, feed states and waiting alerts were gone from it. This worker restores what it "
                     "holds: %d chats' feeds, %d watches, %d destinations' settings, %d feed states, %d alerts. "
                     "Stories announced before are forgotten and may be announced again. Give Redis "
                     "persistence (appendonly yes).", self.safe_url(), len(self._subs), len(self._watches),
                     len(self._dests), len(self._feeds), len(self._outbox))
        self._dirty["feeds"].update(self._feeds)
        self._dirty["subscriptions"].update(self._subs)
        self._dirty["watches"].update(self._watches)
        self._dirty["destinations"].update(self._dests)
        for fid, known in self._known.items():
            self._new_known.setdefault(fid, {}).update(known)
        self._unflushed.update(self._outbox)  # queued again (without their lost story keys)
        self._claims = {i: c for i, c in self._claims.items() if i in self._outbox}
        self._stream_ids.clear()
        self._entry_dests.clear()
        self._scheduled.clear()
        self._owed_acks.clear()
        self._restoring = True

    def rename_destination(self, old: DestinationName, new: DestinationName) -> None:
        """Move everything a destination has to a new name; its story keys are renamed
        in Redis at the next commit."""
        self._move_records(old, new)
        self._renames.append((old, new))

    def prune(self, now: float, retention: float) -> int:
        """Forget known entries past the retention (story keys expire in Redis)."""
        removed = self._forget_told(now - self.story_window)  # here; in Redis they expire
        self._recent_before = now - self.recent_window  # forgotten in Redis at the next commit
        for fid, stale in self._stale_known(now, retention).items():
            for k in stale:
                del self._known[fid][k]
            self._gone_known.setdefault(fid, set()).update(stale)
            removed += len(stale)
        return removed


def _is_shared_store(store: RedisStore) -> SharedStore:
    return store  # mypy checks here that RedisStore provides every SharedStore verb
