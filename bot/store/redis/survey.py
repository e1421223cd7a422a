"""What the workers on one Redis hold now, read without changing anything: for
`tipoff workers` (bot/fleet.py renders it) and for forgetting departed workers."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.store.base import Fleet
from bot.store.redis.keys import GROUP, Keys


async def roll_call(r: Any, prefix: str) -> tuple[int, dict[str, int], list[tuple[str, int, int]]]:
    """Redis' time now; when each worker last asked for due feeds; and each consumer of
    the outbox group with the entries it holds and its idle milliseconds."""
    k = Keys(prefix)
    now = int((await r.time())[0])
    seen = {w.decode(): int(t) for w, t in (await r.hgetall(k("seen"))).items()}
    try:
        found = await r.xinfo_consumers(k("outbox"), GROUP)
    except RedisError:  # no outbox yet
        found = []
    consumers = [(c["name"].decode() if isinstance(c["name"], bytes) else str(c["name"]), int(c["pending"]),
                  int(c["idle"])) for c in found]
    return now, seen, consumers


async def survey(url: str, prefix: str) -> Fleet:
    """What the workers on one Redis hold now, read without changing anything."""
    r: Any = aioredis.from_url(url)
    k = Keys(prefix)

    async def holders(pattern: str) -> dict[str, str]:
        keys = [key async for key in r.scan_iter(match=k(pattern), count=1000)]
        values = await r.mget(keys) if keys else []
        return {key.decode()[len(prefix):]: v.decode() for key, v in zip(keys, values) if v is not None}

    try:
        now, seen, consumers = await roll_call(r, prefix)
        agreed = await holders("agreed:discord-shards:*")
        return Fleet(
            now=now, feeds=int(await r.zcard(k("due"))),
            due_now=int(await r.zcount(k("due"), "-inf", time.time())),
            outbox=int(await r.hlen(k("outbox", "items"))),
            seen=seen,
            pending={name: pending for name, pending, _ in consumers},
            feed_leases=Counter(v for v in (await holders("lease:*")).values()),
            senders=Counter(v for v in (await holders("sender:*")).values()),
            locks={name.removeprefix("lock:"): v for name, v in (await holders("lock:*")).items()},
            shards=max((int(v) for v in agreed.values()), default=0))
    finally:
        await r.aclose()
