"""Chat commands, written once for every platform: parse the arguments, check the
permission, act on the store and the engine, and reply in plain text. An adapter turns
a platform event into `Commands.run` and the Reply back into a platform message; this
module knows nothing of Telegram or Discord."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Awaitable, Callable, Mapping

from bot import controls, sources
from bot.sources import news
from bot.config import Settings, feed_id_for, parse_duration
from bot.feeds.errors import FeedError
from bot.feeds.fetch import Fetcher
from bot.feeds.intake import Found, find_feed
from bot.model import Button, Destination, DestinationName, Subscription, Watch, WatchId
from bot.opml import OpmlError, export_opml, parse_opml
from bot.render.text import ago, excerpt
from bot.rules.matcher import Matcher
from bot.rules.syntax import RuleError, describe, parse_rule
from bot.chats import ChatSetup
from bot.store.base import Store
from bot.throttle import RateWindow

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger("tipoff.commands")
_EVERY_TAIL = re.compile(r"\s+every\s+(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Invocation:
    """One command as a platform delivered it."""

    destination: Destination  # this chat, or forum topic: where its alerts go
    user: str  # who asked, for the record ("telegram:123")
    can_manage: Callable[[], Awaitable[bool]]  # asked only for commands that change things
    attachment: bytes | None = None  # a document sent or replied to (for /import)
    options: Mapping[str, str] = field(default_factory=dict)  # platform extras, e.g. {"mention": role id}
    group: str = ""  # what per-chat limits count across: a Discord server; "" for the chat itself


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    document: tuple[str, bytes] | None = None  # (file name, content)
    private: bool = False  # only the one who asked needs to see it
    buttons: tuple[Button, ...] = ()


def around_column(text: str, column: int, width: int = 30) -> tuple[str, str]:
    """The part of `text` around a 1-based column (at most `width` characters each
    side, "…" where cut) and a caret line pointing at it: a refused rule of thousands
    of characters is not echoed back whole."""
    at = max(0, min(column - 1, len(text)))
    start, end = max(0, at - width), min(len(text), at + width)
    head = "…" if start else ""
    shown = head + text[start:end] + ("…" if end < len(text) else "")
    return shown, " " * (len(head) + at - start) + "^"


class UsageError(ValueError):
    """Bad arguments: the reply adds the command's usage and an example."""


Handler = Callable[[Invocation, str], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a command, typed, so that each platform offers it its own way: a
    word after a Telegram command, a Discord option (with autocomplete for ids)."""

    name: str  # the Discord option's name
    shown: str  # how Telegram's usage writes it: RULE, ID, [every 15m]
    describe: str  # the Discord option's description
    example: str = ""
    kind: str = "text"  # text | watch (a watch's id) | feed (a feed's id) | role | file
    required: bool = True
    prefix: str = ""  # written before the value in the command's text ("every " for /add)

    @property
    def in_text(self) -> bool:
        """Part of the command's text (a role goes in the options, a file as the attachment)."""
        return self.kind not in ("role", "file")


PLATFORM_PREFIX = {"discord": "/tipoff "}  # how a command is called there; "/" elsewhere


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    params: tuple[Arg, ...]
    summary: str
    manage: bool  # changes what the chat gets: admins only in groups
    handler: Handler
    private: bool = False  # the answer only matters to the one who asked

    def call(self, platform: str = "telegram") -> str:
        return PLATFORM_PREFIX.get(platform, "/") + self.name

    def usage(self, platform: str = "telegram") -> str:
        if platform == "discord":
            words = [f"{a.name}:" if a.required else f"[{a.name}:]" for a in self.params]
        else:
            words = [a.shown for a in self.params if a.in_text]
        return " ".join([self.call(platform), *words])

    def example(self, platform: str = "telegram") -> str:
        if platform == "discord":
            words = [f"{a.name}:{a.example}" for a in self.params if a.example]
        else:
            words = [a.prefix + a.example for a in self.params if a.example and a.in_text]
        return " ".join([self.call(platform), *words])

    def text_of(self, values: Mapping[str, str]) -> str:
        """The command's text from its arguments' values (a platform with typed options)."""
        return " ".join(a.prefix + values[a.name] for a in self.params if a.in_text and values.get(a.name))


class Commands:
    def __init__(self, settings: Settings, store: Store, engine: "Engine", fetcher: Fetcher,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine
        self.fetcher = fetcher
        self.clock = clock
        self.chats = ChatSetup(store, engine)  # every change a chat makes goes through it
        self.commands: dict[str, Command] = {c.name: c for c in self._table()}
        limits = settings.limits
        self._per_chat = RateWindow(limits.commands_per_minute)
        self._per_user = RateWindow(limits.user_commands_per_minute)
        self._queues: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # chat → its lock, commands in line

    def _table(self) -> list[Command]:
        watch_id = Arg("id", "WATCH", "the watch's id (see watches)", "w4k2p", kind="watch")
        return [
            Command("start", (), "what tipoff does", False, self.help, private=True),
            Command("help", (), "every command, with an example", False, self.help, private=True),
            Command("watch", (Arg("rule", "RULE", 'e.g. "lady gaga" AND "britney spears" AND duet',
                                  '"lady gaga" AND "britney spears" AND duet'),
                              Arg("mention", "", "a role to mention on this watch's alerts", kind="role",
                                  required=False)),
                    "alert this chat when new entries match a rule", True, self.watch),
            Command("unwatch", (replace(watch_id, shown="ID"),), "stop a watch", True, self.unwatch),
            Command("watches", (), "this chat's watches", False, self.list_watches, private=True),
            Command("add", (Arg("url", "URL or SOURCE", 'the feed\'s address, or a source: news:"lady gaga" duet, '
                                "reddit:r/popheads, …", "https://www.billboard.com/feed/"),
                            Arg("every", "[every 15m]", "how often to check it, e.g. 15m", "15m", required=False,
                                prefix="every ")),
                    "watch a feed here (besides the shared ones)", True, self.add),
            Command("sources", (), "shortcuts add understands instead of a feed URL", False, self.sources,
                    private=True),
            Command("snooze", (watch_id, Arg("duration", "24h", "e.g. 8h, 24h, 3d, or off", "24h")),
                    "no alerts from a watch for a while (off to end it)", True, self.snooze),
            Command("label", (watch_id, Arg("text", "TEXT", "the label (empty: show the rule)", "Gaga x Britney",
                                            required=False)),
                    "a name shown on a watch's alerts instead of its rule", True, self.label),
            Command("digest", (Arg("schedule", "hourly | daily 09:00 [TZ] | off",
                                   "hourly | daily 09:00 Europe/Berlin | off", "daily 09:00 Europe/Berlin"),
                               replace(watch_id, shown="[WATCH]", example="", required=False,
                                       describe="only this watch (default: the whole chat)")),
                    "gather alerts into one message", True, self.digest),
            Command("quiet", (Arg("hours", "23:00-07:00 TZ | off", "e.g. 23:00-07:00 Europe/Berlin, or off",
                                  "23:00-07:00 Europe/Berlin"),),
                    "hold alerts during these hours, deliver them after", True, self.quiet),
            Command("remove", (Arg("id", "ID", "the feed's id (see feeds)", "f7q3x", kind="feed"),),
                    "remove a feed you added", True, self.remove),
            Command("feeds", (), "this chat's feeds, with their last poll and error", False, self.feeds,
                    private=True),
            Command("test", (Arg("text", "TEXT or URL", "a headline, or a feed's address",
                                 "Lady Gaga and Britney Spears record a duet"),),
                    "which watches would fire (nothing is sent)", False, self.test, private=True),
            Command("pause", (), "stop alerts here until resume", True, self.pause),
            Command("resume", (), "start alerts again", True, self.resume),
            Command("status", (), "feeds, watches, alerts sent today, last error", False, self.status,
                    private=True),
            Command("export", (), "this chat's feeds (OPML) and watches as a file", False, self.export,
                    private=True),
            Command("import", (Arg("file", "", "an OPML file exported from a feed reader", kind="file"),),
                    "add every feed of an OPML file (on Telegram: as a reply to the file)", True, self.import_),
        ]

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
        return [(c.name, c.summary) for c in self.commands.values() if c.name != "start"]

    async def run(self, inv: Invocation, name: str, args: str) -> Reply:
        """Run one command. Chats are served at once, each its own commands one at a
        time in order (a slow /test in one chat holds up no other); each chat and each
        person may send so many a minute."""
        chat = inv.group or inv.destination.name
        busy = self._too_many(chat, inv.user)
        if busy is not None:
            return busy
        lock, waiting = self._queues.setdefault(chat, (asyncio.Lock(), [0]))
        if lock.locked() and waiting[0] >= self.settings.limits.queued_commands:
            return Reply("I'm still working on this chat's earlier commands; send this again in a moment.",
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
        for window, key, who, limit in ((self._per_user, user, "you", limits.user_commands_per_minute),
                                        (self._per_chat, chat, "this chat", limits.commands_per_minute)):
            wait = window.wait(key, now)
            if wait > 0:
                return Reply(f"Slow down: {who} sent {limit} commands in the last minute. "
                             f"Try again in {max(1, round(wait))} s.", private=True)
        self._per_user.note(user, now)
        self._per_chat.note(chat, now)
        return None

    async def _run(self, inv: Invocation, name: str, args: str) -> Reply:
        cmd = self.commands.get(name.lower())
        if cmd is None:
            return Reply(f"I don't know /{name}. Send /help to see what I can do.")
        if cmd.manage and not await inv.can_manage():
            platform = inv.destination.kind
            anyone = ", ".join(self.commands[n].call(platform) for n in ("watches", "feeds", "test", "status"))
            return Reply(f"Only the chat's admins can use {cmd.call(platform)} here. Anyone can use {anyone} "
                         f"and {self.commands['help'].call(platform)}.", private=True)
        try:
            reply = await cmd.handler(inv, args.strip())
            return replace(reply, private=reply.private or cmd.private)
        except UsageError as exc:
            platform = inv.destination.kind
            return Reply(f"{exc}\nUsage: {cmd.usage(platform)}\nExample: {cmd.example(platform)}", private=True)
        except Exception:
            log.exception("command /%s failed in %s", cmd.name, inv.destination.name)
            return Reply("Sorry, something went wrong on my side. The operator's log has the details.", private=True)

    async def press(self, inv: Invocation, action: str) -> Reply:
        """A button was pressed: run what it stands for, as the one who pressed it
        (so the same permission check applies)."""
        verb, _, rest = action.partition(":")
        if verb == "snooze" and rest.count(":") == 1:
            wid, duration = rest.split(":")
            return await self.run(inv, "snooze", f"{wid} {duration}")
        if verb == "unwatch" and rest:
            return await self.run(inv, "unwatch", rest)
        if verb == "addnews" and rest:
            if not await inv.can_manage():
                return Reply("Only the chat's admins can add feeds here.", private=True)
            watch = self._own_watch(inv, rest)
            if watch is None:
                return Reply(f"The watch {rest} is gone.", private=True)
            query = news.query_for_rule(parse_rule(watch.rule, self.settings.rules))
            return await self.run(inv, "add", f"news:{query}")
        log.warning("unknown button action %r", action[:80])
        return Reply("That button no longer does anything.", private=True)

    # -- help ------------------------------------------------------------------

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

    # -- watches ---------------------------------------------------------------

    def _mine(self, inv: Invocation) -> list[Watch]:
        return self.chats.watches(inv.destination.name)

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
        return Reply("Watches here:\n" + "\n".join(f"{w.id}  {w.rule}" for w in mine))

    def _own_watch(self, inv: Invocation, wid: str) -> Watch | None:
        return next((w for w in self._mine(inv) if w.id == wid), None)

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

    async def digest(self, inv: Invocation, args: str) -> Reply:
        """/digest hourly | daily 09:00 [TZ] | off, for the chat, or with a watch id last
        for that watch alone."""
        parts = args.split()
        watch = self._own_watch(inv, parts[-1]) if parts else None
        if watch is not None:
            parts = parts[:-1]
        state = self.chats.settings(inv.destination.name)
        quiet = str(state.extra.get("quiet") or "")
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

    # -- feeds -----------------------------------------------------------------

    async def add(self, inv: Invocation, args: str) -> Reply:
        url, every = self._feed_args(args)
        named = ""
        if sources.is_shortcut(url):
            try:
                source = sources.expand(url, self.settings.sources)
            except sources.SourceError as exc:
                return Reply(f"I can't use {url}: {exc}")
            url, named = source.url, source.title
        return await self._add_url(inv, url, every, named)

    async def _add_url(self, inv: Invocation, url: str, every: float, named: str = "") -> Reply:
        dest = inv.destination.name
        mine = self.chats.feeds(dest)
        if any(s.url == url for s in mine):
            same = next(s for s in mine if s.url == url)
            return Reply(f"This chat already has that feed ({same.id}).")
        if any(f.url == url for f in self.settings.feeds):
            return Reply("That feed is already watched for every chat: your watches see it.")
        if self._feed_count(inv) >= self.settings.limits.feeds_per_chat:
            return Reply(f"{self._where(inv)} has reached its limit of {self.settings.limits.feeds_per_chat} "
                         "feeds. Remove one with /remove ID first.")
        try:
            found = await self._fetch(url)
        except FeedError as exc:
            return Reply(f"I couldn't add {url}: {exc.message}")
        if found.url != url and any(s.url == found.url for s in mine):
            return Reply(f"That page's feed is already here: {found.url}")
        url, parsed = found.url, found.parsed
        note = ""
        if every < self.settings.poll.min_every:
            note = f" (raised to the minimum of {_duration(self.settings.poll.min_every)})"
            every = self.settings.poll.min_every
        sub = Subscription(self._new_id("f"), dest, url, every, self._now(), inv.user, inv.group)
        await self.chats.add_feeds([sub])
        page = f"{named}: " if named else ""
        if found.page and not named:
            page = f"That page is not a feed; I found its feed {url}."
            if found.others:
                page += " It also offers: " + ", ".join(f"{o.url} ({o.kind})" for o in found.others[:5])
            page += "\n"
        return Reply(f"{page}Added {parsed.title or url} as {sub.id}: {parsed.kind}, {len(parsed.entries)} entries "
                     f"now; checked every {_duration(every)}{note}. Only entries published from now on will alert.")

    def _feed_args(self, args: str) -> tuple[str, float]:
        parts = args.split()
        if not parts:
            raise UsageError("Which feed? Give its address.")
        every = self.settings.poll.every
        if sources.is_shortcut(args):
            tail = _EVERY_TAIL.search(args)
            spec = args[:tail.start()] if tail else args
            if tail:
                every = self._duration_arg(tail.group(1))
            return spec.strip(), every
        url = parts[0]
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"{url!r} is not a web address (http:// or https://) nor a source shortcut "
                             "(/sources lists them).")
        rest = parts[1:]
        if rest:
            if rest[0].lower() != "every" or len(rest) != 2:
                raise UsageError(f"I don't understand {' '.join(rest)!r}.")
            try:
                every = parse_duration(rest[1])
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        return url, every

    @staticmethod
    def _duration_arg(text: str) -> float:
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    async def _fetch(self, url: str) -> Found:
        """A chat's address (shortcuts are expanded by the callers) → a working feed,
        discovering it when the address is a page; within the command's fetch budget."""
        budget = self.settings.limits.command_time
        try:
            return await asyncio.wait_for(
                find_feed(self.fetcher, url, trusted=False, max_entries=self.settings.fetch.max_entries), budget)
        except asyncio.TimeoutError:
            raise FeedError("timeout", f"gave up after {budget:g}s: a command may spend that long fetching") from None

    async def sources(self, inv: Invocation, args: str) -> Reply:
        lines = ["Instead of a feed address, /add understands these:"]
        for prefix, what, examples in sources.catalogue():
            lines.append(f"{prefix}: {what}")
            lines += [f"    /add {e}" for e in examples]
        return Reply("\n".join(lines))

    async def remove(self, inv: Invocation, args: str) -> Reply:
        if not args:
            raise UsageError("Which feed? /feeds lists their ids.")
        sub = next((s for s in self.chats.feeds(inv.destination.name) if s.id == args.split()[0]), None)
        if sub is None:
            return Reply(f"There is no feed {args.split()[0]} in this chat. /feeds lists them.")
        await self.chats.remove_feed(sub.id)
        return Reply(f"Removed {sub.url}")

    async def feeds(self, inv: Invocation, args: str) -> Reply:
        mine = self.chats.feeds(inv.destination.name)
        now = self._now()
        lines = []
        for s in mine:
            state = self.store.feed_state(feed_id_for(s.url))
            title = state.title if state and state.title else s.url
            ok = f"last polled {ago(_at(state.last_ok), now)}" if state and state.last_ok else "not polled yet"
            err = f"; last error: {state.last_error}" if state and state.last_error else ""
            moved = f"\n    moved to {state.moved_to}" if state and state.moved_to else ""
            stopped = f"\n    STOPPED: {state.stopped} (resume to try again)" if state and state.stopped else ""
            lines.append(f"{s.id}  {title}\n    {s.url}{moved}\n    every {_duration(s.every)}, {ok}{err}{stopped}")
        shared = len(self.settings.feeds)
        head = f"Feeds added here ({len(mine)}):" if mine else "No feeds added here yet (/add URL)."
        tail = f"\nPlus {shared} shared feed{'s' if shared != 1 else ''} the operator set up for every chat." \
            if shared else ""
        return Reply("\n".join([head, *lines]) + tail)

    # -- test ------------------------------------------------------------------

    async def test(self, inv: Invocation, args: str) -> Reply:
        if not args:
            raise UsageError("Give me a text or a feed address to test.")
        mine = self._mine(inv)
        if not mine:
            return Reply("This chat has no watches to test yet. Add one: " +
                         self.commands["watch"].example(inv.destination.kind))
        matcher = Matcher(self.settings.rules)
        for w in mine:
            matcher.add(w)
        if args.startswith(("http://", "https://")) and " " not in args:
            try:
                parsed = (await self._fetch(args)).parsed
            except FeedError as exc:
                return Reply(f"I couldn't read {args}: {exc.message}")
            lines = []
            for entry in parsed.entries:
                for m in matcher.match(entry):
                    lines.append(f"• {excerpt(entry.title or entry.link, 120)}\n    {m.watch_id} matched "
                                 f"{', '.join(m.terms)}")
            head = f"{parsed.title or args}: {len(parsed.entries)} entries, {len(lines)} would alert."
            return Reply("\n".join([head, *lines[:15]]) + ("\n…" if len(lines) > 15 else ""))
        fired = matcher.match_fields({"title": args})
        if not fired:
            return Reply("None of this chat's watches would fire on that.")
        return Reply("Would fire:\n" + "\n".join(
            f"{m.watch_id}  matched {', '.join(m.terms)}" for m in sorted(fired, key=lambda m: m.watch_id)))

    # -- pause, status -----------------------------------------------------------

    async def pause(self, inv: Invocation, args: str) -> Reply:
        return await self._set_paused(inv, True, "Paused: no alerts here until /resume. "
                                                 "Entries that appear meanwhile will not be announced later.")

    async def resume(self, inv: Invocation, args: str) -> Reply:
        return await self._set_paused(inv, False, "Resumed: alerts come here again.")

    async def _set_paused(self, inv: Invocation, paused: bool, text: str) -> Reply:
        dest = inv.destination.name
        if not paused and not self.chats.settings(dest).active:  # delivery had stopped (bot removed): try again
            await self.chats.reactivate(dest)
        if not paused:
            restarted = await self.chats.restart_stopped_feeds(dest)
            if restarted:
                text += f" Checking again: {', '.join(restarted)}."
        await self.chats.set(dest, paused=paused)
        return Reply(text)

    async def status(self, inv: Invocation, args: str) -> Reply:
        dest = inv.destination.name
        state = self.chats.settings(dest)
        now = self._now()
        today = now.strftime("%Y-%m-%d")
        sent = state.extra.get("sent_today", 0) if state.extra.get("day") == today else 0
        waiting = len(self.store.pending(dest))
        own = self.chats.feeds(dest)
        errors = [(s.url, fs.last_error, fs.last_polled or 0) for s in own
                  if (fs := self.store.feed_state(feed_id_for(s.url))) is not None and fs.last_error]
        lines = [
            "Paused (/resume to restart alerts)." if state.extra.get("paused") else "Active.",
            f"Feeds: {len(own)} added here + {len(self.settings.feeds)} shared",
            f"Watches: {len(self._mine(inv))}",
            f"Alerts sent today: {sent}" + (f", {waiting} waiting to be delivered" if waiting else ""),
        ]
        if not state.active:
            lines.append(f"Delivery stopped: {state.reason}")
        if state.extra.get("last_error"):
            lines.append(f"Last delivery error: {state.extra['last_error']} "
                         f"({ago(_at(state.extra.get('last_error_at', 0)), now)})")
        if errors:
            url, err, _ = max(errors, key=lambda e: e[2])
            lines.append(f"Last feed error: {url}: {err}")
        return Reply("\n".join(lines))

    # -- export, import -----------------------------------------------------------

    async def export(self, inv: Invocation, args: str) -> Reply:
        dest = inv.destination.name
        feeds = []
        for s in self.chats.feeds(dest):
            state = self.store.feed_state(feed_id_for(s.url))
            feeds.append((state.title if state else "", s.url))
        watches = [w.rule for w in self._mine(inv)]
        data = export_opml(f"tipoff: {dest}", feeds, watches)
        return Reply(f"{len(feeds)} feeds and {len(watches)} watches.", document=("tipoff-export.opml", data),
                     private=True)

    async def import_(self, inv: Invocation, args: str) -> Reply:
        if inv.attachment is None:
            raise UsageError("Send /import as a reply to an OPML file (most feed readers can export one).")
        try:
            contents = parse_opml(inv.attachment)
        except OpmlError as exc:
            return Reply(f"I couldn't read that file: {exc}")
        dest = inv.destination.name
        have = {s.url for s in self.chats.feeds(dest)} | {f.url for f in self.settings.feeds}
        added: list[Subscription] = []
        here: list[str] = []
        over_limit: list[str] = []
        refused: list[str] = []
        invalid: list[str] = []
        room = self.settings.limits.feeds_per_chat - self._feed_count(inv)
        for _title, url in contents.feeds:
            problem = self.fetcher.refusal(url) if url.startswith(("http://", "https://")) else "not http(s)"
            if problem is not None:
                (invalid if problem.startswith("not ") else refused).append(f"{url[:200]} ({problem})")
            elif url in have:
                here.append(url)
            elif len(added) >= room:
                over_limit.append(url)
            else:
                sub = Subscription(self._new_id("f", {s.id for s in added}), dest, url,
                                   max(self.settings.poll.every, self.settings.poll.min_every),
                                   self._now(), inv.user, inv.group)
                have.add(url)
                added.append(sub)
        await self.chats.add_feeds(added)
        watches_added = await self._import_watches(inv, contents.watches)
        parts = [f"Added {len(added)} feeds", f"skipped {len(here)} already here"]
        if over_limit:
            parts.append(f"{len(over_limit)} over the limit of {self.settings.limits.feeds_per_chat} feeds")
        if refused:
            parts.append(f"{len(refused)} refused")
        parts.append(f"{len(invalid)} invalid")
        lines = [", ".join(parts) + "."]
        if watches_added:
            lines.append(f"Added {watches_added} watches.")
        lines += [f"refused: {u}" for u in refused[:10]] + [f"invalid: {u}" for u in invalid[:10]]
        return Reply("\n".join(lines))

    async def _import_watches(self, inv: Invocation, rules: list[str]) -> int:
        dest = inv.destination.name
        existing = {w.rule for w in self._mine(inv)}
        room = self.settings.limits.watches_per_chat - self._watch_count(inv)
        batch: list[Watch] = []
        for rule in rules:
            if rule in existing or len(batch) >= room:
                continue
            try:
                parse_rule(rule, self.settings.rules)
            except RuleError:
                continue
            batch.append(Watch(WatchId(self._new_id("w", {w.id for w in batch})), rule, (dest,), self._now(),
                               owner=dest, group=inv.group))
            existing.add(rule)
        return await self.chats.add_watches(batch)

    # -- helpers ---------------------------------------------------------------

    def _watch_count(self, inv: Invocation) -> int:
        """Watches counted against the limit: the chat's own, or its whole server's."""
        if inv.group:
            return sum(1 for w in self.chats.watches() if w.group == inv.group)
        return len(self._mine(inv))

    def _feed_count(self, inv: Invocation) -> int:
        if inv.group:
            return sum(1 for s in self.chats.feeds() if s.group == inv.group)
        return len(self.chats.feeds(inv.destination.name))

    @staticmethod
    def _where(inv: Invocation) -> str:
        return "This server" if inv.group else "This chat"

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    def _new_id(self, prefix: str, also: set[str] | frozenset[str] = frozenset()) -> str:
        taken = {w.id for w in self.chats.watches()} | {s.id for s in self.chats.feeds()} | set(also)
        while True:
            candidate = prefix + "".join(secrets.choice("23456789abcdefghjkmnpqrstuvwxyz") for _ in range(4))
            if candidate not in taken:
                return candidate



def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"

