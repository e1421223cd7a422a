"""Builds the running parts from Settings (lock, store, fetcher, adapters, engine, the
command layer), runs them until stopped, and takes them down in order so in-flight
writes finish."""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

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
                elections: list[asyncio.Future[None]] = []
                shared = not once and hasattr(store, "hold_lock")
                telegram, discord_ = adapters.get("telegram"), adapters.get("discord")
                if shared and telegram is not None:
                    telegram.exclusive_polling = True  # type: ignore[attr-defined]  # the elected worker polls
                if shared and discord_ is not None:
                    discord_.exclusive_gateway = True  # type: ignore[attr-defined]  # one gateway per token
                for adapter in adapters.values():
                    await adapter.start()
                    started.append(adapter)
                if shared and telegram is not None:
                    assert settings.telegram.token is not None
                    elections.append(asyncio.ensure_future(elect(
                        store, "telegram-poller", settings.telegram.token.reveal(), settings, stop,
                        telegram.start_polling, telegram.stop_polling)))  # type: ignore[attr-defined]
                if shared and discord_ is not None:
                    assert settings.discord.token is not None
                    elections.append(asyncio.ensure_future(elect(
                        store, "discord-gateway", settings.discord.token.reveal(), settings, stop,
                        discord_.start_gateway, discord_.stop_gateway)))  # type: ignore[attr-defined]
                try:
                    await engine.run(stop, once=once)
                finally:
                    for election in elections:
                        election.cancel()
                    await asyncio.gather(*elections, return_exceptions=True)
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



async def elect(store: Store, role: str, token: str, settings: Settings, stop: asyncio.Event,
                begin: Callable[[], Awaitable[None]], end: Callable[[], Awaitable[None]]) -> None:
    """One worker per bot token holds `role` (Telegram's getUpdates poller: Telegram
    answers 409 to a second one; Discord's gateway: every connection would get every
    slash command): the one holding a Redis lock, renewed every third of its lifetime.
    When it stops or dies, another takes over once the lock has run out. All send."""
    import hashlib

    name = f"{role}:" + hashlib.blake2b(token.encode(), digest_size=8).hexdigest()
    ttl = max(3.0, min(30.0, settings.store_lease or 30.0))
    holding = False
    try:
        while not stop.is_set():
            try:
                held = bool(await store.hold_lock(name, ttl))  # type: ignore[attr-defined]
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
                await store.release_lock(name)  # type: ignore[attr-defined]
            except Exception:
                pass
