"""Builds the running parts from Settings (lock, store, fetcher, adapters, engine, the
command layer), runs them until stopped, and takes them down in order so in-flight
writes finish."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from typing import TYPE_CHECKING, Awaitable, Callable

from bot.adapters.base import Adapter, StartError
from bot.adapters.console import ConsoleAdapter
from bot.adapters.webhook import WebhookAdapter
from bot.commands import Commands
from bot.config import ConfigError, Settings, locate
from bot.engine import Engine
from bot.websub import WebSub
from bot.feeds.fetch import Fetcher
from bot.store.base import SharedStore, Store
from bot.store.lock import DataDirLock
from bot.store.tinydb import TinyDBStore

if TYPE_CHECKING:
    from bot.adapters.discord import DiscordAdapter

log = logging.getLogger("tipoff")


def build_adapters(settings: Settings) -> dict[str, Adapter]:
    available: dict[str, Adapter] = {"console": ConsoleAdapter(),
                                     "webhook": WebhookAdapter(settings.delivery.timeout)}
    if settings.telegram.token is not None:
        from bot.adapters.telegram import TelegramAdapter

        available["telegram"] = TelegramAdapter(settings.telegram)
    if settings.discord.token is not None:
        from bot.adapters.discord import DiscordAdapter

        available["discord"] = DiscordAdapter(settings.discord)
    if any(d.kind == "discord_webhook" for d in settings.destinations.values()):
        from bot.adapters.discord_webhook import DiscordWebhookAdapter

        available["discord_webhook"] = DiscordWebhookAdapter(settings.delivery.timeout)
    for dest in settings.destinations.values():
        if dest.kind not in available:
            raise ConfigError(f"destination {dest.name!r}: {dest.kind} delivery is not available in this "
                              "version of tipoff")
    return available


# Parse threads hold the GIL in turns of this long; at CPython's default (5 ms) every
# socket operation of the event loop could wait that long behind a parse, and at 10k
# feeds the loop's worst stall grew by ~40 ms.
GIL_SWITCH_INTERVAL = 0.001


def tune_process() -> None:
    """Process-wide settings for a long-running tipoff (bench/pipeline.py measures them)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)


async def settle_heap(engine: Engine) -> None:
    """After the first poll cycle everything alive is long-lived (store, compiled
    watches, feed list, modules): hand it to the collector's permanent generation once,
    so the full collections that 10k fresh feed states per cycle trigger no longer walk
    it. At 10k feeds this cut a full collection from ~50 ms of event-loop time to ~15.
    Objects that die later are still freed by reference counting."""
    await engine.cycled.wait()
    gc.collect()
    gc.freeze()


async def run_service(settings: Settings, stop: asyncio.Event, *, once: bool = False) -> Engine:
    tune_process()
    adapters = build_adapters(settings)
    store: Store
    lock: DataDirLock | None = None
    if settings.store_url:
        from bot.store.redis import RedisStore

        store = RedisStore(settings.store_url, retention=settings.poll.retention, prefix=settings.store_prefix,
                           consumer=settings.worker, named=settings.worker_named,
                           lease=settings.store_lease or max(60.0, 4 * settings.fetch.timeout))
    else:
        lock = DataDirLock(settings.data_dir)  # one process per data directory
        lock.acquire()
        store = TinyDBStore(settings.data_dir)
    try:
        await store.open()
        async with Fetcher(settings.fetch) as fetcher:
            engine = Engine(settings, store, fetcher, adapters)
            heap = asyncio.ensure_future(settle_heap(engine))
            commands = Commands(settings, store, engine, fetcher)
            for adapter in adapters.values():
                attach = getattr(adapter, "attach", None)
                if attach is not None and not once:
                    attach(commands)  # chat platforms take commands while tipoff runs
            where = getattr(store, "safe_url", lambda: str(settings.data_dir))()
            log.info("%d feeds, %d watches, data in %s", len(engine.feeds), len(store.watches()) +
                     len(settings.watches), where)
            started: list[Adapter] = []
            web = None
            websub: WebSub | None = None
            try:
                if settings.http.listen is not None and not once:
                    from bot.web import WebServer

                    if settings.websub.callback:
                        websub = WebSub(settings.websub, engine, store, fetcher)
                        websub.start()
                    web = WebServer(*settings.http.listen, engine, store, websub=websub)
                    try:
                        await web.start()
                    except OSError as exc:
                        host, port = settings.http.listen
                        raise StartError(f"{locate(settings.path, 'http.listen')}: http.listen: cannot listen on "
                                         f"{host}:{port} ({exc.strerror or exc}): choose a free port and an "
                                         "address of this machine") from None
                elections: list[asyncio.Future[None]] = []
                shared = store if not once and isinstance(store, SharedStore) else None
                telegram, discord_ = adapters.get("telegram"), adapters.get("discord")
                by_webhook = telegram is not None and settings.telegram.webhook is not None and not once
                if by_webhook and web is not None:
                    web.telegram = telegram  # type: ignore[assignment]  # any worker takes updates
                if shared is not None and telegram is not None and not by_webhook:
                    telegram.exclusive_polling = True  # type: ignore[attr-defined]  # the elected worker polls
                if shared is not None and discord_ is not None:
                    discord_.exclusive_gateway = True  # type: ignore[attr-defined]  # shards shared out
                for adapter in adapters.values():
                    await adapter.start()
                    started.append(adapter)
                if shared is not None and telegram is not None and not by_webhook:
                    assert settings.telegram.token is not None
                    elections.append(asyncio.ensure_future(elect(
                        shared, "telegram-poller", settings.telegram.token.tag(), settings, stop,
                        telegram.start_polling, telegram.stop_polling)))  # type: ignore[attr-defined]
                if shared is not None and discord_ is not None:
                    assert settings.discord.token is not None
                    elections.append(asyncio.ensure_future(share_shards(
                        shared, discord_, settings.discord.token.tag(), settings, stop)))  # type: ignore[arg-type]
                try:
                    await engine.run(stop, once=once)
                finally:
                    heap.cancel()
                    for election in elections:
                        election.cancel()
                    await asyncio.gather(*elections, return_exceptions=True)
            finally:
                for adapter in reversed(started):
                    await adapter.close()
                if web is not None:
                    await web.close()
                if websub is not None:
                    await websub.close()
        return engine
    finally:
        await store.close()
        if lock is not None:
            lock.release()



def lock_ttl(settings: Settings) -> float:
    """How long an election's lock lasts without renewal (renewed every third of it)."""
    return max(3.0, min(30.0, settings.store_lease or 30.0))


async def elect(store: SharedStore, role: str, bot: str, settings: Settings, stop: asyncio.Event,
                begin: Callable[[], Awaitable[None]], end: Callable[[], Awaitable[None]]) -> None:
    """One worker per bot token holds `role` (Telegram's getUpdates poller: Telegram
    answers 409 to a second one): the one holding a Redis lock, renewed every third of
    its lifetime.
    When it stops or dies, another takes over once the lock has run out. All send."""
    name = f"{role}:{bot}"
    ttl = lock_ttl(settings)
    holding = False
    try:
        while not stop.is_set():
            try:
                held = await store.hold_lock(name, ttl)
            except Exception as exc:  # Redis unreachable: step back rather than risk two holders
                log.warning("%s election: %s", role, exc)
                held = False
            if held and not holding:
                log.info("%s: this worker (%s) takes it", role, settings.worker)
                await begin()
                holding = True
            elif not held and holding:
                await end()
                holding = False
            try:
                await asyncio.wait_for(stop.wait(), ttl / 3)
            except asyncio.TimeoutError:
                pass
    finally:
        if holding:
            await end()
            try:
                await store.release_lock(name)
            except Exception:
                pass


async def share_shards(shared: SharedStore, adapter: DiscordAdapter, bot: str, settings: Settings,
                       stop: asyncio.Event) -> None:
    """Share Discord's gateway shards out between the workers on one Redis: each shard
    is one connection, held by the worker holding its lock (renewed every third of its
    lifetime), each worker up to its fair share (bot.sharding). The shard count is agreed
    between the workers; IDENTIFYs are spaced across all of them, as Discord requires.
    A worker that stops lets its shards go at once; a dead one's are taken over when its
    locks run out. Any worker can send."""
    from bot import sharding

    ttl = lock_ttl(settings)
    locks = f"discord-shard:{bot}:"
    count = await shared.agree_count(f"discord-shards:{bot}", adapter.shard_count, locks)
    if count != adapter.shard_count:
        log.info("discord: the running workers use %d shards (this one would use %d); restart them all to change",
                 count, adapter.shard_count)
        adapter.shard_count = count
    adapter.identify_pacer = SharedPacer(shared, bot, settings.discord.identify_interval, adapter.max_concurrency)
    mine: set[int] = set()
    connecting: dict[int, asyncio.Task[None]] = {}
    failures: dict[int, int] = {}
    not_before: dict[int, float] = {}  # shards whose connection failed here: left to others until then
    loop = asyncio.get_running_loop()

    async def connect(shard_id: int) -> None:
        try:
            await adapter.connect_shard(shard_id)
            failures.pop(shard_id, None)
        except Exception as exc:
            failures[shard_id] = failures.get(shard_id, 0) + 1
            wait = sharding.retry_delay(failures[shard_id])
            not_before[shard_id] = loop.time() + wait
            log.error("%s; this worker tries shard %d again in %.0f s at the earliest", exc, shard_id, wait)
            await let_go(shard_id)

    async def let_go(shard_id: int) -> None:
        mine.discard(shard_id)
        task = connecting.pop(shard_id, None)
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
        await adapter.disconnect_shard(shard_id)
        try:
            await shared.release_lock(locks + str(shard_id))
        except Exception:
            pass

    order = sharding.preference(count, settings.worker)
    try:
        while not stop.is_set():
            try:
                alive = await shared.workers_alive(ttl)
                for i in sorted(mine):
                    if not await shared.hold_lock(locks + str(i), ttl):
                        log.warning("discord: shard %d was taken over (this worker stalled past its lock)", i)
                        await let_go(i)
                change = sharding.moves(count, len(mine), alive)
                if change < 0:
                    i = max(mine)
                    log.info("discord: shard %d goes to another worker (%d workers share %d shards)", i, alive, count)
                    await let_go(i)
                for i in order:
                    if change <= 0:
                        break
                    if i in mine or not_before.get(i, 0.0) > loop.time():
                        continue
                    if await shared.hold_lock(locks + str(i), ttl):
                        log.info("discord: this worker (%s) takes shard %d of %d", settings.worker, i, count)
                        mine.add(i)
                        connecting[i] = asyncio.ensure_future(connect(i))
                        change -= 1
            except Exception as exc:  # Redis unreachable: step back rather than risk two connections
                log.warning("discord shards: %s", exc)
                for i in sorted(mine):
                    await let_go(i)
            try:
                await asyncio.wait_for(stop.wait(), ttl / 3)
            except asyncio.TimeoutError:
                pass
    finally:
        for i in sorted(mine):
            await let_go(i)
        try:
            await shared.leave()
        except Exception:
            pass


class SharedPacer:
    """Spaces IDENTIFYs across every worker of one bot (the Pacer protocol of
    bot.adapters.discord): a turn, and the moment of sending, are each an expiring
    Redis key per concurrency bucket that only one worker can set per interval."""

    def __init__(self, store: SharedStore, bot: str, interval: float, max_concurrency: int) -> None:
        self.store, self.bot, self.interval = store, bot, interval
        self.max_concurrency = max_concurrency

    async def _take(self, what: str, shard_id: int) -> None:
        name = f"discord-identify:{self.bot}:{shard_id % max(1, self.max_concurrency)}:{what}"
        while not await self.store.take_turn(name, self.interval):
            await asyncio.sleep(min(0.5, self.interval / 20))

    async def turn(self, shard_id: int) -> None:
        await self._take("turn", shard_id)

    async def sent(self, shard_id: int) -> None:
        await self._take("sent", shard_id)
