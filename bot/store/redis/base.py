"""What every part of the Redis store shares: its state, the connection, the key
layout, and how an outage of Redis becomes a StoreError."""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from typing import Any, Callable, Concatenate, Coroutine, ParamSpec, TypeVar

from redis.exceptions import RedisError

from bot.config import redact_url
from bot.model import DestinationName, FeedId
from bot.store.base import StoreError
from bot.store.records import Records
from bot.store.redis.keys import TITLE_TTL
from bot.store.redis.keys import GROUP, Keys

log = logging.getLogger("tipoff.store.redis")


class RedisBase(Records):
    def __init__(self, url: str, *, retention: float = 90 * 86400.0, prefix: str = "tipoff:",
                 consumer: str = "tipoff", lease: float = 120.0, named: bool = True,
                 story_window: float = float(TITLE_TTL), recent_window: float = 7 * 86400.0) -> None:
        super().__init__()
        self.url = url
        self.retention = retention
        self.recent_window = recent_window  # how long new entries are kept for /why, /backtest and the tester
        self.story_window = story_window  # how long a headline's or a story thread's claim lasts
        self.p = prefix
        self.keys = Keys(prefix)
        # This worker's name: its consumer in the outbox group, held by one live process
        # at a time. `named`: the operator chose it (TIPOFF_WORKER), so a live holder is an
        # error; otherwise (the host name) the first free of name, name-2, name-3… is taken.
        self.consumer = consumer
        self.named = named
        self._headlines_before: float | None = None  # story headlines before this are every worker's to forget
        self._recent_before: float | None = None  # recent entries before this are forgotten at the next commit
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
        self._claimed_here: dict[DestinationName, dict[str, float]] = {}  # claims not yet committed
        self._new_known: dict[FeedId, dict[str, float]] = {}
        self._gone_known: dict[FeedId, set[str]] = {}
        self._renames: list[tuple[DestinationName, DestinationName]] = []
        self.write_error: str | None = None

    def _k(self, *parts: str) -> str:
        return self.keys(*parts)

    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        return redact_url(self.url)

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

    async def _pay_owed_acks(self) -> None:
        owed = dict(self._owed_acks)
        async with self._require().pipeline(transaction=True) as pipe:
            for item_id, (entry, dest) in owed.items():
                self._forget_entry(pipe, item_id, entry, dest)
            await pipe.execute()
        for item_id in owed:
            self._owed_acks.pop(item_id, None)
        log.info("Redis is back: %d acknowledgements owed from the outage made", len(owed))


P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="RedisBase")


def reaching_redis(method: Callable[Concatenate[S, P], Coroutine[Any, Any, R]]
                   ) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """A verb that talks to Redis: Redis away (refused, timed out, restarting) is a
    StoreError the engine waits out, and the store's problem() names it until a verb
    gets through again; acknowledgements owed from the outage are made first."""
    async def guarded(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
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
