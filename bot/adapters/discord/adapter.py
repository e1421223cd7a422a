"""Discord adapter, on discord.py: alerts out as embeds in the channel where they were
set up (slash.py: the commands in; shards.py: the gateway).

discord.py's per-route buckets pace bot messages and retry short 429s; a
long one comes back as RetryAfter, 5xx and network errors as RetryAfter with backoff,
and a 403/404 channel as Gone (telling the server's system channel where possible)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timezone
from typing import Any, Mapping

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from bot.adapters.base import Delivered, Gone, Limits, Rejected, RetryAfter, SendResult, StartError
from bot.adapters.discord.shards import GatewayShard, IdentifyPacer, Pacer, gateway_problem, intents
from bot.adapters.discord.slash import CONTENT_MAX, DescriptionTranslator, SlashCommands, button_view
from bot.commands import Commands
from bot.config import DiscordSettings
from bot.i18n import _
from bot.model import Alert, Destination, Digest, Source, Told, alert_buttons
from bot.render.discord import alert_payload, digest_payload, split_digest

log = logging.getLogger("tipoff.discord")

READY_TIMEOUT = 60.0
# Discord's JSON error codes for a message that cannot be edited: Unknown Message, and
# Cannot edit a message authored by another user
UNEDITABLE = frozenset({10008, 50005})


def nonce_for(alert_id: str) -> str:
    """A message nonce (at most 25 characters) that is the same every time one alert is
    sent, so Discord (enforce_nonce) posts it once even if a crash makes us send again."""
    return hashlib.blake2b(alert_id.encode(), digest_size=12).hexdigest()[:25]


def point_at(settings: DiscordSettings) -> None:
    """Aim discord.py at the configured REST base and gateway (Discord's, by default)."""
    discord.http.Route.BASE = settings.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway)


class DiscordAdapter(SlashCommands):
    kinds: tuple[str, ...] = ("discord",)
    limits = Limits(message_chars=CONTENT_MAX, messages_per_chat_second=5 / 5)  # discord.py paces by route

    def __init__(self, settings: DiscordSettings) -> None:
        if settings.token is None:
            raise ValueError("the Discord adapter needs TIPOFF_DISCORD_TOKEN")
        self.settings = settings
        point_at(settings)
        # REST only: sends alerts and syncs the commands; gateway connections are GatewayShards
        self.client = discord.Client(intents=intents(), max_ratelimit_timeout=30.0,
                                     allowed_mentions=discord.AllowedMentions.none())
        self.tree = app_commands.CommandTree(self.client)  # the command definitions that are synced
        self.commands: Commands | None = None
        self.shards: dict[int, GatewayShard] = {}  # the gateway connections this process holds
        self.shard_count = settings.shards or 1
        self.max_concurrency = 1
        self.identify_pacer: Pacer = IdentifyPacer(settings.identify_interval)
        self._synced = False
        self._logged_in = False
        self.exclusive_gateway = False  # several workers: shards are connected only when elected

    def attach(self, commands: Commands) -> None:
        self.commands = commands
        self.tree.add_command(self.command_group())

    async def start(self) -> None:
        """Log in (REST: enough to send), settle the shard count (`[discord] shards`, or
        Discord's recommendation) and, unless several workers share this token and
        share the shards out between them, connect every shard."""
        if self._logged_in:
            return
        assert self.settings.token is not None
        try:
            await self.client.login(self.settings.token.reveal())
        except discord.LoginFailure:
            raise StartError("Discord refused the bot token in TIPOFF_DISCORD_TOKEN: check it in the Developer "
                             "Portal (Bot → Reset Token)") from None
        self._logged_in = True
        if self.commands is None:
            return  # sending only (`tipoff run --once`): no gateway
        limits: Mapping[str, Any]
        try:
            recommended, _, limits = await self.client.http.get_bot_gateway()
        except (discord.DiscordException, aiohttp.ClientError, OSError) as exc:
            if not self.settings.shards:
                raise RuntimeError("discord: cannot ask Discord how many gateway shards to use (GET /gateway/bot: "
                                   f"{type(exc).__name__}); set [discord] shards to a number") from None
            log.warning("discord: GET /gateway/bot failed (%s); going by [discord] shards, one IDENTIFY at a time",
                        type(exc).__name__)
            recommended, limits = self.settings.shards, {"max_concurrency": 1}
        self.max_concurrency = int(limits.get("max_concurrency", 1)) or 1
        self.identify_pacer.max_concurrency = self.max_concurrency
        self.shard_count = self.settings.shards or max(1, int(recommended))
        log.info("discord: %d gateway shard%s (%s)", self.shard_count, "" if self.shard_count == 1 else "s",
                 "configured" if self.settings.shards else "Discord's recommendation")
        if not self.exclusive_gateway:
            await asyncio.gather(*(self.connect_shard(i) for i in range(self.shard_count)))

    async def sync_commands(self) -> None:
        """Register the slash commands with Discord (once per process start)."""
        if self.commands is None or self._synced:
            return
        if self.tree.translator is None:  # descriptions in every language tipoff speaks
            await self.tree.set_translator(DescriptionTranslator())
        if self.settings.guild:
            guild = discord.Object(id=self.settings.guild)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        self._synced = True
        log.info("discord: %d slash commands synced %s", len(synced),
                 f"to guild {self.settings.guild}" if self.settings.guild else "globally")

    async def connect_shard(self, shard_id: int) -> None:
        """Open the gateway connection of one shard and wait until Discord has sent it
        its servers. Shard 0's holder registers the slash commands."""
        if shard_id in self.shards:
            return
        assert self.settings.token is not None
        shard = self.shards[shard_id] = GatewayShard(self, shard_id, self.shard_count)
        try:
            await shard.login(self.settings.token.reveal())
            # wait for the turn to IDENTIFY before opening the socket: with many shards the
            # wait is long, and discord.py gives a connection 60 s from opening to identifying
            await self.identify_pacer.turn(shard_id)
            shard.has_turn = True
            shard.task = asyncio.create_task(shard.connect(reconnect=True))
            ready = asyncio.ensure_future(shard.wait_until_ready())
            done, _ = await asyncio.wait({ready, shard.task}, timeout=READY_TIMEOUT,
                                         return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                ready.cancel()
                raise RuntimeError(f"discord: shard {shard_id} of {self.shard_count} could not connect: "
                                   f"{gateway_problem(shard.task)}")
        except BaseException:
            await self.disconnect_shard(shard_id)
            raise
        shard.task.add_done_callback(lambda t: self._shard_ended(shard_id, t))
        if shard_id == 0:
            await self.sync_commands()
        log.info("discord: shard %d of %d connected as %s", shard_id, self.shard_count, shard.user)

    def _shard_ended(self, shard_id: int, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("discord: shard %d of %d stopped: %s", shard_id, self.shard_count, gateway_problem(task))

    async def disconnect_shard(self, shard_id: int) -> None:
        shard = self.shards.pop(shard_id, None)
        if shard is None:
            return
        await shard.close()
        if shard.task is not None:
            try:
                await asyncio.wait_for(shard.task, 10)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception):
                pass

    async def close(self) -> None:
        if not self._logged_in:
            return
        self._logged_in = False
        for shard_id in list(self.shards):
            await self.disconnect_shard(shard_id)
        await self.client.close()

    # -- alerts out --------------------------------------------------------------

    async def send(self, destination: Destination, alert: Alert) -> SendResult:
        return await self._deliver(destination, **self._alert_message(alert), nonce=nonce_for(alert.id))

    async def update(self, destination: Destination, told: Told, new: tuple[Source, ...]) -> SendResult:
        """Edit the alert's message to name every outlet so far (an edit pings nobody)."""
        if told.in_digest or not told.receipt.isdigit():
            return Rejected("the alert went out in a digest: it has no message of its own to edit")
        sent = datetime.fromtimestamp(told.sent_at, timezone.utc)
        return await self._deliver(destination, edit=int(told.receipt), **self._alert_message(told.alert, sent))

    @staticmethod
    def _alert_message(alert: Alert, now: datetime | None = None) -> dict[str, Any]:
        payload = alert_payload(alert, now)
        roles = [discord.Object(id=int(r)) for r in payload["allowed_mentions"]["roles"]]
        extra: dict[str, Any] = {}
        buttons = alert_buttons(alert)
        if buttons:
            extra["view"] = button_view(buttons)
        return dict(content=payload["content"] or None, embed=discord.Embed.from_dict(payload["embeds"][0]),
                    allowed_mentions=discord.AllowedMentions(everyone=False, users=False, roles=roles), **extra)

    def split_digest(self, digest: Digest) -> list[Digest]:
        return split_digest(digest)

    async def send_digest(self, destination: Destination, digest: Digest) -> SendResult:
        payload = digest_payload(digest)
        roles = [discord.Object(id=int(r)) for r in payload["allowed_mentions"]["roles"]]
        key = "digest:" + ",".join(a.id for a in digest.alerts)
        return await self._deliver(destination, content=payload["content"] or None,
                                   embed=discord.Embed.from_dict(payload["embeds"][0]), nonce=nonce_for(key),
                                   allowed_mentions=discord.AllowedMentions(everyone=False, users=False, roles=roles))

    async def notify(self, destination: Destination, text: str) -> SendResult:
        return await self._deliver(destination, content=text[:CONTENT_MAX],
                                   allowed_mentions=discord.AllowedMentions.none())

    async def _deliver(self, destination: Destination, edit: int = 0, **message: Any) -> SendResult:
        """Post one message (or edit the one `edit` names), turning Discord's answers
        into Adapter results."""
        channel_id = int(destination.option("channel_id") or 0)
        channel = self.client.get_partial_messageable(channel_id)
        try:
            if edit:
                edited = await channel.get_partial_message(edit).edit(**message)
                return Delivered(str(edited.id))
            sent = await channel.send(**message)
            return Delivered(str(sent.id))
        except discord.RateLimited as exc:
            return RetryAfter(exc.retry_after, f"Discord rate limit: retry after {exc.retry_after:.0f}s")
        except (discord.Forbidden, discord.NotFound) as exc:
            reason = f"Discord: {exc.status} {exc.text or type(exc).__name__}"
            if edit and exc.code in UNEDITABLE:  # the message is gone, or not ours to edit: the channel is fine
                return Rejected(reason)
            await self._tell_server(channel_id, exc)
            return Gone(reason)
        except discord.DiscordServerError as exc:
            return RetryAfter(None, f"Discord: {exc.status} server error")
        except discord.HTTPException as exc:
            if exc.status >= 500 or exc.status == 429:
                return RetryAfter(None, f"Discord: {exc.status}")
            return Rejected(f"Discord: {exc.status} {exc.text}"[:300])
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            return RetryAfter(None, f"Discord unreachable: {type(exc).__name__}")

    async def _tell_server(self, channel_id: int, error: discord.HTTPException) -> None:
        """Best effort: say in the server's system channel why alerts stopped."""
        channel = next((c for c in (s.get_channel(channel_id) for s in self.shards.values()) if c), None)
        guild = getattr(channel, "guild", None)
        system = guild.system_channel if guild is not None else None
        if system is None or system.id == channel_id:
            return
        said = (_("tipoff stopped sending alerts to {channel}: I no longer have permission to post there. Fix "
                  "it, then run `/tipoff resume` in that channel.") if error.status == 403 else
                _("tipoff stopped sending alerts to {channel}: that channel is gone. Fix it, then run "
                  "`/tipoff resume` in that channel."))
        try:  # in the channel's language: delivery speaks it while this destination is served
            await system.send(said.format(channel=f"<#{channel_id}>"))
        except discord.HTTPException:
            pass

    # -- commands in ----------------------------------------------------------------

