"""Builds the running parts from Settings (lock, store, fetcher, adapters, engine, the
command layer), runs them until stopped, and takes them down in order so in-flight
writes finish."""

from __future__ import annotations

import asyncio
import logging

from bot.adapters.base import Adapter
from bot.adapters.console import ConsoleAdapter
from bot.adapters.webhook import WebhookAdapter
from bot.commands import Commands
from bot.config import ConfigError, Settings
from bot.engine import Engine
from bot.feeds.fetch import Fetcher
from bot.store.base import Store
from bot.store.lock import DataDirLock
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
    if any(d.kind == "discord_webhook" for d in settings.destinations.values()):
        from bot.adapters.discord_webhook import DiscordWebhookAdapter

        available["discord_webhook"] = DiscordWebhookAdapter(settings.delivery.timeout)
    for dest in settings.destinations.values():
        if dest.kind not in available:
            raise ConfigError(f"destination {dest.name!r}: {dest.kind} delivery is not available in this "
                              "version of tipoff")
    return available


async def run_service(settings: Settings, stop: asyncio.Event, *, once: bool = False) -> Engine:
    adapters = build_adapters(settings)
    store: Store
    lock: DataDirLock | None = None
    if settings.store_url:
        from bot.store.redis import RedisStore

        store = RedisStore(settings.store_url, retention=settings.poll.retention, prefix=settings.store_prefix,
                           consumer=settings.worker,
                           lease=settings.store_lease or max(60.0, 4 * settings.fetch.timeout))
    else:
        lock = DataDirLock(settings.data_dir)  # one process per data directory
        lock.acquire()
        store = TinyDBStore(settings.data_dir)
    try:
        await store.open()
        async with Fetcher(settings.fetch) as fetcher:
            engine = Engine(settings, store, fetcher, adapters)
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
            try:
                if settings.http.listen is not None and not once:
                    from bot.web import WebServer
                    from bot.websub import WebSub

                    if settings.websub.callback:
                        engine.websub = WebSub(settings.websub, engine, store)
                        engine.websub.start()
                    web = WebServer(*settings.http.listen, engine, store, websub=engine.websub)
                    await web.start()
                election = None
                telegram = adapters.get("telegram")
                if telegram is not None and not once and hasattr(store, "hold_lock"):
                    telegram.exclusive_polling = True  # type: ignore[attr-defined]  # the elected worker polls
                for adapter in adapters.values():
                    await adapter.start()
                    started.append(adapter)
                if telegram is not None and getattr(telegram, "exclusive_polling", False):
                    election = asyncio.ensure_future(elect_poller(store, telegram, settings, stop))
                try:
                    await engine.run(stop, once=once)
                finally:
                    if election is not None:
                        election.cancel()
                        await asyncio.gather(election, return_exceptions=True)
            finally:
                for adapter in reversed(started):
                    await adapter.close()
                if web is not None:
                    await web.close()
                if engine.websub is not None:
                    await engine.websub.close()
        return engine
    finally:
        await store.close()
        if lock is not None:
            lock.release()



async def elect_poller(store: Store, telegram: Adapter, settings: Settings, stop: asyncio.Event) -> None:
    """Telegram answers 409 to a second getUpdates poller for a token: with several
    workers, the one holding a Redis lock (renewed every third of its lifetime) polls;
    when it stops or dies, another takes over once the lock has run out. Any worker
    sends."""
    import hashlib

    assert settings.telegram.token is not None
    name = "telegram-poller:" + hashlib.blake2b(settings.telegram.token.reveal().encode(), digest_size=8).hexdigest()
    ttl = max(3.0, min(30.0, settings.store_lease or 30.0))
    polling = False
    try:
        while not stop.is_set():
            try:
                held = await store.hold_lock(name, ttl)  # type: ignore[attr-defined]
            except Exception as exc:  # Redis unreachable: stop polling rather than risk a 409 fight
                log.warning("telegram poller election: %s", exc)
                held = False
            if held and not polling:
                log.info("telegram: this worker (%s) now receives updates", settings.worker)
                await telegram.start_polling()  # type: ignore[attr-defined]
                polling = True
            elif not held and polling:
                await telegram.stop_polling()  # type: ignore[attr-defined]
                polling = False
            try:
                await asyncio.wait_for(stop.wait(), ttl / 3)
            except asyncio.TimeoutError:
                pass
    finally:
        if polling:
            await telegram.stop_polling()  # type: ignore[attr-defined]
            try:
                await store.release_lock(name)  # type: ignore[attr-defined]
            except Exception:
                pass
