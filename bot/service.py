"""Builds the running parts from Settings (lock, store, fetcher, adapters, engine, the
command layer), runs them until stopped, and takes them down in order so in-flight
writes finish."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import sys
from functools import partial
from typing import Awaitable, Callable

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
from bot.sharding import lock_ttl
from bot.store.tinydb import TinyDBStore

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
    if any(d.kind == "apprise" for d in settings.destinations.values()):
        from bot.adapters.apprise import AppriseAdapter

        available["apprise"] = AppriseAdapter(settings.delivery.timeout)
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
# glibc gives each thread that allocates its own malloc arena (up to 8 per core). Parse
# threads build and free trees of ~10x a body's size in theirs, and freed arena memory is
# rarely given back: at 10k feeds two arenas held the peak RSS ~14 MB lower than the
# default with no loss of speed. MALLOC_ARENA_MAX in the environment still decides.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (glibc malloc.h)


def tune_process() -> None:
    """Process-wide settings for a long-running tipoff (bench/pipeline.py measures them)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    cap_malloc_arenas(MALLOC_ARENAS)


def cap_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas, unless the operator set MALLOC_ARENA_MAX; False where
    the C library is not glibc (musl, macOS) and nothing was changed."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))


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
                           lease=settings.store_lease or max(60.0, 4 * settings.fetch.timeout),
                           story_window=settings.stories.window, recent_window=settings.store_recent)
    else:
        lock = DataDirLock(settings.data_dir)  # one process per data directory
        lock.acquire()
        store = TinyDBStore(settings.data_dir, story_window=settings.stories.window,
                            recent_window=settings.store_recent)
    try:
        await store.open()
        async with Fetcher(settings.fetch) as fetcher:
            engine = Engine(settings, store, fetcher, adapters)
            heap = asyncio.ensure_future(settle_heap(engine))
            commands = Commands(settings, store, engine, fetcher)
            if (late := adapters.get("telegram")) is not None:  # reached after start: its alerts go at once
                late.on_reached = partial(engine.delivery.reachable, "telegram")  # type: ignore[attr-defined]
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
                    from bot.dashboard.app import Dashboard, sign_in_link
                    from bot.dashboard.keys import dashboard_secret

                    secret = await dashboard_secret(settings)
                    commands.dashboard_link = partial(sign_in_link, settings, secret)
                    web = WebServer(*settings.http.listen, engine, store, websub=websub,
                                    dashboard=Dashboard(settings, engine, store, commands, secret))
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
                    from bot.adapters.discord import DiscordAdapter, share_shards

                    assert isinstance(discord_, DiscordAdapter)
                    elections.append(asyncio.ensure_future(share_shards(
                        shared, discord_, settings.discord.token.tag(), settings, stop)))
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



async def elect(store: SharedStore, role: str, bot: str, settings: Settings, stop: asyncio.Event,
                begin: Callable[[], Awaitable[None]], end: Callable[[], Awaitable[None]]) -> None:
    """One worker per bot token holds `role` (Telegram's getUpdates poller: Telegram
    answers 409 to a second one): the one holding a Redis lock, renewed every third of
    its lifetime.
    When it stops or dies, another takes over once the lock has run out. All send."""
    name = f"{role}:{bot}"
    ttl = lock_ttl(settings.store_lease)
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
