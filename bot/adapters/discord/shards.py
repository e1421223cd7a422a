"""Discord's gateway, shard by shard: one connection per shard, IDENTIFYs spaced as
Discord requires (in one process, or across workers through Redis), and the shards
shared out between the workers on one Redis."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import discord
from discord import app_commands

from bot import sharding
from bot.config import Settings
from bot.store.base import SharedStore

log = logging.getLogger("tipoff.discord")


class ShardOwner(Protocol):
    """What a shard and the sharing need of the adapter (adapter.py has it)."""

    identify_pacer: Pacer
    shard_count: int
    max_concurrency: int

    def command_group(self) -> app_commands.Group: ...
    async def on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None: ...
    async def on_button(self, interaction: discord.Interaction) -> None: ...
    async def connect_shard(self, shard_id: int) -> None: ...
    async def disconnect_shard(self, shard_id: int) -> None: ...


def intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class GatewayShard(discord.Client):
    """One gateway connection: shard `shard_id` of `shard_count`. Discord sends it the
    slash commands and button presses of the servers on that shard (guild_id >> 22 %
    shard_count), and it answers them through its own command tree. It identifies only
    when the adapter's pacer lets it."""

    def __init__(self, adapter: ShardOwner, shard_id: int, shard_count: int) -> None:
        super().__init__(intents=intents(), shard_id=shard_id, shard_count=shard_count, max_ratelimit_timeout=30.0,
                         allowed_mentions=discord.AllowedMentions.none())
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = adapter.on_tree_error  # type: ignore[method-assign]
        self.tree.add_command(adapter.command_group())
        self.task: asyncio.Task[None] | None = None
        self.has_turn = False  # connect_shard waited for this connection's first IDENTIFY turn

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pacer = self.adapter.identify_pacer
        if not self.has_turn:  # a re-IDENTIFY after the session was lost: wait for a turn now
            await pacer.turn(shard_id or 0)
        self.has_turn = False
        await pacer.sent(shard_id or 0)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.adapter.on_button(interaction)


def gateway_problem(task: asyncio.Task[None]) -> str:
    """Why a gateway connection ended or never got ready, in words an operator can act on."""
    if not task.done():
        return "Discord sent no READY in time"
    exc = task.exception() if not task.cancelled() else None
    code = getattr(exc, "code", None)
    if code == 4011:
        return ('Discord says this bot needs more shards (close code 4011): set [discord] shards = "auto" '
                "or a bigger number")
    if code == 4010:
        return "Discord refused the shard (close code 4010): [discord] shards is not what the workers agreed"
    if code == 4004:
        return "Discord refused the token (close code 4004): check TIPOFF_DISCORD_TOKEN"
    return f"{type(exc).__name__}: {exc}" if exc is not None else "it stopped"


class Pacer(Protocol):
    """Spaces IDENTIFYs as Discord requires: one per interval in each concurrency bucket
    (shard_id % max_concurrency). `turn` is waited for before a shard's socket opens
    (so a long queue of shards never runs into a connect timeout); `sent` right before
    the IDENTIFY goes out, and waits out the little that connecting took less than the
    previous shard's, so the spacing holds where Discord measures it."""

    max_concurrency: int

    async def turn(self, shard_id: int) -> None: ...
    async def sent(self, shard_id: int) -> None: ...


class IdentifyPacer:
    """This process's Pacer. Several workers share a Redis-backed one instead (the one
    shards.share_shards installs)."""

    def __init__(self, interval: float, max_concurrency: int = 1) -> None:
        self.interval = interval
        self.max_concurrency = max_concurrency
        self._next_turn: dict[int, float] = {}
        self._last_sent: dict[int, float] = {}
        self._lock = asyncio.Lock()
        self._sending = asyncio.Lock()

    def _bucket(self, shard_id: int) -> int:
        return shard_id % max(1, self.max_concurrency)

    async def turn(self, shard_id: int) -> None:
        bucket, loop = self._bucket(shard_id), asyncio.get_running_loop()
        async with self._lock:  # turns are handed out one after another
            wait = self._next_turn.get(bucket, 0.0) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_turn[bucket] = loop.time() + self.interval

    async def sent(self, shard_id: int) -> None:
        bucket, loop = self._bucket(shard_id), asyncio.get_running_loop()
        async with self._sending:
            wait = self._last_sent.get(bucket, -self.interval) + self.interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_sent[bucket] = loop.time()
            self._next_turn[bucket] = max(self._next_turn.get(bucket, 0.0), loop.time() + self.interval)


async def share_shards(shared: SharedStore, adapter: ShardOwner, bot: str, settings: Settings,
                       stop: asyncio.Event) -> None:
    """Share Discord's gateway shards out between the workers on one Redis: each shard
    is one connection, held by the worker holding its lock (renewed every third of its
    lifetime), each worker up to its fair share (bot.sharding). The shard count is agreed
    between the workers; IDENTIFYs are spaced across all of them, as Discord requires.
    A worker that stops lets its shards go at once; a dead one's are taken over when its
    locks run out. Any worker can send."""
    ttl = sharding.lock_ttl(settings.store_lease)
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
