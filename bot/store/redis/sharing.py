"""What workers on one Redis share out between them: their names, due feeds under
leases, named locks and turns (Telegram's poller, Discord's shards), the count of live
workers, and chats' settings changed by another worker."""

from __future__ import annotations

import asyncio
import time

import orjson

from bot.model import DestinationName, Feed, FeedId, Subscription, Watch, WatchId
from bot.store.base import DestinationState, StoreError
from bot.store.codec import subscription_from_dict, watch_from_dict
from bot.store.redis.base import RedisBase, log, reaching_redis
from bot.store.redis.encoding import destination_from, keep_uncommitted, state_from
from bot.store.redis.scripts import AGREE_COUNT, CLAIM_DUE, HOLD_LOCK, HOLD_NAME, RELEASE_LOCK, WORKERS_ALIVE


class WorkersOnRedis(RedisBase):
    async def _take_name(self) -> None:
        """Hold this worker's name for this process (see HOLD_NAME). A chosen name held
        by a process that died keeps its key until the lease runs out: wait that long."""
        names = [self.consumer] if self.named else [self.consumer, *(f"{self.consumer}-{i}" for i in range(2, 100))]
        deadline = time.monotonic() + (self.lease + 1.0 if self.named else 0.0)
        waited = False
        while True:
            for name in names:
                if await self._hold_name(name, take=True):
                    self.consumer = name
                    return
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"another live worker is named {self.consumer!r} on this store: give each worker its own "
                    f"TIPOFF_WORKER (two processes under one name would send alerts twice)"
                    if self.named else f"the names {names[0]!r} to {names[-1]!r} are all held by live workers")
            if not waited:
                log.warning("worker name %r is held by another process (or one that stopped less than %.0fs "
                            "ago); waiting for it", self.consumer, self.lease)
                waited = True
            await asyncio.sleep(min(0.5, self.lease / 4))

    async def _hold_name(self, name: str, take: bool) -> bool:
        return bool(await self._require().eval(HOLD_NAME, 2, self._k("alive", name), self._k("names"), self._token,
                                               int(self.lease * 1000), 1 if take else 0, self._k("alive", "")))

    @reaching_redis
    async def claim_due(self, feeds: list[Feed], now: float, limit: int = 500) -> list[Feed]:
        """The due feeds this worker may poll now: each leased to it alone (for
        `lease` seconds, released when its new state is written), with its state and
        known entries re-read from Redis (another worker may have polled it last)."""
        r = self._require()
        by_id = {f.id: f for f in feeds}
        new = [f for f in feeds if f.id not in self._scheduled]
        if new:
            async with r.pipeline(transaction=False) as pipe:
                for f in new:
                    state = self._feeds.get(f.id)
                    if state is None or not state.stopped:
                        pipe.zadd(self._k("due"), {f.id: (state.next_due if state and state.next_due else 0.0)},
                                  nx=True)
                await pipe.execute()
            self._scheduled.update(f.id for f in new)
        claimed = [c.decode() for c in await r.eval(CLAIM_DUE, 2, self._k("due"), self._k("seen"), now,
                                                       int(self.lease * 1000), self.consumer, limit,
                                                       self._k("lease", ""))]
        mine = [FeedId(c) for c in claimed if c in by_id]
        self._leased.update(mine)
        strangers = [c for c in claimed if c not in by_id]
        if strangers:  # feeds this worker does not know (yet): hand them straight back
            async with r.pipeline(transaction=False) as pipe:
                for c in strangers:
                    pipe.delete(self._k("lease", c))
                    pipe.zadd(self._k("due"), {c: now})
                await pipe.execute()
        if mine:
            async with r.pipeline(transaction=False) as pipe:
                for fid in mine:
                    pipe.hget(self._k("feeds"), fid)
                    pipe.hgetall(self._k("known", fid))
                answers = await pipe.execute()
            for fid, raw, known in zip(mine, answers[0::2], answers[1::2]):
                if raw is not None and fid not in self._dirty["feeds"]:
                    self._feeds[fid] = state_from(raw)
                if known:
                    local = self._known.setdefault(fid, {})
                    for key, ts in known.items():
                        local.setdefault(key.decode(), float(ts))
        return [by_id[fid] for fid in mine]

    @reaching_redis
    async def hold_lock(self, name: str, ttl: float) -> bool:
        """Take or renew a named lock for this worker; False while another holds it."""
        ms = int(ttl * 1000)
        return bool(await self._require().eval(HOLD_LOCK, 1, self._k("lock", name), self.consumer, ms))

    @reaching_redis
    async def release_lock(self, name: str) -> None:
        await self._require().eval(RELEASE_LOCK, 1, self._k("lock", name), self.consumer)

    @reaching_redis
    async def take_turn(self, name: str, seconds: float) -> bool:
        """True for at most one caller, any worker, per `seconds` (a lock nobody renews)."""
        return bool(await self._require().set(self._k("turn", name), self.consumer, nx=True,
                                              px=max(1, int(seconds * 1000))))

    @reaching_redis
    async def workers_alive(self, within: float) -> int:
        """Say this worker is alive; how many workers said so within the last `within` s."""
        return int(await self._require().eval(WORKERS_ALIVE, 1, self._k("workers"), self.consumer, within))

    @reaching_redis
    async def leave(self) -> None:
        """This worker stops: others need not count it alive any more."""
        await self._require().zrem(self._k("workers"), self.consumer)

    @reaching_redis
    async def agree_count(self, name: str, proposal: int, locks: str) -> int:
        """The number the workers go by for `name` (Discord's shard count): the one
        already agreed while any of its numbered locks `{locks}{i}` is held, else ours."""
        return int(await self._require().eval(AGREE_COUNT, 1, self._k("agreed", name), proposal,
                                              self._k("lock", locks)))

    @reaching_redis
    async def refresh_settings(self) -> bool:
        """Re-read chats' feeds, watches and destination settings when another worker
        changed them (a version counter bumped with every such change); True when they
        changed. What this worker changed and has not committed yet is kept."""
        r = self._require()
        version = int(await r.get(self._k("settings", "version")) or 0)
        if version == self._settings_version:
            return False
        self._settings_version = version
        subs, watches, dests = await self._read_chats()
        subs = keep_uncommitted(subs, self._subs, self._dirty["subscriptions"])
        watches = keep_uncommitted(watches, self._watches, self._dirty["watches"])
        dests = keep_uncommitted(dests, self._dests, self._dirty["destinations"])
        changed = subs != self._subs or watches != self._watches or dests != self._dests
        self._subs, self._watches, self._dests = subs, watches, dests
        return changed

    async def _read_chats(self) -> tuple[dict[str, Subscription], dict[WatchId, Watch],
                                         dict[DestinationName, DestinationState]]:
        """Chats' feeds, watches and destination settings, as Redis has them."""
        r = self._require()
        subs = {sub.id: sub for sub in (subscription_from_dict(orjson.loads(v))
                                        for v in (await r.hgetall(self._k("subs"))).values())}
        watches = {w.id: w for w in (watch_from_dict(orjson.loads(v))
                                     for v in (await r.hgetall(self._k("watches"))).values())}
        dests = {d.name: d for d in map(destination_from, (await r.hgetall(self._k("dests"))).values())}
        return subs, watches, dests
