"""Builds the running parts from Settings (lock, store, fetcher, adapters, engine),
runs them until stopped, and takes them down in order so in-flight writes finish."""

from __future__ import annotations

import asyncio
import logging

from bot.adapters.base import Adapter
from bot.adapters.console import ConsoleAdapter
from bot.adapters.webhook import WebhookAdapter
from bot.config import ConfigError, Settings
from bot.engine import Engine
from bot.feeds.fetch import Fetcher
from bot.store.lock import DataDirLock
from bot.store.tinydb import TinyDBStore

log = logging.getLogger("tipoff")


def build_adapters(settings: Settings) -> dict[str, Adapter]:
    available: dict[str, Adapter] = {"console": ConsoleAdapter(), "webhook": WebhookAdapter()}
    for dest in settings.destinations.values():
        if dest.kind not in available:
            raise ConfigError(f"destination {dest.name!r}: {dest.kind} delivery is not available in this "
                              "version of tipoff yet (console and webhook are)")
    return available


async def run_service(settings: Settings, stop: asyncio.Event, *, once: bool = False) -> Engine:
    adapters = build_adapters(settings)
    lock = DataDirLock(settings.data_dir)
    lock.acquire()
    store = TinyDBStore(settings.data_dir)
    try:
        await store.open()
        log.info("%d feeds, %d watches, data in %s", len(settings.feeds), len(settings.watches),
                 settings.data_dir)
        async with Fetcher(settings.fetch) as fetcher:
            for adapter in adapters.values():
                await adapter.start()
            engine = Engine(settings, store, fetcher, adapters)
            try:
                await engine.run(stop, once=once)
            finally:
                for adapter in adapters.values():
                    await adapter.close()
        return engine
    finally:
        await store.close()
        lock.release()
