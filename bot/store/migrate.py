"""`tipoff migrate --to redis://…`: copy a TinyDB store into Redis, then count what is
in Redis with plain Redis commands (no consumer reads the outbox, so every migrated
alert is still there for the workers), so the operator sees the copy is complete before
pointing `[store] url` at it."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

import orjson
import redis.asyncio as aioredis

from bot import dedupe
from bot.store.codec import destination_to_dict, subscription_to_dict, watch_to_dict
from bot.store.redis import GROUP, TITLE_TTL, Keys, item_json
from bot.store.tinydb import TinyDBStore


@dataclass(frozen=True, slots=True)
class Counts:
    feeds: int
    known_entries: int
    stories: int
    outbox: int
    destinations: int
    subscriptions: int
    watches: int
    headlines: int = 0  # what the story index reads back (within the story window)
    told: int = 0  # alerts sent for a story, that its later reports update

    def rows(self) -> list[tuple[str, int]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


def _ttl(key: str, stamp: float, now: float, retention: float, story_window: float = float(TITLE_TTL)) -> int:
    window = story_window if dedupe.is_title_key(key) else retention
    return int(stamp + window - now)


def source_counts(src: TinyDBStore, now: float, retention: float) -> Counts:
    """What the TinyDB store holds that a migration copies (announced stories still
    within their window: older ones would expire in Redis at once)."""
    d = src.dump()
    return Counts(len(d["feeds"]), sum(len(k) for k in d["known"].values()),
                  sum(1 for keys in d["announced"].values() for k, ts in keys.items()
                      if _ttl(k, ts, now, retention, src.story_window) > 0),
                  len(d["outbox"]), len(d["destinations"]), len(d["subscriptions"]), len(d["watches"]),
                  sum(1 for h in d["headlines"] if h.seen_at + src.story_window > now),
                  sum(1 for t in d["told"] if t.sent_at + src.story_window > now))


async def copy(src: TinyDBStore, url: str, prefix: str, retention: float, now: float | None = None) -> None:
    """Write everything of `src` under `prefix` in the Redis at `url`."""
    now = time.time() if now is None else now
    d = src.dump()
    r: Any = aioredis.from_url(url)
    k = Keys(prefix)
    try:
        async with r.pipeline(transaction=False) as pipe:
            pipe.hset(k("meta"), "schema", d["schema"])
            for state in d["feeds"]:
                pipe.hset(k("feeds"), state.feed_id, orjson.dumps(state))
            for fid, known in d["known"].items():
                if known:
                    pipe.hset(k("known", fid), mapping={key: int(ts) for key, ts in known.items()})
            for dest, keys in d["announced"].items():
                for key, ts in keys.items():
                    ttl = _ttl(key, ts, now, retention, src.story_window)
                    if ttl > 0:
                        pipe.set(k("story", dest, key), int(ts), ex=ttl)
            for item in d["outbox"]:
                pipe.hset(k("outbox", "items"), item.id, item_json(item))
                pipe.xadd(k("outbox"), {"id": item.id, "dest": item.destination})
            for st in d["destinations"]:
                pipe.hset(k("dests"), st.name, orjson.dumps(destination_to_dict(st)))
            for sub in d["subscriptions"]:
                pipe.hset(k("subs"), sub.id, orjson.dumps(subscription_to_dict(sub)))
            for watch in d["watches"]:
                pipe.hset(k("watches"), watch.id, orjson.dumps(watch_to_dict(watch)))
            for reported in d["headlines"]:
                if reported.seen_at + src.story_window > now:
                    pipe.hset(k("headlines"), reported.key, orjson.dumps(reported.to_dict()))
                    pipe.zadd(k("headlines", "at"), {reported.key: reported.seen_at})
            for told in d["told"]:
                ttl = int(told.sent_at + src.story_window - now)
                if ttl > 0:
                    pipe.set(k("told", told.destination, told.story), orjson.dumps(told.to_dict()), ex=ttl)
            await pipe.execute()
        try:  # the group reads from the start: workers take every migrated alert
            await r.xgroup_create(k("outbox"), GROUP, id="0", mkstream=True)
        except aioredis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
    finally:
        await r.aclose()


async def target_counts(url: str, prefix: str) -> Counts:
    r: Any = aioredis.from_url(url)
    k = Keys(prefix)
    try:
        fids = [f.decode() for f in await r.hkeys(k("feeds"))]
        async with r.pipeline(transaction=False) as pipe:
            for fid in fids:
                pipe.hlen(k("known", fid))
            known = sum(await pipe.execute())
        stories = 0
        async for _ in r.scan_iter(match=k("story", "*"), count=1000):
            stories += 1
        outbox = min(await r.hlen(k("outbox", "items")), await r.xlen(k("outbox")))
        told = 0
        async for _ in r.scan_iter(match=k("told", "*"), count=1000):
            told += 1
        return Counts(len(fids), known, stories, outbox, await r.hlen(k("dests")), await r.hlen(k("subs")),
                      await r.hlen(k("watches")), await r.hlen(k("headlines")), told)
    finally:
        await r.aclose()


async def existing_keys(url: str, prefix: str) -> int:
    r: Any = aioredis.from_url(url)
    try:
        n = 0
        async for _ in r.scan_iter(match=Keys(prefix)("*"), count=1000):
            n += 1
        return n
    finally:
        await r.aclose()
