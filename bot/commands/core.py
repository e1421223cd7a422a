"""Chat commands, written once for every platform: parse the arguments, check the
permission, act through the chat setup (bot/chats.py), and reply in plain text. An
adapter turns a platform event into `Commands.run` and the Reply back into a platform
message; nothing here knows Telegram or Discord but their syntax (Command.usage)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Callable, ContextManager

from bot import i18n
from bot.chats import ChatSetup, Listener
from bot.config import Settings
from bot.feeds.fetch import Fetcher
from bot.i18n import N_, _
from bot.model import DestinationName
from bot.rules.syntax import parse_rule
from bot.sources import news
from bot.store.base import Store
from bot.throttle import RateWindow
from bot.commands.base import Arg, Command, Invocation, Reply, UsageError, in_syntax_of, log, sorry
from bot.commands.chat import ChatCommands
from bot.commands.feeds import FeedCommands
from bot.commands.history import HistoryCommands
from bot.commands.watches import WatchCommands


class Commands(WatchCommands, FeedCommands, ChatCommands, HistoryCommands):
    def __init__(self, settings: Settings, store: Store, engine: Listener, fetcher: Fetcher,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine
        self.fetcher = fetcher
        self.clock = clock
        self.chats = ChatSetup(store, engine)  # every change a chat makes goes through it
        # scope, now → a one-time dashboard sign-in link (set when [http] listen serves the dashboard)
        self.dashboard_link: Callable[[str, float], str] | None = None
        self.commands: dict[str, Command] = {c.name: c for c in self._table()}
        limits = settings.limits
        self._per_chat = RateWindow(limits.commands_per_minute)
        self._per_user = RateWindow(limits.user_commands_per_minute)
        self._queues: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # chat → its lock, commands in line

    def _table(self) -> list[Command]:
        watch_id = Arg("id", N_("WATCH"), N_("the watch's id (see watches)"), "w4k2p", kind="watch")
        return [
            Command("start", (), N_("what tipoff does"), False, self.help, private=True),
            Command("help", (), N_("every command"), False, self.help, private=True),
            Command("watch", (Arg("rule", N_("RULE"), N_('e.g. "lady gaga" AND "britney spears" AND duet'),
                                  '"lady gaga" AND "britney spears" AND duet'),
                              Arg("mention", "", N_("a role to mention on this watch's alerts"), kind="role",
                                  required=False)),
                    N_("alert here when new entries match a rule"), True, self.watch),
            Command("unwatch", (replace(watch_id, shown=N_("ID")),), N_("stop a watch"), True, self.unwatch),
            Command("watches", (), N_("this chat's watches"), False, self.list_watches, private=True),
            Command("add", (Arg("url", N_("URL or SOURCE"), N_('the feed\'s address, or a source: news:"lady gaga" duet, '
                                                    "reddit:r/popheads, …"), "https://www.billboard.com/feed/"),
                            Arg("every", "[every 15m]", N_("how often to check it, e.g. 15m"), "15m", required=False,
                                prefix="every ")),
                    N_("watch a feed here"), True, self.add),
            Command("sources", (), N_("shortcuts add understands instead of a feed URL"), False, self.sources,
                    private=True),
            Command("snooze", (watch_id, Arg("duration", "24h", N_("e.g. 8h, 24h, 3d, or off"), "24h")),
                    N_("mute a watch for a while (or off)"), True, self.snooze),
            Command("spread", (watch_id, Arg("sources", "N", N_("how many outlets must carry a story (2-50), or off"),
                                             "3"),
                               Arg("within", "[2h]", N_("counted over how long, e.g. 2h (default 2h)"), "2h",
                                   required=False)),
                    N_("alert once N outlets carry a story (or off)"), True, self.spread),
            Command("label", (watch_id, Arg("text", N_("TEXT"), N_("the label (empty: show the rule)"), "Gaga x Britney",
                                            required=False)),
                    N_("a name for a watch's alerts instead of its rule"), True, self.label),
            Command("digest", (Arg("schedule", "hourly | daily 09:00 [TZ] | off",
                                   "hourly | daily 09:00 Europe/Berlin | off", "daily 09:00 Europe/Berlin"),
                               replace(watch_id, shown=N_("[WATCH]"), example="", required=False,
                                       describe=N_("only this watch (default: the whole chat)"))),
                    N_("gather alerts into one message"), True, self.digest),
            Command("quiet", (Arg("hours", "23:00-07:00 TZ | off", N_("e.g. 23:00-07:00 Europe/Berlin, or off"),
                                  "23:00-07:00 Europe/Berlin"),),
                    N_("hold alerts during these hours"), True, self.quiet),
            Command("remove", (Arg("id", N_("ID"), N_("the feed's id (see feeds)"), "f7q3x", kind="feed"),),
                    N_("remove a feed you added"), True, self.remove),
            Command("feeds", (), N_("this chat's feeds, their last poll and error"), False, self.feeds,
                    private=True),
            Command("test", (Arg("text", N_("TEXT or URL"), N_("a headline, or a feed's address"),
                                 "Lady Gaga and Britney Spears record a duet"),),
                    N_("which watches would fire (nothing is sent)"), False, self.test, private=True),
            Command("recent", (), N_("the last alerts here, and whether they went out"), False, self.recent,
                    private=True),
            Command("backtest", (Arg("rule", N_("RULE"), N_("a rule to try on the last week's entries"), "gaga duet"),),
                    N_("how often a rule would have fired in the last week"), False, self.backtest, private=True),
            Command("why", (Arg("url", "URL", N_("an article's address"), "https://www.billboard.com/music/duet"),),
                    N_("what tipoff did with an article, and why"), False, self.why, private=True),
            Command("dashboard", (), N_("a sign-in link to this chat's dashboard (for you only)"), True,
                    self.dashboard, private=True),
            Command("language", (Arg("code", "[xx]", N_("a language code (en, de, es, fr), or auto"), "de",
                                     required=False),),
                    N_("the language of my replies here"), False, self.language),
            Command("pause", (), N_("stop alerts here until resume"), True, self.pause),
            Command("resume", (), N_("start alerts again"), True, self.resume),
            Command("status", (), N_("feeds, watches, alerts sent today, last error"), False, self.status,
                    private=True),
            Command("export", (), N_("this chat's feeds (OPML) and watches as a file"), False, self.export,
                    private=True),
            Command("import", (Arg("file", "", N_("an OPML file exported from a feed reader"), kind="file"),),
                    N_("add the feeds of an OPML file (on Telegram: reply to it)"), True, self.import_),
        ]

    async def dashboard(self, inv: Invocation, args: str) -> Reply:
        if self.dashboard_link is None:
            return Reply(_("The dashboard is off here: the operator serves it by setting [http] listen."))
        chat = inv.destination.name.split("/")[0]  # a forum topic's link covers its chat
        link = self.dashboard_link(chat, self.clock())
        return Reply(_("Your sign-in link to this chat's dashboard, valid once for 15 minutes:") + f"\n{link}",
                     private=True)

    def suggest(self, destination: str, kind: str, typed: str) -> list[tuple[str, str]]:
        """(id, label) of this chat's watches or feeds whose id or text contains `typed`,
        for a platform's autocomplete."""
        typed = typed.lower()
        items: list[tuple[str, str]]
        if kind == "watch":
            items = [(str(w.id), f"{w.id}  {w.rule}") for w in self.chats.watches(DestinationName(destination))]
        else:
            items = [(s.id, f"{s.id}  {s.url}") for s in self.chats.feeds(DestinationName(destination))]
        return [(value, label[:100]) for value, label in items if typed in label.lower()][:25]

    def menu(self) -> list[tuple[str, str]]:
        """(command, description) pairs for a platform's command menu."""
        return [(c.name, _(c.summary)) for c in self.commands.values() if c.name != "start"]

    async def run(self, inv: Invocation, name: str, args: str) -> Reply:
        """Run one command. Chats are served at once, each its own commands one at a
        time in order (a slow /test in one chat holds up no other); each chat and each
        person may send so many a minute."""
        with self.speaking(inv):
            return await self._queued(inv, name, args)

    def speaking(self, inv: Invocation) -> ContextManager[str]:
        """Say what is said for this invocation in the chat's language: the one it chose
        (/language), else the one it was set up in, else the asker's."""
        state = self.chats.settings(inv.destination.name)
        return i18n.speaking(state.language, state.locale, inv.locale)

    async def _queued(self, inv: Invocation, name: str, args: str) -> Reply:
        chat = inv.group or inv.destination.name
        busy = self._too_many(chat, inv.user)
        if busy is not None:
            return busy
        lock, waiting = self._queues.setdefault(chat, (asyncio.Lock(), [0]))
        if lock.locked() and waiting[0] >= self.settings.limits.queued_commands:
            return Reply(_("I'm still working on this chat's earlier commands; send this again in a moment."),
                         private=True)
        waiting[0] += 1
        try:
            async with lock:
                waiting[0] -= 1
                return await self._run(inv, name, args)
        finally:
            if not lock.locked() and self._queues.get(chat, (None,))[0] is lock and waiting[0] == 0:
                del self._queues[chat]

    def _too_many(self, chat: str, user: str) -> Reply | None:
        """A reply turning the command away when this chat or person sent too many in
        the last minute; else None, and the command is counted."""
        now = self.clock()
        limits = self.settings.limits
        for window, key, said, limit in (
                (self._per_user, user, N_("Slow down: you sent {limit} commands in the last minute. "
                                          "Try again in {seconds} s."), limits.user_commands_per_minute),
                (self._per_chat, chat, N_("Slow down: this chat sent {limit} commands in the last minute. "
                                          "Try again in {seconds} s."), limits.commands_per_minute)):
            wait = window.wait(key, now)
            if wait > 0:
                return Reply(_(said).format(limit=limit, seconds=max(1, round(wait))), private=True)
        self._per_user.note(user, now)
        self._per_chat.note(chat, now)
        return None

    async def _run(self, inv: Invocation, name: str, args: str) -> Reply:
        cmd = self.commands.get(name.lower())
        if cmd is None:
            return Reply(_("I don't know /{name}. Send /help to see what I can do.").format(name=name))
        if cmd.manage and not await inv.can_manage():
            platform = inv.destination.kind
            anyone = ", ".join(self.commands[n].call(platform) for n in ("watches", "feeds", "test", "status"))
            return Reply(_("Only the chat's admins can use {command} here. Anyone can use {commands} and {help}.")
                         .format(command=cmd.call(platform), commands=anyone,
                                 help=self.commands["help"].call(platform)),
                         private=True)
        if cmd.manage and inv.locale and not self.chats.settings(inv.destination.name).locale:
            # the chat is being set up: it speaks its first admin's language from now on
            await self.chats.set(inv.destination.name, locale=inv.locale)
        try:
            reply = await cmd.handler(inv, args.strip())
            text = in_syntax_of(reply.text, inv.destination.kind, self.commands)
            return replace(reply, text=text, private=reply.private or cmd.private)
        except UsageError as exc:
            platform = inv.destination.kind
            return Reply(_("{problem}\nUsage: {usage}\nExample: {example}").format(
                problem=exc, usage=cmd.usage(platform), example=cmd.example(platform)), private=True)
        except Exception:
            log.exception("command /%s failed in %s", cmd.name, inv.destination.name)
            return Reply(sorry(), private=True)

    async def press(self, inv: Invocation, action: str) -> Reply:
        """A button was pressed: run what it stands for, as the one who pressed it
        (so the same permission check applies)."""
        verb, _colon, rest = action.partition(":")
        if verb == "snooze" and rest.count(":") == 1:
            wid, duration = rest.split(":")
            return await self.run(inv, "snooze", f"{wid} {duration}")
        if verb == "unwatch" and rest:
            return await self.run(inv, "unwatch", rest)
        if verb == "addnews" and rest:
            with self.speaking(inv):
                if not await inv.can_manage():
                    return Reply(_("Only the chat's admins can add feeds here."), private=True)
                watch = self._own_watch(inv, rest)
                if watch is None:
                    return Reply(_("The watch {id} is gone.").format(id=rest), private=True)
            query = news.query_for_rule(parse_rule(watch.rule, self.settings.rules))
            return await self.run(inv, "add", f"news:{query}")
        log.warning("unknown button action %r", action[:80])
        with self.speaking(inv):
            return Reply(_("That button no longer does anything."), private=True)
