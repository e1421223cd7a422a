"""/help, /digest, /quiet, /pause, /resume, /status: the chat itself."""

from __future__ import annotations

from dataclasses import replace

from bot import controls, i18n
from bot.config import feed_id_for
from bot.i18n import _
from bot.render.text import ago
from bot.commands.base import (
    CommandsBase,
    Invocation,
    Reply,
    UsageError,
    _at,
)


class ChatCommands(CommandsBase):
    async def help(self, inv: Invocation, args: str) -> Reply:
        """Every command in the syntax of the platform asking (Discord's `/tipoff watch
        rule:`, Telegram's `/watch RULE`)."""
        platform = inv.destination.kind
        lines = [_("tipoff watches news feeds and tips this chat off when an entry matches one of its "
                   "watches. Rules work like a search box: words, \"exact phrases\", OR, -exclude, "
                   "(groups), title:word, duet*."), ""]
        for c in self.commands.values():
            if c.name == "start":
                continue
            lines.append(f"{c.usage(platform)} — {_(c.summary)}" + (" " + _("(admins)") if c.manage else ""))
            if c.example(platform) != c.call(platform):
                lines.append("    " + _("e.g. {example}").format(example=c.example(platform)))
        lines += ["", _("Your watches also cover every feed the operator shares with all chats.")]
        return Reply("\n".join(lines))

    async def digest(self, inv: Invocation, args: str) -> Reply:
        """/digest hourly | daily 09:00 [TZ] | off, for the chat, or with a watch id last
        for that watch alone."""
        parts = args.split()
        watch = self._own_watch(inv, parts[-1]) if parts else None
        if watch is not None:
            parts = parts[:-1]
        state = self.chats.settings(inv.destination.name)
        quiet = state.quiet
        default_tz = quiet.split()[-1] if quiet else "UTC"
        try:
            schedule = controls.parse_digest(" ".join(parts), default_tz)
        except controls.ControlError as exc:
            raise UsageError(str(exc)) from None
        spec = str(schedule) if schedule else ""
        if watch is not None:
            await self.chats.change_watch(replace(watch, digest=spec or "off"))
            return Reply((_("{id}: alerts gathered into a digest, {schedule}.") if spec else
                          _("{id}: alerts go out at once, whatever the chat's digest.")).format(id=watch.id,
                                                                                               schedule=spec))
        await self.chats.set(inv.destination.name, digest=spec)
        if not spec:
            return Reply(_("Digest off: alerts come here as they are found."))
        return Reply(_("Alerts here are now gathered into one message, {schedule}, grouped by watch. "
                       "/digest off to get them one by one again.").format(schedule=spec))

    async def quiet(self, inv: Invocation, args: str) -> Reply:
        if args.strip().lower() == "off":
            await self.chats.set(inv.destination.name, quiet="")
            return Reply(_("Quiet hours off."))
        try:
            quiet = controls.parse_quiet(args)
        except controls.ControlError as exc:
            raise UsageError(str(exc)) from None
        await self.chats.set(inv.destination.name, quiet=str(quiet))
        return Reply(_("Quiet hours {hours}: alerts found then wait, and arrive together when they end.")
                     .format(hours=quiet))

    async def pause(self, inv: Invocation, args: str) -> Reply:
        await self.chats.set(inv.destination.name, paused=True)
        return Reply(_("Paused: no alerts here until /resume. Entries that appear meanwhile will not be "
                       "announced later."))

    async def resume(self, inv: Invocation, args: str) -> Reply:
        restarted = await self.chats.resume(inv.destination.name)
        return Reply(_("Resumed: alerts come here again.") +
                     (" " + _("Checking again: {feeds}.").format(feeds=", ".join(restarted)) if restarted else ""))

    async def status(self, inv: Invocation, args: str) -> Reply:
        dest = inv.destination.name
        state = self.chats.settings(dest)
        now = self._now()
        today = now.strftime("%Y-%m-%d")
        sent = state.sent_today if state.day == today else 0
        waiting = len(self.store.pending(dest))
        own = self.chats.feeds(dest)
        errors = [(s.url, fs.last_error, fs.last_polled or 0) for s in own
                  if (fs := self.store.feed_state(feed_id_for(s.url))) is not None and fs.last_error]
        lines = [
            _("Paused (/resume to restart alerts).") if state.paused else _("Active."),
            _("Feeds: {own} added here + {shared} shared").format(own=len(own), shared=len(self.settings.feeds)),
            _("Watches: {count}").format(count=len(self._mine(inv))),
            _("Alerts sent today: {count}").format(count=sent)
            + (", " + _("{count} waiting to be delivered").format(count=waiting) if waiting else ""),
            _("Language: {language}").format(language=i18n.LANGUAGES[i18n.current()]),
        ]
        if not state.active:
            lines.append(_("Delivery stopped: {reason}").format(reason=state.reason))
        if state.last_error:
            lines.append(_("Last delivery error: {error} ({when})").format(
                error=state.last_error, when=ago(_at(state.last_error_at or 0), now)))
        if errors:
            url, err, _when = max(errors, key=lambda e: e[2])
            lines.append(_("Last feed error: {url}: {error}").format(url=url, error=err))
        return Reply("\n".join(lines))

    async def language(self, inv: Invocation, args: str) -> Reply:
        """/language: which language the chat's replies use; /language xx to choose,
        /language auto to follow the platform's again."""
        code = args.strip().lower()
        known = ", ".join(f"{c} ({name})" for c, name in i18n.LANGUAGES.items())
        if not code:
            return Reply(_("This chat's replies are in {language}. Languages: {languages}. "
                           "/language xx chooses one; /language auto follows Telegram's or Discord's.")
                         .format(language=i18n.LANGUAGES[i18n.current()], languages=known))
        if not await inv.can_manage():
            return Reply(_("Only the chat's admins can change its language."), private=True)
        if code == "auto":
            state = await self.chats.set(inv.destination.name, language="")
        elif i18n.supported(code) is None:
            raise UsageError(_('I don\'t speak "{code}" yet. Languages: {languages}.').format(
                code=code[:20], languages=known))
        else:
            state = await self.chats.set(inv.destination.name, language=i18n.supported(code))
        with i18n.speaking(state.language, state.locale, inv.locale) as lang:
            return Reply(_("From now on I answer here in {language}.").format(language=i18n.LANGUAGES[lang]))
