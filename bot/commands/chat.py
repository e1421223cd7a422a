"""/help, /digest, /quiet, /pause, /resume, /status: the chat itself."""

from __future__ import annotations

from dataclasses import replace

from bot import controls
from bot.config import feed_id_for
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
        lines = ["tipoff watches news feeds and tips this chat off when an entry matches one of its "
                 "watches. Rules work like a search box: words, \"exact phrases\", OR, -exclude, "
                 "(groups), title:word, duet*.", ""]
        for c in self.commands.values():
            if c.name == "start":
                continue
            lines.append(f"{c.usage(platform)} — {c.summary}" + (" (admins)" if c.manage else ""))
            if c.example(platform) != c.call(platform):
                lines.append(f"    e.g. {c.example(platform)}")
        lines += ["", "Your watches also cover every feed the operator shares with all chats."]
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
            return Reply(f"{watch.id}: " + (f"alerts gathered into a digest, {spec}." if spec else
                                            "alerts go out at once, whatever the chat's digest."))
        await self.chats.set(inv.destination.name, digest=spec)
        if not spec:
            return Reply("Digest off: alerts come here as they are found.")
        return Reply(f"Alerts here are now gathered into one message, {spec}, grouped by watch. "
                     "/digest off to get them one by one again.")

    async def quiet(self, inv: Invocation, args: str) -> Reply:
        if args.strip().lower() == "off":
            await self.chats.set(inv.destination.name, quiet="")
            return Reply("Quiet hours off.")
        try:
            quiet = controls.parse_quiet(args)
        except controls.ControlError as exc:
            raise UsageError(str(exc)) from None
        await self.chats.set(inv.destination.name, quiet=str(quiet))
        return Reply(f"Quiet hours {quiet}: alerts found then wait, and arrive together when they end.")

    async def pause(self, inv: Invocation, args: str) -> Reply:
        await self.chats.set(inv.destination.name, paused=True)
        return Reply("Paused: no alerts here until /resume. Entries that appear meanwhile will not be announced later.")

    async def resume(self, inv: Invocation, args: str) -> Reply:
        restarted = await self.chats.resume(inv.destination.name)
        return Reply("Resumed: alerts come here again." +
                     (f" Checking again: {', '.join(restarted)}." if restarted else ""))

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
            "Paused (/resume to restart alerts)." if state.paused else "Active.",
            f"Feeds: {len(own)} added here + {len(self.settings.feeds)} shared",
            f"Watches: {len(self._mine(inv))}",
            f"Alerts sent today: {sent}" + (f", {waiting} waiting to be delivered" if waiting else ""),
        ]
        if not state.active:
            lines.append(f"Delivery stopped: {state.reason}")
        if state.last_error:
            lines.append(f"Last delivery error: {state.last_error} ({ago(_at(state.last_error_at or 0), now)})")
        if errors:
            url, err, _ = max(errors, key=lambda e: e[2])
            lines.append(f"Last feed error: {url}: {err}")
        return Reply("\n".join(lines))
