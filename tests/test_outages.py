"""Our own parts failing: the disk fills up, Redis goes away for a while, Redis comes
back empty. Each time tipoff stays up, /healthz answers 503 with the reason, and it
resumes with nothing lost and nothing sent twice once the part is back. Everything on
127.0.0.1: a real `run_service`, a real HTTP endpoint, real redis-server processes."""

from __future__ import annotations

import asyncio
import errno
import logging
import shutil
import socket
import subprocess
import tempfile
from dataclasses import replace
from datetime import datetime, timezone

import aiohttp
import pytest
from aiohttp import web

from bot.config import DeliverySettings, HttpSettings
from bot.model import Destination, DestinationName, Subscription, Watch, WatchId
from bot.service import run_service
from bot.store import tinydb as tinydb_module
from bot.store.redis import RedisStore
from tests.factories import eventually
from tests.factories import feed, free_port, item, redis_prefix, rss, settings, watch
from tests.fakes.server import LocalServer


class Hook(LocalServer):
    """A webhook destination that records the titles it accepts."""

    def __init__(self) -> None:
        self.titles: list[str] = []

    async def start(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            self.titles.append((await request.json())["entry"]["title"])
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", hook)
        await self.serve_app(app)


async def healthz(port: int) -> tuple[int, str]:
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/healthz") as r:
            return r.status, await r.text()
    except aiohttp.ClientError as exc:
        return 0, str(exc)


class Service:
    """tipoff watching one local feed for "duet", delivering to a local webhook, with
    /healthz on a free port."""

    def __init__(self, tmp_path, feed_server, hook: Hook, **store) -> None:
        self.port = free_port()
        self.feed_url = feed_server.serve("/f", rss([item("old news", guid="old")]))
        self.feeds = feed_server
        dest = Destination(DestinationName("hook"), "webhook", (("url", f"http://127.0.0.1:{hook.port}/hook"),))
        s = settings(tmp_path / "data", [feed(self.feed_url, every=1.0)], [watch("duet", "hook", id="w")], [dest])
        self.settings = replace(s, http=HttpSettings(("127.0.0.1", self.port)),
                                delivery=DeliverySettings(retry_base=0.2), **store)
        self.entries = [item("old news", guid="old")]

    def publish(self, title: str) -> None:
        self.entries.insert(0, item(title, guid=title))
        self.feeds.serve("/f", rss(self.entries))

    async def start(self) -> None:
        self.stop_event = asyncio.Event()
        self.task = asyncio.ensure_future(run_service(self.settings, self.stop_event))
        await eventually(lambda: self.feeds.hits("/f"), timeout=30, what="the first poll")

    async def health(self) -> tuple[int, str]:
        return await healthz(self.port)

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.wait_for(self.task, 15)


async def wait_health(service: Service, status: int, timeout: float = 30) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got, text = await service.health()
        if got == status:
            return text
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"/healthz stayed {got} {text!r}, expected {status}")
        await asyncio.sleep(0.1)


async def test_a_full_disk_is_a_503_and_nothing_is_lost_once_there_is_space(tmp_path, feed_server, monkeypatch, caplog):
    """The data directory's disk fills up (every fsync answers ENOSPC): the process stays
    up, /healthz says why, the alert found meanwhile is kept (not sent before it is
    written), no temp file is left, and when space is back it goes out, once."""
    hook = Hook()
    await hook.start()
    service = Service(tmp_path, feed_server, hook)
    await service.start()
    try:
        await wait_health(service, 200)
        real_fsync = tinydb_module.os.fsync

        def full(fd):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(tinydb_module.os, "fsync", full)
        service.publish("Lady Gaga duet announced")
        text = await wait_health(service, 503)
        assert "No space left on device" in text
        await asyncio.sleep(1.5)  # more cycles, each failing to write
        assert not service.task.done()
        assert hook.titles == []  # not durable yet: not offered for delivery
        assert not list((tmp_path / "data").glob(".*.tmp"))
        monkeypatch.setattr(tinydb_module.os, "fsync", real_fsync)  # space again
        await eventually(lambda: hook.titles, timeout=30, what="the kept alert")
        await wait_health(service, 200)
        await asyncio.sleep(1.5)
        assert hook.titles == ["Lady Gaga duet announced"]
    finally:
        await service.stop()
        await hook.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "No space left" in r.getMessage()]
    assert len(errors) == 1  # said once, not every cycle


class PrivateRedis:
    """A redis-server of this test's own, which the test stops and starts again on the
    same port: with its append-only file (a Redis with persistence), or wiped (one
    without)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server not installed")
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="tipoff-outage-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "yes", "--appendfsync", "always", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError("redis-server did not start")

    async def stop(self, wipe: bool = False) -> None:
        if self.proc is not None:
            self.proc.terminate()
            await asyncio.to_thread(self.proc.wait, 10)
            self.proc = None
        if wipe:
            shutil.rmtree(self.dir)
            self.dir = tempfile.mkdtemp(prefix="tipoff-outage-")


@pytest.fixture
async def private_redis():
    r = PrivateRedis()
    await r.start()
    yield r
    await r.stop(wipe=True)
    shutil.rmtree(r.dir, ignore_errors=True)


async def test_redis_away_for_a_while_is_a_503_and_nothing_is_lost_or_repeated(tmp_path, feed_server, private_redis):
    hook = Hook()
    await hook.start()
    service = Service(tmp_path, feed_server, hook, store_url=private_redis.url, store_prefix=redis_prefix(),
                      store_lease=3.0, worker="w1", worker_named=True)
    await service.start()
    try:
        await wait_health(service, 200)
        service.publish("duet one")
        await eventually(lambda: hook.titles == ["duet one"], timeout=30, what="the first alert")
        await private_redis.stop()  # Redis goes away (its data is on disk)
        assert "Redis at" in await wait_health(service, 503)
        service.publish("duet two, found while Redis is away")
        await asyncio.sleep(5.0)  # longer than the lease
        assert not service.task.done()
        await private_redis.start()
        await eventually(lambda: len(hook.titles) == 2, timeout=60, what="the alert found during the outage")
        await wait_health(service, 200)
        service.publish("duet three")
        await eventually(lambda: len(hook.titles) == 3, timeout=30, what="an alert after the outage")
        await asyncio.sleep(2.0)
        assert hook.titles == ["duet one", "duet two, found while Redis is away", "duet three"]
    finally:
        await service.stop()
        await hook.stop()


async def test_redis_back_empty_is_said_loudly_and_chats_setup_is_restored(tmp_path, feed_server, private_redis,
                                                                           caplog):
    """Redis restarted without its data: the worker notices (its data's mark is gone),
    logs it as CRITICAL, answers 503 until it has written back what it holds in memory
    (chats' feeds, watches and settings, feed states, known entries), and goes on without
    announcing old entries again."""
    prefix = redis_prefix()
    chat = DestinationName("telegram:-100123")
    seed = RedisStore(private_redis.url, prefix=prefix, consumer="seed")
    await seed.open()
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    seed.put_watch(Watch(WatchId("wchat"), "gaga", (chat,), t0, owner=chat))
    seed.put_subscription(Subscription("fchat", chat, feed_server.serve("/chat", rss([])), 600.0, t0))
    await seed.flush()
    await seed.close()
    hook = Hook()
    await hook.start()
    service = Service(tmp_path, feed_server, hook, store_url=private_redis.url, store_prefix=prefix,
                      store_lease=3.0, worker="w1", worker_named=True)
    await service.start()
    import redis.asyncio as aioredis

    r = aioredis.from_url(private_redis.url)
    try:
        await wait_health(service, 200)
        service.publish("duet one")
        await eventually(lambda: hook.titles == ["duet one"], timeout=30, what="the first alert")
        with caplog.at_level(logging.WARNING):
            await private_redis.stop(wipe=True)
            await private_redis.start()  # empty
            await eventually(lambda: any(rec.levelno == logging.CRITICAL and "came back EMPTY" in rec.getMessage()
                                         for rec in caplog.records), timeout=30, what="the loud log line")
        await wait_health(service, 200)
        assert await r.hget(prefix + "watches", "wchat") is not None
        assert await r.hget(prefix + "subs", "fchat") is not None
        assert await r.hlen(prefix + "feeds") >= 1
        await asyncio.sleep(2.0)
        assert hook.titles == ["duet one"]  # known entries were restored: nothing old announced again
        service.publish("duet two")
        await eventually(lambda: len(hook.titles) == 2, timeout=30, what="an alert after the restore")
    finally:
        await r.aclose()
        await service.stop()
        await hook.stop()


async def test_a_redis_without_persistence_is_warned_about_at_start(redis_url, private_redis, caplog):
    """The suite's shared redis-server keeps nothing on disk (.ci/run and conftest start
    it with appendonly no, save ""); the private one has an append-only file."""
    import redis.asyncio as aioredis

    r = aioredis.from_url(redis_url)
    config = {**await r.config_get("appendonly"), **await r.config_get("save")}
    await r.aclose()
    shared_persists = config["appendonly"] == "yes" or bool(config["save"].strip())
    with caplog.at_level(logging.WARNING):
        for url, warned in ((redis_url, not shared_persists), (private_redis.url, False)):
            caplog.clear()
            store = RedisStore(url, prefix=redis_prefix(), consumer="check")
            await store.open()
            await store.close()
            said = [r.getMessage() for r in caplog.records if "keeps nothing on disk" in r.getMessage()]
            assert bool(said) == warned, (url, said)
            assert all("appendonly yes" in line for line in said)


async def test_delivery_waits_while_the_shared_store_cannot_say_whose_alert_it_is(tmp_path):
    """Right before a send the shared store is asked whose alert it is; with Redis away
    that question fails: the destination's worker stops there, sends nothing, raises
    nothing, and the engine wakes it again later."""
    import random

    from bot.delivery import Delivery
    from bot.model import Outgoing
    from bot.store.base import OutboxItem, StoreError
    from tests.fakes.recording import RecordingAdapter

    class AwayStore:
        def __init__(self) -> None:
            self.item = OutboxItem("n1", 1, DestinationName("console"), Outgoing(notice="hello"))

        def pending(self, destination=None):
            return [self.item]

        def destination_state(self, name):
            from bot.store.base import DestinationState
            return DestinationState(name)

        async def ready_to_send(self, item_id):
            raise StoreError("cannot reach Redis at redis://…: Connection refused")

    adapter = RecordingAdapter()
    dest = Destination(DestinationName("console"), "console")
    delivery = Delivery(AwayStore(), lambda name: dest, {"console": adapter}, lambda: 1000.0, random.Random(1))
    assert await delivery.settle() == 0
    assert adapter.delivered == [] and getattr(adapter, "notices", []) == []
