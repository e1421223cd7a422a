"""One tipoff engine over TinyDB, a recording adapter and a hand-driven clock: the
harness the engine-level tests share (the `harness` fixture in conftest builds them)."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.engine import Engine
from bot.feeds.fetch import Fetcher
from bot.store.tinydb import TinyDBStore
from tests.factories import settings
from tests.fakes.recording import RecordingAdapter

DUET = '"lady gaga" AND "britney spears" AND duet'
STORY = "Lady Gaga and Britney Spears are preparing a duet"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Harness:
    """One tipoff instance: build it, poll, restart it on the same data dir."""

    def __init__(self, tmp_path, feeds, watches, adapter=None, destinations=(), adapters=None, **poll):
        self.settings = settings(tmp_path / "data", feeds, watches, destinations, **poll)
        self.adapter = adapter or RecordingAdapter()
        self.adapters = {"console": self.adapter, **(adapters or {})}
        self.clock = Clock()
        self.engine = None

    async def start(self):
        self.store = TinyDBStore(self.settings.data_dir, story_window=self.settings.stories.window,
                                 recent_window=self.settings.store_recent)
        await self.store.open()
        self.fetcher = Fetcher(self.settings.fetch)
        self.engine = Engine(self.settings, self.store, self.fetcher, self.adapters, clock=self.clock)
        return self

    async def stop(self):
        await self.fetcher.close()
        await self.store.close()

    async def restart(self):
        await self.stop()
        return await self.start()

    async def cycle(self):
        report = await self.engine.poll_cycle(self.engine.feeds)
        await self.deliver()
        return report

    async def deliver(self):
        """Deliver everything due now, as the running loop would, and write the store."""
        sent = await self.engine.delivery.settle()
        await self.engine.write_store()
        return sent
