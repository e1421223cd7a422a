"""Discord adapter, on discord.py: `/tipoff ...` slash commands ↔ the command layer, and
alerts out as embeds in the channel where they were set up.

Every subcommand is a thin connector: it turns typed options into the command's
arguments and the Reply into an interaction response (ephemeral where only the invoker
needs it). discord.py's per-route buckets pace bot messages and retry short 429s; a
long one comes back as RetryAfter, 5xx and network errors as RetryAfter with backoff,
and a 403/404 channel as Gone (telling the server's system channel where possible)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from typing import Any, Mapping, Protocol

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from bot import destinations
from bot.adapters.base import Delivered, Gone, Rejected, RetryAfter, SendResult, StartError
from bot.commands import Commands, Invocation, Reply
from bot.config import DiscordSettings
from bot.model import Alert, Button, Destination, Digest, alert_buttons
from bot.render.discord import alert_payload, digest_payload, split_digest

log = logging.getLogger("tipoff.discord")

MAX_IMPORT_BYTES = 2 * 1024 * 1024
CONTENT_MAX = 2000
READY_TIMEOUT = 60.0


def nonce_for(alert_id: str) -> str:
    """A message nonce (at most 25 characters) that is the same every time one alert is
    sent, so Discord (enforce_nonce) posts it once even if a crash makes us send again."""
    return hashlib.blake2b(alert_id.encode(), digest_size=12).hexdigest()[:25]


def point_at(settings: DiscordSettings) -> None:
    """Aim discord.py at the configured REST base and gateway (Discord's, by default)."""
    discord.http.Route.BASE = settings.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway)


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


BUTTON_PREFIX = "tipoff:"


def button_view(buttons: tuple[Button, ...]) -> discord.ui.View:
    """The message components for tipoff's buttons. Their custom ids carry the whole
    action, so a press is understood after any restart (on_interaction reads it); the
    view itself is stopped, so discord.py keeps no per-message state for it."""
    view = discord.ui.View(timeout=None)
    for b in buttons:
        style = discord.ButtonStyle.danger if b.action.startswith("unwatch:") else discord.ButtonStyle.secondary
        view.add_item(discord.ui.Button(label=b.label[:80], custom_id=(BUTTON_PREFIX + b.action)[:100], style=style))
    view.stop()
    return view


def _intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class GatewayShard(discord.Client):
    """One gateway connection: shard `shard_id` of `shard_count`. Discord sends it the
    slash commands and button presses of the servers on that shard (guild_id >> 22 %
    shard_count), and it answers them through its own command tree. It identifies only
    when the adapter's pacer lets it."""

    def __init__(self, adapter: DiscordAdapter, shard_id: int, shard_count: int) -> None:
        super().__init__(intents=_intents(), shard_id=shard_id, shard_count=shard_count, max_ratelimit_timeout=30.0,
                         allowed_mentions=discord.AllowedMentions.none())
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = adapter._on_tree_error  # type: ignore[method-assign]
        self.tree.add_command(adapter._group())
        self.task: asyncio.Task[None] | None = None
        self.has_turn = False  # connect_shard waited for this connection's first IDENTIFY turn

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pacer = self.adapter.identify_pacer
        if not self.has_turn:  # a re-IDENTIFY after the session was lost: wait for a turn now
            await pacer.turn(shard_id or 0)
        self.has_turn = False
        await pacer.sent(shard_id or 0)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.adapter._on_button(interaction)


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
    service.share_shards installs)."""

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


class DiscordAdapter:
    kinds: tuple[str, ...] = ("discord",)

    def __init__(self, settings: DiscordSettings) -> None:
        if settings.token is None:
            raise ValueError("the Discord adapter needs TIPOFF_DISCORD_TOKEN")
        self.settings = settings
        point_at(settings)
        # REST only: sends alerts and syncs the commands; gateway connections are GatewayShards
        self.client = discord.Client(intents=_intents(), max_ratelimit_timeout=30.0,
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
        self.tree.add_command(self._group())

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
        payload = alert_payload(alert)
        roles = [discord.Object(id=int(r)) for r in payload["allowed_mentions"]["roles"]]
        extra: dict[str, Any] = {}
        buttons = alert_buttons(alert)
        if buttons:
            extra["view"] = button_view(buttons)
        return await self._deliver(destination, content=payload["content"] or None,
                                   embed=discord.Embed.from_dict(payload["embeds"][0]), nonce=nonce_for(alert.id),
                                   allowed_mentions=discord.AllowedMentions(everyone=False, users=False, roles=roles),
                                   **extra)

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

    async def _deliver(self, destination: Destination, **message: Any) -> SendResult:
        """Post one message, turning Discord's answers into Adapter results."""
        channel_id = int(destination.option("channel_id") or 0)
        channel = self.client.get_partial_messageable(channel_id)
        try:
            sent = await channel.send(**message)
            return Delivered(str(sent.id))
        except discord.RateLimited as exc:
            return RetryAfter(exc.retry_after, f"Discord rate limit: retry after {exc.retry_after:.0f}s")
        except (discord.Forbidden, discord.NotFound) as exc:
            reason = f"Discord: {exc.status} {exc.text or type(exc).__name__}"
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
        why = "I no longer have permission to post there" if error.status == 403 else "that channel is gone"
        try:
            await system.send(f"tipoff stopped sending alerts to <#{channel_id}>: {why}. Fix it, then run "
                              "`/tipoff resume` in that channel.")
        except discord.HTTPException:
            pass

    # -- commands in ----------------------------------------------------------------

    def _group(self) -> app_commands.Group:
        group = app_commands.Group(name="tipoff", description="tipoff: news alerts for this channel",
                                   guild_only=True)
        run = self._run

        @group.command(name="help", description="every command, with an example")
        async def help_(interaction: discord.Interaction) -> None:
            await run(interaction, "help", "")

        @group.command(name="watch", description="alert this channel when new entries match a rule")
        @app_commands.describe(rule='e.g. "lady gaga" AND "britney spears" AND duet',
                               mention="a role to mention on this watch's alerts")
        async def watch(interaction: discord.Interaction, rule: str, mention: discord.Role | None = None) -> None:
            await run(interaction, "watch", rule, options={"mention": str(mention.id)} if mention else {})

        @group.command(name="unwatch", description="stop a watch")
        @app_commands.describe(id="the watch's id (see /tipoff watches)")
        async def unwatch(interaction: discord.Interaction, id: str) -> None:
            await run(interaction, "unwatch", id)

        @group.command(name="watches", description="this channel's watches")
        async def watches(interaction: discord.Interaction) -> None:
            await run(interaction, "watches", "")

        @group.command(name="add", description="watch a feed in this channel")
        @app_commands.describe(url='the feed\'s address, or a source: news:"lady gaga" duet, reddit:r/popheads, …',
                               every="how often to check it, e.g. 15m")
        async def add(interaction: discord.Interaction, url: str, every: str | None = None) -> None:
            await run(interaction, "add", f"{url} every {every}" if every else url)

        @group.command(name="remove", description="remove a feed this channel added")
        @app_commands.describe(id="the feed's id (see /tipoff feeds)")
        async def remove(interaction: discord.Interaction, id: str) -> None:
            await run(interaction, "remove", id)

        @group.command(name="feeds", description="this channel's feeds, with their last poll and error")
        async def feeds(interaction: discord.Interaction) -> None:
            await run(interaction, "feeds", "")

        @group.command(name="test", description="which watches would fire on a text or a feed (nothing is sent)")
        @app_commands.describe(text="a headline, or a feed's address")
        async def test(interaction: discord.Interaction, text: str) -> None:
            await run(interaction, "test", text)

        @group.command(name="pause", description="stop alerts in this channel until resume")
        async def pause(interaction: discord.Interaction) -> None:
            await run(interaction, "pause", "")

        @group.command(name="resume", description="start alerts in this channel again")
        async def resume(interaction: discord.Interaction) -> None:
            await run(interaction, "resume", "")

        @group.command(name="status", description="feeds, watches, alerts sent today, last error")
        async def status(interaction: discord.Interaction) -> None:
            await run(interaction, "status", "")

        @group.command(name="export", description="this channel's feeds (OPML) and watches as a file")
        async def export(interaction: discord.Interaction) -> None:
            await run(interaction, "export", "")

        @group.command(name="import", description="add every feed of an OPML file")
        @app_commands.describe(file="an OPML file exported from a feed reader")
        async def import_(interaction: discord.Interaction, file: discord.Attachment) -> None:
            await run(interaction, "import", "", attachment=file)

        @group.command(name="sources", description="shortcuts add understands instead of a feed URL")
        async def sources(interaction: discord.Interaction) -> None:
            await run(interaction, "sources", "")

        @group.command(name="snooze", description="no alerts from a watch for a while")
        @app_commands.describe(id="the watch's id", duration="e.g. 8h, 24h, 3d, or off")
        async def snooze(interaction: discord.Interaction, id: str, duration: str) -> None:
            await run(interaction, "snooze", f"{id} {duration}")

        @group.command(name="label", description="a name shown on a watch's alerts instead of its rule")
        @app_commands.describe(id="the watch's id", text="the label (empty: show the rule)")
        async def label(interaction: discord.Interaction, id: str, text: str = "") -> None:
            await run(interaction, "label", f"{id} {text}".strip())

        @group.command(name="digest", description="gather alerts into one message: hourly, daily 09:00 TZ, or off")
        @app_commands.describe(schedule="hourly | daily 09:00 Europe/Berlin | off",
                               id="only this watch (default: the whole channel)")
        async def digest(interaction: discord.Interaction, schedule: str, id: str | None = None) -> None:
            await run(interaction, "digest", f"{schedule} {id}" if id else schedule)

        @group.command(name="quiet", description="hold alerts during these hours, deliver them after")
        @app_commands.describe(hours="e.g. 23:00-07:00 Europe/Berlin, or off")
        async def quiet(interaction: discord.Interaction, hours: str) -> None:
            await run(interaction, "quiet", hours)

        @unwatch.autocomplete("id")
        @snooze.autocomplete("id")
        @label.autocomplete("id")
        @digest.autocomplete("id")
        async def watch_ids(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return self._choices(interaction, "watch", current)

        @remove.autocomplete("id")
        async def feed_ids(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return self._choices(interaction, "feed", current)

        return group

    async def _on_button(self, interaction: discord.Interaction) -> None:
        """A tipoff button was pressed (under an alert or a reply): run its action as the
        member who pressed it, with the same permission check as the commands."""
        if interaction.type != discord.InteractionType.component or self.commands is None:
            return
        custom_id = str(interaction.data.get("custom_id", "") if interaction.data else "")
        if not custom_id.startswith(BUTTON_PREFIX) or interaction.channel_id is None:
            return
        allowed = self._can_manage(interaction)

        async def can_manage() -> bool:
            return allowed

        inv = Invocation(destinations.discord(interaction.channel_id), f"discord:{interaction.user.id}", can_manage,
                         group=f"discord-guild:{interaction.guild_id}")
        reply = await self.commands.press(inv, custom_id[len(BUTTON_PREFIX):])
        extra: dict[str, Any] = {"view": button_view(reply.buttons)} if reply.buttons else {}
        await interaction.response.send_message(reply.text[:CONTENT_MAX], ephemeral=reply.private, **extra)

    def _choices(self, interaction: discord.Interaction, kind: str, current: str) -> list[app_commands.Choice[str]]:
        if self.commands is None or interaction.channel_id is None:
            return []
        dest = destinations.discord(interaction.channel_id).name
        return [app_commands.Choice(name=label, value=value)
                for value, label in self.commands.suggest(dest, kind, current)]

    def _can_manage(self, interaction: discord.Interaction) -> bool:
        perms = interaction.permissions
        if perms.manage_channels or perms.administrator:
            return True
        role = self.settings.manager_role
        user = interaction.user
        return bool(role and isinstance(user, discord.Member) and any(r.name == role for r in user.roles))

    async def _run(self, interaction: discord.Interaction, name: str, args: str, *,
                   options: dict[str, str] | None = None, attachment: discord.Attachment | None = None) -> None:
        assert self.commands is not None and interaction.channel_id is not None
        command = self.commands.commands[name]
        allowed = self._can_manage(interaction)

        async def can_manage() -> bool:
            return allowed

        def invocation(data: bytes | None = None) -> Invocation:
            dest = destinations.discord(interaction.channel_id or 0)
            return Invocation(dest, f"discord:{interaction.user.id}", can_manage, data, options or {},
                              group=f"discord-guild:{interaction.guild_id}")

        if command.manage and not allowed:  # answer at once, to the invoker only
            reply = await self.commands.run(invocation(), name, args)
            await interaction.response.send_message(reply.text[:CONTENT_MAX], ephemeral=True)
            return
        await interaction.response.defer(ephemeral=command.private, thinking=True)
        data = None
        if attachment is not None:
            if attachment.size > MAX_IMPORT_BYTES:
                await interaction.followup.send("That file is too large to import.", ephemeral=True)
                return
            data = await attachment.read()
        reply = await self.commands.run(invocation(data), name, args)
        await self._respond(interaction, reply, ephemeral=command.private or reply.private)

    async def _respond(self, interaction: discord.Interaction, reply: Reply, *, ephemeral: bool) -> None:
        chunks = [reply.text[i:i + CONTENT_MAX] for i in range(0, len(reply.text), CONTENT_MAX)] or [""]
        for i, chunk in enumerate(chunks):
            extra: dict[str, Any] = {}
            if reply.document is not None and i == len(chunks) - 1:
                name, content = reply.document
                extra["file"] = discord.File(io.BytesIO(content), filename=name)
            if reply.buttons and i == len(chunks) - 1:
                extra["view"] = button_view(reply.buttons)
            await interaction.followup.send(chunk or "\u200b", ephemeral=ephemeral, **extra)

    async def _on_tree_error(self, interaction: discord.Interaction,
                             error: app_commands.AppCommandError) -> None:
        log.error("discord: command failed: %s", error, exc_info=error)
        text = "Sorry, something went wrong on my side. The operator's log has the details."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            pass
