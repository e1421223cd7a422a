"""/watch, /unwatch, /watches, /snooze, /label, /spread: a chat's watches."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from bot import controls
from bot.i18n import _, ngettext
from bot.model import Button, Watch, WatchId
from bot.rules.syntax import RuleError, describe, parse_rule
from bot.sources import news
from bot.commands.base import (
    CommandsBase,
    Invocation,
    Reply,
    UsageError,
    around_column,
)


def _settings_of(watch: Watch) -> str:
    """What a watch's line in /watches adds to its rule: its label, spread, snooze."""
    notes = [f'"{watch.label}"'] if watch.label else []
    if watch.min_sources > 1:
        notes.append(_("after {outlets}").format(outlets=controls.describe_spread(watch.min_sources, watch.within)))
    return f"  ({'; '.join(notes)})" if notes else ""


class WatchCommands(CommandsBase):
    async def watch(self, inv: Invocation, args: str) -> Reply:
        if not args:
            raise UsageError(_("Tell me what to watch for."))
        try:
            tree = parse_rule(args, self.settings.rules)
        except RuleError as exc:
            shown, pointer = around_column(args, exc.column)
            return Reply(_("I can't use that rule: {problem}").format(problem=exc) + f"\n{shown}\n{pointer}\n"
                         + _("Example: {example}").format(example=self.commands["watch"].example(inv.destination.kind)))
        mine = self._mine(inv)
        if self._watch_count(inv) >= self.settings.limits.watches_per_chat:
            return Reply(self._at_limit(inv, "watches", self.settings.limits.watches_per_chat))
        if any(w.rule == args for w in mine):
            same = next(w for w in mine if w.rule == args)
            return Reply(_("This chat already watches that ({id}).").format(id=same.id))
        dest = inv.destination.name
        mention = inv.options.get("mention", "")
        watch = Watch(WatchId(self._new_id("w")), args, (dest,), self._now(), owner=dest, mention=mention,
                      group=inv.group)
        await self.chats.add_watch(watch)
        own = len(self.chats.feeds(dest))
        feeds = own + len(self.settings.feeds)
        text = _("Watching as {id}: {rule}").format(id=watch.id, rule=describe(tree)) + "\n" + (
            ngettext("New entries in {count} feed will be checked; alerts come here, mentioning {role}.",
                     "New entries in {count} feeds will be checked; alerts come here, mentioning {role}.", feeds)
            if mention else
            ngettext("New entries in {count} feed will be checked; alerts come here.",
                     "New entries in {count} feeds will be checked; alerts come here.", feeds)
        ).format(count=feeds, role=f"<@&{mention}>")
        if own == 0 and news.query_for_rule(tree):
            query = news.query_for_rule(tree)
            return Reply(text + "\n" + _("This chat has no feeds of its own yet: add Google News for {query}?")
                         .format(query=query),
                         buttons=(Button(_("Add Google News for this"), f"addnews:{watch.id}"),))
        return Reply(text)

    async def unwatch(self, inv: Invocation, args: str) -> Reply:
        if not args:
            raise UsageError(_("Which watch? /watches lists their ids."))
        watch = next((w for w in self._mine(inv) if w.id == args.split()[0]), None)
        if watch is None:
            return Reply(_no_watch(args.split()[0]))
        await self.chats.remove_watch(watch.id)
        return Reply(_("Stopped watching {id}: {rule}").format(id=watch.id, rule=watch.rule))

    async def list_watches(self, inv: Invocation, args: str) -> Reply:
        mine = self._mine(inv)
        if not mine:
            return Reply(_("No watches here yet. Add one: {example}").format(
                example=self.commands["watch"].example(inv.destination.kind)))
        return Reply(_("Watches here:") + "\n" + "\n".join(f"{w.id}  {w.rule}" + _settings_of(w) for w in mine))

    async def spread(self, inv: Invocation, args: str) -> Reply:
        parts = args.split()
        if len(parts) not in (2, 3):
            raise UsageError(_("Which watch, and how many outlets must carry a story (or off)?"))
        watch = self._own_watch(inv, parts[0])
        if watch is None:
            return Reply(_no_watch(parts[0]))
        if parts[1].lower() == "off":
            await self.chats.change_watch(replace(watch, min_sources=0, within=0.0))
            return Reply(_("{id} alerts at a story's first report again: {name}").format(
                id=watch.id, name=watch.label or watch.rule))
        try:
            sources, within = controls.spread_setting(parts[1], parts[2] if len(parts) == 3 else None)
        except controls.ControlError as exc:
            raise UsageError(str(exc)) from None
        await self.chats.change_watch(replace(watch, min_sources=sources, within=within))
        return Reply(_("{id} ({name}) now alerts once {outlets} carry a story; the alert names them, and stories "
                       "that never get that far are not announced. /spread {id} off ends it.").format(
            id=watch.id, name=watch.label or watch.rule, outlets=controls.describe_spread(sources, within)))

    async def snooze(self, inv: Invocation, args: str) -> Reply:
        parts = args.split()
        if len(parts) != 2:
            raise UsageError(_("Which watch, and for how long (or off)?"))
        watch = self._own_watch(inv, parts[0])
        if watch is None:
            return Reply(_no_watch(parts[0]))
        if parts[1].lower() == "off":
            await self.chats.change_watch(replace(watch, snoozed_until=0.0))
            return Reply(_("{id} is awake again: {name}").format(id=watch.id, name=watch.label or watch.rule))
        try:
            seconds = controls.snooze_seconds(parts[1])
        except controls.ControlError as exc:
            raise UsageError(str(exc)) from None
        until = self.clock() + seconds
        await self.chats.change_watch(replace(watch, snoozed_until=until))
        return Reply(_("Snoozed {id} ({name}) until {until} UTC. Entries that appear meanwhile will not be "
                       "announced. /snooze {id} off ends it.").format(
            id=watch.id, name=watch.label or watch.rule,
            until=f"{datetime.fromtimestamp(until, timezone.utc):%Y-%m-%d %H:%M}"))

    async def label(self, inv: Invocation, args: str) -> Reply:
        wid, _sep, text = args.partition(" ")
        if not wid:
            raise UsageError(_("Which watch, and what label?"))
        watch = self._own_watch(inv, wid)
        if watch is None:
            return Reply(_no_watch(wid))
        text = " ".join(text.split())[:100]
        await self.chats.change_watch(replace(watch, label=text))
        return Reply((_("{id} alerts now say: {label}") if text else _("{id} alerts show its rule again."))
                     .format(id=watch.id, label=text))


def _no_watch(wid: str) -> str:
    return _("There is no watch {id} in this chat. /watches lists them.").format(id=wid)
