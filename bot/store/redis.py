"""The Store on Redis (redis-py's asyncio client), selected with `[store] url =
"redis://…"`.

Like the TinyDB store, it keeps what the engine reads often in memory and makes a poll
cycle's changes durable in one `flush()`; the commit point is Redis instead of a file.
What must be decided across processes is decided in Redis, atomically:

- A story claim is a set of keys `story:{dest}:{key}` created with SET NX semantics and
  an expiry (title fingerprints for TITLE_WINDOW, ids and URLs for the retention), by a
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
`settings:version`, `dests`, `subs`, `watches` (hashes of JSON).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections import Counter
from dataclasses import asdict, fields, replace
from datetime import datetime, timezone
from typing import Any, Callable, Concatenate, Coroutine, Iterable, Mapping, ParamSpec, TypeVar, cast

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot import dedupe
from bot.fleet import Fleet
from bot.model import DestinationName, Feed, FeedId, Subscription, Watch, WatchId
from bot.store.base import SCHEMA_VERSION, DestinationState, FeedState, OutboxItem, SharedStore, StoreError
from bot.store.records import Records
from bot.store.codec import subscription_from_dict, subscription_to_dict, watch_from_dict, watch_to_dict

log = logging.getLogger("tipoff.store.redis")

GROUP = "delivery"
FORGET_AFTER = 86400.0  # a worker not seen this long, holding nothing, is forgotten
FORGET_EVERY = 600.0  # how often a worker looks for such
TITLE_TTL = int(dedupe.TITLE_WINDOW.total_seconds())

# KEYS: the claim's story keys, then outbox:items, outbox, queue:{dest}. ARGV: ttl per
# story key (same order), then item id, item JSON, destination, stamp. Returns the stream
# entry id when claimed and queued, 0 when any key was already there (another worker, or
# an earlier cycle, announced the story). Without story keys it only queues (a notice).
CLAIM_AND_QUEUE = """
local n = #KEYS - 3
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[#ARGV], 'EX', ARGV[i])
end
redis.call('HSET', KEYS[n + 1], ARGV[n + 1], ARGV[n + 2])
local entry = redis.call('XADD', KEYS[n + 2], '*', 'id', ARGV[n + 1], 'dest', ARGV[n + 3])
redis.call('RPUSH', KEYS[n + 3], entry)
return entry
"""

# KEYS[1]: the outbox stream, KEYS[2]: meta. ARGV[1]: the key prefix. Builds each destination's queue (`queue:{dest}`, its stream
# entries not yet acknowledged, in stream order) from the stream, once: stores written
# before the queues existed.
BUILD_QUEUES = """
if redis.call('HGET', KEYS[2], 'queues') == '1' then return 0 end
local rows = redis.call('XRANGE', KEYS[1], '-', '+')
for _, row in ipairs(rows) do
  local fields = row[2]
  for j = 1, #fields, 2 do
    if fields[j] == 'dest' then redis.call('RPUSH', ARGV[1] .. 'queue:' .. fields[j + 1], row[1]) end
  end
end
redis.call('HSET', KEYS[2], 'queues', '1')
return #rows
"""

# KEYS[1]: this worker's name key (`alive:{worker}`), KEYS[2]: the set of worker names.
# ARGV: this process's token, lease ms, whether to take the name (1) or only renew it (0),
# the prefix of name keys.
# A worker's name is its consumer in the outbox group: two live processes under one name
# would each read the other's alerts as their own and send them twice. So a process takes
# its name only when no live process holds it, and keeps it by renewing; 1 when it holds it.
HOLD_NAME = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or (not holder and ARGV[3] == '1') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SADD', KEYS[2], string.sub(KEYS[1], #ARGV[4] + 1))
  return 1
end
return 0
"""

# KEYS[1]: the due set, KEYS[2]: the workers' last signs of life. ARGV: now, lease ms,
# worker, limit, lease key prefix. Takes up to `limit` due feeds whose lease is free:
# leases them to the worker and pushes their due time past the lease, so a dead worker's
# feeds come due again when it runs out. Every worker asks this every loop, so it also
# notes when the worker was last seen (Redis' clock), for `tipoff workers`.
CLAIM_DUE = """
redis.call('HSET', KEYS[2], ARGV[3], redis.call('TIME')[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])
local got = {}
for _, id in ipairs(ids) do
  if redis.call('SET', ARGV[5] .. id, ARGV[3], 'NX', 'PX', ARGV[2]) then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]) / 1000, id)
    table.insert(got, id)
  end
end
return got
"""

# Functions the outbox scripts share (prepended to each).
OUTBOX_LUA = """
-- the destination of a stream entry; nil when the entry is gone
local function dest_of(stream, entry)
  local rows = redis.call('XRANGE', stream, entry, entry)
  if #rows == 0 then return nil end
  local fields = rows[1][2]
  for j = 1, #fields, 2 do
    if fields[j] == 'dest' then return fields[j + 1] end
  end
  return ''
end

-- the worker that sends for a destination: the holder of its sender lease, while that
-- worker is alive (one that stopped gave up its name, and with it its leases)
local function sender_of(lease, prefix)
  local sender = redis.call('GET', lease)
  if sender and redis.call('EXISTS', prefix .. 'alive:' .. sender) == 0 then return nil end
  return sender
end

-- the consumer an entry is pending for; nil when it is pending for none
local function owner_of(stream, group, entry)
  local p = redis.call('XPENDING', stream, group, entry, entry, 1)
  if #p == 0 then return nil end
  return p[1][2]
end

-- give a pending entry to the worker that sends for its destination: move it to that
-- worker in the group (when idle at least min_idle ms) and push its id to the worker's
-- handed:{worker} list, which that worker empties every loop
local function hand_to(stream, group, sender, entry, min_idle, prefix, lease_ms)
  if #redis.call('XCLAIM', stream, group, sender, min_idle, entry, 'JUSTID') > 0 then
    local inbox = prefix .. 'handed:' .. sender
    redis.call('RPUSH', inbox, entry)
    redis.call('PEXPIRE', inbox, tonumber(lease_ms) * 3)
  end
end
"""

# KEYS[1]: the outbox stream. ARGV: group, worker, lease ms, key prefix, then pairs of
# stream entry and destination, as this worker read them. One worker at a time sends a
# destination's alerts (so they go out in the order they were queued, and one retry
# holds back what came after it, whichever worker queued them): the one holding the
# `sender:{dest}` lease. An entry of a destination this worker sends for (or that no one
# does) is kept, and the lease taken or renewed; any other is handed to the sender.
# Returns the kept entries.
ROUTE = OUTBOX_LUA + """
local kept = {}
for i = 5, #ARGV, 2 do
  local entry, dest = ARGV[i], ARGV[i + 1]
  local lease = ARGV[4] .. 'sender:' .. dest
  local sender = sender_of(lease, ARGV[4])
  if not sender or sender == ARGV[2] then
    redis.call('SET', lease, ARGV[2], 'PX', ARGV[3])
    table.insert(kept, entry)
  else
    hand_to(KEYS[1], ARGV[1], sender, entry, 0, ARGV[4], ARGV[3])
  end
end
return kept
"""

# KEYS[1]: the outbox stream. ARGV: group, worker, min idle ms, lease ms, key prefix, then
# pairs of stream entry and its owner, from XPENDING: entries idle past the lease (their
# worker stopped refreshing them: it died, or stopped and handed them back). Each is
# taken over by this worker when the destination's sender lease is free or ours, handed
# to the destination's sender when another live worker holds it, and left alone while the
# dead owner's lease has not run out yet (the next round takes it). XCLAIM's min idle
# time makes a race with the owner coming back harmless. An entry deleted meanwhile only
# leaves the pending list.
RECLAIM = OUTBOX_LUA + """
local kept = {}
for i = 6, #ARGV, 2 do
  local entry, owner = ARGV[i], ARGV[i + 1]
  local dest = dest_of(KEYS[1], entry)
  if dest == nil then
    redis.call('XACK', KEYS[1], ARGV[1], entry)
  else
    local lease = ARGV[5] .. 'sender:' .. dest
    local sender = sender_of(lease, ARGV[5])
    if not sender or sender == ARGV[2] then
      if #redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], entry, 'JUSTID') > 0 then
        redis.call('SET', lease, ARGV[2], 'PX', ARGV[4])
        table.insert(kept, entry)
      end
    elseif sender ~= owner then
      hand_to(KEYS[1], ARGV[1], sender, entry, ARGV[3], ARGV[5], ARGV[4])
    end
  end
end
return kept
"""

# KEYS[1]: the outbox stream. ARGV: group, worker, lease ms, key prefix, stream entry.
# Asked right before an alert is sent, so that a destination's alerts go out once and in
# the order they were queued, whatever happened between workers since this one read it:
# {0}: not this worker's to send (acknowledged meanwhile, taken over after this worker
# stalled past its lease, or its destination has another sender now: handed to it);
# {1, earlier entries…}: send it, as the destination's sender (its lease renewed). Every
# entry of the destination queued before it is this worker's now (taken from whoever
# held it: the sender owns its destination's whole queue), and listed, so that the
# worker sends any it has not loaded yet first.
BEGIN_SEND = OUTBOX_LUA + """
local me, entry, prefix = ARGV[2], ARGV[5], ARGV[4]
local dest = dest_of(KEYS[1], entry)
if dest == nil or owner_of(KEYS[1], ARGV[1], entry) ~= me then return {0} end
local lease = prefix .. 'sender:' .. dest
local sender = sender_of(lease, prefix)
if sender and sender ~= me then
  hand_to(KEYS[1], ARGV[1], sender, entry, 0, prefix, ARGV[3])
  return {0}
end
redis.call('SET', lease, me, 'PX', ARGV[3])
local out = {1}
local queue = prefix .. 'queue:' .. dest
local at = redis.call('LPOS', queue, entry)
if at and at > 0 then
  for _, e in ipairs(redis.call('LRANGE', queue, 0, at - 1)) do
    local owner = owner_of(KEYS[1], ARGV[1], e)
    if owner == nil then
      if dest_of(KEYS[1], e) == nil then redis.call('LREM', queue, 1, e) end
    else
      if owner ~= me then redis.call('XCLAIM', KEYS[1], ARGV[1], me, 0, e, 'JUSTID') end
      table.insert(out, e)
    end
  end
end
return out
"""

# KEYS[1]: the outbox stream, KEYS[2]: the due set. ARGV: group, worker, idle ms, key
# prefix, force, this process's name token, lease ms, how many entries follow, the
# entries (this worker's pending ones), then pairs of feed and due time: the feeds it
# leased and did not poll, with the time they were due. A worker that stops hands over
# what it holds, so that nothing waits for its leases to run out. Unless forced, it
# refuses (0) while entries handed to it wait unread: it must send those first (a
# worker run with --once drains until this succeeds). Then it gives up its name (no
# entry is handed to it any more), and each of its entries goes to the destination's
# sender if another worker holds that lease, else to a live worker (an heir: it becomes
# the destination's sender and finds the entries in its `handed:` list), else is marked
# idle past the lease for the next worker that starts; its unpolled feeds are due again
# as they were.
HAND_BACK = OUTBOX_LUA + """
local me, prefix = ARGV[2], ARGV[4]
local inbox = prefix .. 'handed:' .. me
if ARGV[5] ~= '1' and redis.call('LLEN', inbox) > 0 then return 0 end
redis.call('DEL', inbox)
if redis.call('GET', prefix .. 'alive:' .. me) == ARGV[6] then
  redis.call('DEL', prefix .. 'alive:' .. me)
  redis.call('SREM', prefix .. 'names', me)
end
local heir = nil
for _, name in ipairs(redis.call('SMEMBERS', prefix .. 'names')) do
  if redis.call('EXISTS', prefix .. 'alive:' .. name) == 1 then
    if name ~= me then heir = name break end
  else
    redis.call('SREM', prefix .. 'names', name)
  end
end
local n = tonumber(ARGV[8])
for i = 9, 8 + n do
  local entry = ARGV[i]
  local dest = dest_of(KEYS[1], entry)
  if dest == nil then
    redis.call('XACK', KEYS[1], ARGV[1], entry)
  else
    local lease = prefix .. 'sender:' .. dest
    if redis.call('GET', lease) == me then redis.call('DEL', lease) end
    local sender = sender_of(lease, prefix)
    if not sender and heir then
      redis.call('SET', lease, heir, 'PX', ARGV[7])
      sender = heir
    end
    if sender then
      hand_to(KEYS[1], ARGV[1], sender, entry, 0, prefix, ARGV[7])
    else
      redis.call('XCLAIM', KEYS[1], ARGV[1], me, 0, entry, 'IDLE', ARGV[3], 'JUSTID')
    end
  end
end
for i = 9 + n, #ARGV, 2 do
  local lease = prefix .. 'lease:' .. ARGV[i]
  if redis.call('GET', lease) == me then
    redis.call('DEL', lease)
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
  end
end
return 1
"""

# KEYS: sender leases of the destinations this worker holds alerts for. ARGV: worker,
# lease ms. Renews each lease that is ours or free; returns how many another holds.
RENEW_SENDERS = """
local lost = 0
for i = 1, #KEYS do
  local sender = redis.call('GET', KEYS[i])
  if not sender or sender == ARGV[1] then
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
  else
    lost = lost + 1
  end
end
return lost
"""

HOLD_LOCK = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""

# KEYS[1]: the set of live workers. ARGV: worker, seconds a worker counts as alive after
# its last sign of life. Marks this worker alive (on Redis' clock, so workers' clocks
# need not agree) and returns how many are.
WORKERS_ALIVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
"""

# KEYS[1]: the agreed number. ARGV: this worker's proposal, the prefix of the locks it
# numbers. The number stands while any of its locks (prefix .. 0 … n-1) is held: workers
# that share things out by it must agree; a proposal replaces it once none is.
AGREE_COUNT = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current ~= tonumber(ARGV[1]) then
  for i = 0, current - 1 do
    if redis.call('EXISTS', ARGV[2] .. i) == 1 then return current end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])
"""

RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_STATE_FIELDS = {f.name for f in fields(FeedState)}
CHAT_TABLES = ("destinations", "subscriptions", "watches")


def item_json(item: OutboxItem) -> bytes:
    return orjson.dumps({"id": item.id, "seq": item.seq, "dest": item.destination, "alert": item.alert,
                         "attempts": item.attempts, "next_try": item.next_try, "last_error": item.last_error})


def state_from(raw: bytes) -> FeedState:
    d = orjson.loads(raw)
    return FeedState(**{k: v for k, v in d.items() if k in _STATE_FIELDS})


def destination_from(raw: bytes) -> DestinationState:
    d = orjson.loads(raw)
    return DestinationState(d["name"], d.get("active", True), d.get("reason"), d.get("since"), d.get("extra") or {})


K = TypeVar("K", bound=str)
V = TypeVar("V")


def keep_uncommitted(fresh: dict[K, V], mine: Mapping[K, V], dirty: set[str]) -> dict[K, V]:
    """Another worker's view of a table, with this worker's changes not yet committed
    (records in `dirty`: changed, added or removed here) laid over it."""
    out = dict(fresh)
    for key in cast(set[K], dirty):
        if key in mine:
            out[key] = mine[key]
        elif key in out:
            del out[key]
    return out


def write_records(pipe: Any, key: str, ids: Iterable[str], records: Mapping[Any, V],
                  encode: Callable[[V], Any]) -> None:
    """Queue the changed records of one table on a pipeline: each as JSON in the hash
    `key`, or deleted from it when the record is gone."""
    for rid in ids:
        record = records.get(rid)
        if record is None:
            pipe.hdel(key, rid)
        else:
            pipe.hset(key, rid, orjson.dumps(encode(record)))


def decode_entries(entries: Iterable[tuple[bytes, Mapping[bytes, bytes]]]) -> list[tuple[str, str, str]]:
    """Outbox stream entries as read → (entry, item id, destination); deleted ones dropped."""
    return [(e.decode(), data[b"id"].decode(), data[b"dest"].decode()) for e, data in entries if data]


def stream_order(entry: str) -> int:
    """A stream entry id ("ms-n") as a number that sorts as Redis ordered the entries."""
    ms, _, n = entry.partition("-")
    return int(ms) * 1_000_000 + int(n or 0)


P = ParamSpec("P")
R = TypeVar("R")


def reaching_redis(method: Callable[Concatenate[RedisStore, P], Coroutine[Any, Any, R]]
                   ) -> Callable[Concatenate[RedisStore, P], Coroutine[Any, Any, R]]:
    """A verb that talks to Redis: Redis away (refused, timed out, restarting) is a
    StoreError the engine waits out, and the store's problem() names it until a verb
    gets through again; acknowledgements owed from the outage are made first."""
    async def guarded(self: RedisStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            if self._owed_acks:
                await self._pay_owed_acks()
            result = await method(self, *args, **kwargs)
        except (RedisError, OSError) as exc:
            self.outage = f"cannot reach Redis at {self.safe_url()}: {exc}"[:300]
            raise StoreError(self.outage) from None
        self.outage = None
        return result
    functools.update_wrapper(guarded, method)
    return guarded


def item_from(raw: bytes) -> OutboxItem:
    d = orjson.loads(raw)
    return OutboxItem(d["id"], d["seq"], DestinationName(d["dest"]), d["alert"], d.get("attempts", 0),
                      d.get("next_try", 0.0), d.get("last_error"))


class RedisStore(Records):
    def __init__(self, url: str, *, retention: float = 90 * 86400.0, prefix: str = "tipoff:",
                 consumer: str = "tipoff", lease: float = 120.0, named: bool = True) -> None:
        super().__init__()
        self.url = url
        self.retention = retention
        self.p = prefix
        # This worker's name: its consumer in the outbox group, held by one live process
        # at a time. `named`: the operator chose it (TIPOFF_WORKER), so a live holder is an
        # error; otherwise (the host name) the first free of name, name-2, name-3… is taken.
        self.consumer = consumer
        self.named = named
        self._token = uuid.uuid4().hex  # this process, as the holder of its name
        self._name_lost = False  # another process holds this worker's name now
        self._left = False  # handed over everything at its stop: reads no more alerts
        self._entry_dests: dict[str, DestinationName] = {}  # stream entry → its destination
        self._owed_acks: dict[str, tuple[str | None, DestinationName | None]] = {}  # sent while Redis was away
        self._restoring = False  # restoring an emptied Redis from memory: done at the next commit
        self.outage: str | None = None  # Redis cannot be reached now, and why
        self.data_lost: str | None = None  # Redis came back empty; said until restored from memory
        self._epoch = ""  # marks this Redis' data: a Redis that lost it has none, or another
        self.lease = lease  # how long a worker holds a feed it polls, and an alert it sends
        self._scheduled: set[FeedId] = set()  # feeds known to be in the due set
        self._leased: set[FeedId] = set()  # feeds this worker claimed and has not written back yet
        self._next_forget = 0.0  # monotonic time of the next look for departed workers
        self._keeper: asyncio.Task[None] | None = None
        self._settings_version = -1  # of chats' feeds, watches and settings, as last read
        # typed loosely: redis-py's stubs type replies as unions that depend on
        # decode_responses; this store always gets bytes back
        self._r: Any = None
        self._stream_ids: dict[str, str] = {}  # outbox item → its stream entry
        self._flush_lock = asyncio.Lock()
        self._claims: dict[str, tuple[DestinationName, tuple[str, ...], float]] = {}  # item id → its claim
        self._last_claim: tuple[DestinationName, tuple[str, ...], float] | None = None
        self._claimed_here: dict[DestinationName, dict[str, float]] = {}  # claims not yet committed
        self._new_known: dict[FeedId, dict[str, float]] = {}
        self._gone_known: dict[FeedId, set[str]] = {}
        self._renames: list[tuple[DestinationName, DestinationName]] = []
        self.write_error: str | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def _k(self, *parts: str) -> str:
        return self.p + ":".join(parts)

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

    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        head, sep, tail = self.url.rpartition("@")
        return f"{self.url.split('://')[0]}://…@{tail}" if sep else self.url

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

    def _require(self) -> Any:
        if self._r is None:
            raise StoreError("the store is not open")
        return self._r

    def problem(self) -> str | None:
        if self._r is None:
            return "the store is not open"
        if self.outage:
            return self.outage
        if self.data_lost:
            return self.data_lost
        if self._name_lost:
            return f"another process holds this worker's name ({self.consumer}): restart this one"
        return self.write_error

    # -- commit ----------------------------------------------------------------------------

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
            ttls = [TITLE_TTL if dedupe.is_title_key(k) else int(self.retention) for k in keys]
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
            write_records(pipe, self._k("dests"), self._dirty["destinations"], self._dests, asdict)
            write_records(pipe, self._k("subs"), self._dirty["subscriptions"], self._subs, subscription_to_dict)
            write_records(pipe, self._k("watches"), self._dirty["watches"], self._watches, watch_to_dict)
            if any(self._dirty[t] for t in CHAT_TABLES):  # other workers re-read chats' settings then
                pipe.incr(self._k("settings", "version"))
            self._new_known.clear()
            self._gone_known.clear()
            self._leased.difference_update(FeedId(fid) for fid in self._dirty["feeds"])  # leases deleted
            for names in self._dirty.values():
                names.clear()
            await pipe.execute()
        if not self._left:
            await self._take(">")

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

    def _forget_entry(self, pipe: Any, item_id: str, entry: str | None, dest: DestinationName | None) -> None:
        pipe.hdel(self._k("outbox", "items"), item_id)
        if entry is not None:
            pipe.xack(self._k("outbox"), GROUP, entry)
            pipe.xdel(self._k("outbox"), entry)
            if dest is not None:
                pipe.lrem(self._k("queue", dest), 1, entry)

    def _drop_entry(self, item_id: str) -> tuple[str | None, DestinationName | None]:
        """Forget which stream entry holds an item here; (entry, its destination)."""
        entry = self._stream_ids.pop(item_id, None)
        return entry, self._entry_dests.pop(entry, None) if entry is not None else None

    async def _rename_stories(self, old: DestinationName, new: DestinationName) -> None:
        r = self._require()
        async for key in r.scan_iter(match=self._k("story", old, "*"), count=500):
            suffix = key.decode()[len(self._k("story", old, "")):]
            await r.rename(key, self._k("story", new, suffix))

    # -- sharing the feeds between workers ------------------------------------------------------

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

    async def _entries(self, ids: list[Any]) -> list[tuple[str, str, str]]:
        """(entry, item id, destination) of these stream entries, those still there."""
        async with self._require().pipeline(transaction=False) as pipe:
            for entry in ids:
                pipe.xrange(self._k("outbox"), entry, entry)
            rows = await pipe.execute()
        return decode_entries([row for found in rows for row in found])

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

    # -- locks between workers --------------------------------------------------------------------

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

    # -- feeds -------------------------------------------------------------------------------

    def remember_entries(self, feed_id: FeedId, keys: Iterable[str], now: float) -> None:
        known = self._known.setdefault(feed_id, {})
        new = self._new_known.setdefault(feed_id, {})
        stamp = float(int(now))
        for key in keys:
            known[key] = stamp
            new[key] = stamp
        if feed_id not in self._feeds:
            self.put_feed_state(FeedState(feed_id=feed_id, url=""))

    # -- dedupe ----------------------------------------------------------------------------

    def claim_story(self, destination: DestinationName, keys: Iterable[str], now: float) -> bool:
        """A tentative claim: refused here when this process already claimed the story;
        made for good (or refused, dropping its alert) in Redis at the next flush."""
        keys = tuple(keys)
        mine = self._claimed_here.setdefault(destination, {})
        if dedupe.is_repeat(keys, mine, datetime.fromtimestamp(now, timezone.utc)):
            return False
        for key in keys:
            mine[key] = now
        self._last_claim = (destination, keys, now)
        return True

    # -- outbox ----------------------------------------------------------------------------

    def enqueue(self, destination: DestinationName, alert: Mapping[str, Any], item_id: str,
                not_before: float = 0.0) -> None:
        if not self._queue(destination, alert, item_id, not_before):
            return
        if self._last_claim is not None and self._last_claim[0] == destination:
            self._claims[item_id] = self._last_claim
        self._last_claim = None

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

    async def _pay_owed_acks(self) -> None:
        owed = dict(self._owed_acks)
        async with self._require().pipeline(transaction=True) as pipe:
            for item_id, (entry, dest) in owed.items():
                self._forget_entry(pipe, item_id, entry, dest)
            await pipe.execute()
        for item_id in owed:
            self._owed_acks.pop(item_id, None)
        log.info("Redis is back: %d acknowledgements owed from the outage made", len(owed))

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

    # -- destinations ------------------------------------------------------------------------

    def rename_destination(self, old: DestinationName, new: DestinationName) -> None:
        """Move everything a destination has to a new name; its story keys are renamed
        in Redis at the next commit."""
        self._move_records(old, new)
        self._renames.append((old, new))

    # -- housekeeping ------------------------------------------------------------------------

    def prune(self, now: float, retention: float) -> int:
        """Forget known entries past the retention (story keys expire in Redis)."""
        cutoff = now - retention
        removed = 0
        for fid, known in self._known.items():
            state = self._feeds.get(fid)
            keep_from = min(cutoff, state.last_changed if state and state.last_changed else cutoff)
            stale = [k for k, ts in known.items() if ts < keep_from]
            for k in stale:
                del known[k]
            if stale:
                self._gone_known.setdefault(fid, set()).update(stale)
                removed += len(stale)
        return removed



async def roll_call(r: Any, prefix: str) -> tuple[int, dict[str, int], list[tuple[str, int, int]]]:
    """Redis' time now; when each worker last asked for due feeds; and each consumer of
    the outbox group with the entries it holds and its idle milliseconds."""
    now = int((await r.time())[0])
    seen = {w.decode(): int(t) for w, t in (await r.hgetall(prefix + "seen")).items()}
    try:
        found = await r.xinfo_consumers(prefix + "outbox", GROUP)
    except RedisError:  # no outbox yet
        found = []
    consumers = [(c["name"].decode() if isinstance(c["name"], bytes) else str(c["name"]), int(c["pending"]),
                  int(c["idle"])) for c in found]
    return now, seen, consumers


async def survey(url: str, prefix: str) -> Fleet:
    """What the workers on one Redis hold now, read without changing anything."""
    r: Any = aioredis.from_url(url)

    def k(*parts: str) -> str:
        return prefix + ":".join(parts)

    async def holders(pattern: str) -> dict[str, str]:
        keys = [key async for key in r.scan_iter(match=prefix + pattern, count=1000)]
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


def _is_shared_store(store: RedisStore) -> SharedStore:
    return store  # mypy checks here that RedisStore provides every SharedStore verb
