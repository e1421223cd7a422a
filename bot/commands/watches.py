"""/watch, /unwatch, /watches, /snooze, /label, /spread: a chat's watches."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from bot import controls
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
        notes.append("after " + controls.describe_spread(watch.min_sources, watch.within))
    return f"  ({'; '.join(notes)})" if notes else ""


class WatchCommands(CommandsBase):
    async def watch(self, inv: Invocation, args: str) -> Reply:
        if not args:
            raise UsageError("Tell me what to watch for.")
        try:
            tree = parse_rule(args, self.settings.rules)
        except RuleError as exc:
            shown, pointer = around_column(args, exc.column)
            return Reply(f"I can't use that rule: {exc}\n{shown}\n{pointer}\nExample: "
                         f'{self.commands["watch"].example(inv.destination.kind)}')
        mine = self._mine(inv)
        if self._watch_count(inv) >= self.settings.limits.watches_per_chat:
            return Reply(f"{self._where(inv)} has reached its limit of {self.settings.limits.watches_per_chat} "
                         "watches. Remove one with /unwatch ID first.")
        if any(w.rule == args for w in mine):
            same = next(w for w in mine if w.rule == args)
            return Reply(f"This chat already watches that ({same.id}).")
        dest = inv.destination.name
        mention = inv.options.get("mention", "")
        watch = Watch(WatchId(self._new_id("w")), args, (dest,), self._now(), owner=dest, mention=mention,
                      group=inv.group)
        await self.chats.add_watch(watch)
        own = len(self.chats.feeds(dest))
        feeds = own + len(self.settings.feeds)
        also = f", mentioning <@&{mention}>" if mention else ""
        text = (f"Watching as {watch.id}: {describe(tree)}\n"
                f"New entries in {feeds} feed{'s' if feeds != 1 else ''} will be checked; alerts come here{also}.")
        if own == 0 and news.query_for_rule(tree):
            query = news.query_for_rule(tree)
            return Reply(text + f"\nThis chat has no feeds of its own yet: add Google News for {query}?",
                         buttons=(Button("Add Google News for this", f"addnews:{watch.id}"),))
        return Reply(text)

    async def unwatch(self, inv: Invocation, args: str) -> Reply:
        if not args:
            raise UsageError("Which watch? /watches lists their ids.")
        watch = next((w for w in self._mine(inv) if w.id == args.split()[0]), None)
        if watch is None:
            return Reply(f"There is no watch {args.split()[0]} in this chat. /watches lists them.")
        await self.chats.remove_watch(watch.id)
        return Reply(f"Stopped watching {watch.id}: {watch.rule}")

    async def list_watches(self, inv: Invocation, args: str) -> Reply:
        mine = self._mine(inv)
        if not mine:
            return Reply("No watches here yet. Add one: " + self.commands["watch"].example(inv.destination.kind))
        return Reply("Watches here:\n" + "\n".join(f"{w.id}  {w.rule}" + _settings_of(w) for w in mine))

    async def spread(self, inv: Invocation, args: str) -> Reply:
        parts = args.split()
        if len(parts) not in (2, 3):
            raise UsageError("Which watch, and how many outlets must carry a story (or off)?")
        watch = self._own_watch(inv, parts[0])
        if watch is None:
            return Reply(f"There is no watch {parts[0]} in this chat. /watches lists them.")
        if parts[1].lower() == "off":
            await self.chats.change_watch(replace(watch, min_sources=0, within=0.0))
            return Reply(f"{watch.id} alerts at a story's first report again: {watch.label or watch.rule}")
        try:
            sources, within = controls.spread_setting(parts[1], parts[2] if len(parts) == 3 else None)
        except controls.ControlError as exc:
            raise UsageError(str(exc)) from None
        await self.chats.change_watch(replace(watch, min_sources=sources, within=within))
        return Reply(f"{watch.id} ({watch.label or watch.rule}) now alerts once {controls.describe_spread(sources, within)} "
                     f"carry a story; the alert names them, and stories that never get that far are not announced. "
                     f"/spread {watch.id} off ends it.")

    async def snooze(self, inv: Invocation, args: str) -> Reply:
        parts = args.split()
        if len(parts) != 2:
            raise UsageError("Which watch, and for how long (or off)?")
        watch = self._own_watch(inv, parts[0])
        if watch is None:
            return Reply(f"There is no watch {parts[0]} in this chat. /watches lists them.")
        if parts[1].lower() == "off":
            await self.chats.change_watch(replace(watch, snoozed_until=0.0))
            return Reply(f"{watch.id} is awake again: {watch.label or watch.rule}")
        try:
            seconds = controls.snooze_seconds(parts[1])
        except controls.ControlError as exc:
            raise UsageError(str(exc)) from None
        until = self.clock() + seconds
        await self.chats.change_watch(replace(watch, snoozed_until=until))
        return Reply(f"Snoozed {watch.id} ({watch.label or watch.rule}) until "
                     f"{datetime.fromtimestamp(until, timezone.utc):%Y-%m-%d %H:%M} UTC. "
                     f"Entries that appear meanwhile will not be announced. /snooze {watch.id} off ends it.")

    async def label(self, inv: Invocation, args: str) -> Reply:
        wid, _, text = args.partition(" ")
        if not wid:
            raise UsageError("Which watch, and what label?")
        watch = self._own_watch(inv, wid)
        if watch is None:
            return Reply(f"There is no watch {wid} in this chat. /watches lists them.")
        text = " ".join(text.split())[:100]
        await self.chats.change_watch(replace(watch, label=text))
        return Reply(f"{watch.id} alerts now say: {text}" if text else f"{watch.id} alerts show its rule again.")
