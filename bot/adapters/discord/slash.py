"""The `/tipoff …` slash commands and alert buttons: each a thin connector from typed
options to the command layer, and from its Reply to an interaction response (ephemeral
where only the invoker needs it)."""

from __future__ import annotations

import io
import logging
from typing import Any

import discord
from discord import app_commands

from bot import destinations
from bot.commands import Commands, Invocation, Reply
from bot.config import DiscordSettings
from bot.model import Button

log = logging.getLogger("tipoff.discord")

BUTTON_PREFIX = "tipoff:"
MAX_IMPORT_BYTES = 2 * 1024 * 1024
CONTENT_MAX = 2000


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


class SlashCommands:
    """The adapter's side that faces people (adapter.py's DiscordAdapter has it)."""

    commands: Commands | None
    settings: DiscordSettings

    def command_group(self) -> app_commands.Group:
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

    async def on_button(self, interaction: discord.Interaction) -> None:
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

    async def on_tree_error(self, interaction: discord.Interaction,
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
