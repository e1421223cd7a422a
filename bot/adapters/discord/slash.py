"""The `/tipoff …` slash commands and alert buttons: each a thin connector from typed
options to the command layer, and from its Reply to an interaction response (ephemeral
where only the invoker needs it)."""

from __future__ import annotations

import inspect
import io
import logging
from typing import Any, Callable, Coroutine, Optional

import discord
from discord import app_commands

from bot import destinations, i18n
from bot.adapters.base import Limits
from bot.commands import Command, Commands, Invocation, Reply, sorry
from bot.config import DiscordSettings
from bot.i18n import N_, _
from bot.model import Button
from bot.render.text import split_lines

log = logging.getLogger("tipoff.discord")

BUTTON_PREFIX = "tipoff:"
CONTENT_MAX = 2000
# a command argument's kind → the option type discord.py offers for it
OPTION_TYPES: dict[str, Any] = {"text": str, "watch": str, "feed": str, "role": discord.Role,
                                "file": discord.Attachment}


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


class DescriptionTranslator(app_commands.Translator):
    """The slash commands' descriptions in each Discord locale tipoff has a catalog for
    (Discord shows the member's); names stay as they are, so commands read the same
    everywhere."""

    DESCRIPTIONS = (app_commands.TranslationContextLocation.command_description,
                    app_commands.TranslationContextLocation.group_description,
                    app_commands.TranslationContextLocation.parameter_description)

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        lang = i18n.supported(locale.value)
        if context.location not in self.DESCRIPTIONS or lang is None or lang == i18n.DEFAULT:
            return None
        with i18n.speaking(lang):
            said = _(string.message)
        return said[:100] if said != string.message else None


def locale_of(interaction: discord.Interaction) -> str:
    """The language to answer in: the member's Discord client language when tipoff
    speaks it, else the server's preferred locale, else the member's."""
    member = str(interaction.locale.value) if interaction.locale else ""
    server = str(interaction.guild_locale.value) if interaction.guild_locale else ""
    return member if i18n.supported(member) or not i18n.supported(server) else server


class SlashCommands:
    """The adapter's side that faces people (adapter.py's DiscordAdapter has it)."""

    commands: Commands | None
    settings: DiscordSettings
    limits: Limits

    def command_group(self) -> app_commands.Group:
        """`/tipoff …`: one subcommand per command of the table (bot/commands.py), its
        options from the command's typed arguments, ids with autocomplete."""
        assert self.commands is not None
        group = app_commands.Group(name="tipoff", description=N_("tipoff: news alerts for this channel"),
                                   guild_only=True)
        for command in self.commands.commands.values():
            if command.name != "start":  # Telegram's greeting; Discord has help
                group.add_command(self._slash(command))
        return group

    def _slash(self, command: Command) -> app_commands.Command[Any, ..., None]:
        """One subcommand: a callback whose signature discord.py reads its options from."""
        params = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation=discord.Interaction)]
        for arg in command.params:
            kind = OPTION_TYPES[arg.kind]
            params.append(inspect.Parameter(arg.name, inspect.Parameter.KEYWORD_ONLY,
                                            annotation=kind if arg.required else Optional[kind],
                                            default=inspect.Parameter.empty if arg.required else None))

        async def callback(interaction: discord.Interaction, **values: Any) -> None:
            text = command.text_of({a.name: str(values[a.name]) for a in command.params
                                    if a.in_text and values.get(a.name) is not None})
            options = {a.name: str(values[a.name].id) for a in command.params
                       if a.kind == "role" and values.get(a.name) is not None}
            files = [values[a.name] for a in command.params if a.kind == "file" and values.get(a.name)]
            await self._run(interaction, command.name, text, options=options,
                            attachment=files[0] if files else None)

        callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        callback.__name__ = command.name
        described = app_commands.describe(**{a.name: a.describe[:100] for a in command.params})(callback)
        slash: app_commands.Command[Any, ..., None] = app_commands.Command(
            name=command.name, description=command.summary[:100], callback=described)
        for arg in command.params:
            if arg.kind in ("watch", "feed"):
                slash.autocomplete(arg.name)(self._completer(arg.kind))
        return slash

    def _completer(self, kind: str) -> Callable[[discord.Interaction, str],
                                                 Coroutine[Any, Any, list[app_commands.Choice[str]]]]:
        async def complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return self._choices(interaction, kind, current)
        return complete

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
                         group=f"discord-guild:{interaction.guild_id}", locale=locale_of(interaction))
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
                              group=f"discord-guild:{interaction.guild_id}", locale=locale_of(interaction))

        if command.manage and not allowed:  # answer at once, to the invoker only
            reply = await self.commands.run(invocation(), name, args)
            await interaction.response.send_message(reply.text[:CONTENT_MAX], ephemeral=True)
            return
        await interaction.response.defer(ephemeral=command.private, thinking=True)
        data = None
        if attachment is not None:
            if attachment.size > self.limits.import_bytes:
                with self.commands.speaking(invocation()):
                    await interaction.followup.send(_("That file is too large to import."), ephemeral=True)
                return
            data = await attachment.read()
        reply = await self.commands.run(invocation(data), name, args)
        await self._respond(interaction, reply, ephemeral=command.private or reply.private)

    async def _respond(self, interaction: discord.Interaction, reply: Reply, *, ephemeral: bool) -> None:
        chunks = split_lines(reply.text, CONTENT_MAX)  # at line ends: a long /help is two messages
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
        with i18n.speaking(locale_of(interaction)):
            text = sorry()
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            pass
