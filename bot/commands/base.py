"""What every command shares: the records a platform hands in and gets back
(Invocation, Reply), a command and its typed arguments (Command, Arg), and the helpers
every topic uses."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable, Mapping

from bot.chats import ChatSetup
from bot.config import Settings, parse_duration
from bot.i18n import _
from bot.feeds.fetch import Fetcher
from bot.model import Button, Destination, Watch
from bot.store.base import Store

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
    locale: str = ""  # the language the platform says the asker (or the server) uses: "de", "pt-BR"


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


def sorry() -> str:
    """What a person is told when a command failed on tipoff's side (the log has why)."""
    return _("Sorry, something went wrong on my side. The operator's log has the details.")


class UsageError(ValueError):
    """Bad arguments: the reply adds the command's usage and an example."""


Handler = Callable[[Invocation, str], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a command, typed, so that each platform offers it its own way: a
    word after a Telegram command, a Discord option (with autocomplete for ids)."""

    name: str  # the Discord option's name
    shown: str  # how Telegram's usage writes it: RULE, ID, [every 15m] (marked N_, shown translated)
    describe: str  # the Discord option's description (marked N_)
    example: str = ""
    kind: str = "text"  # text | watch (a watch's id) | feed (a feed's id) | role | file
    required: bool = True
    prefix: str = ""  # written before the value in the command's text ("every " for /add)

    @property
    def in_text(self) -> bool:
        """Part of the command's text (a role goes in the options, a file as the attachment)."""
        return self.kind not in ("role", "file")


PLATFORM_PREFIX = {"discord": "/tipoff "}  # how a command is called there; "/" elsewhere
_MENTIONED = re.compile(r"(?<![\w/.:-])/([a-z]+)\b")


def in_syntax_of(text: str, platform: str, commands: Mapping[str, "Command"]) -> str:
    """A reply's mentions of commands ("/unwatch ID", "(/sources lists them)") in the
    syntax of the platform it goes to: "/tipoff unwatch" on Discord. Paths inside
    addresses are left alone."""
    prefix = PLATFORM_PREFIX.get(platform)
    if prefix is None:
        return text
    return _MENTIONED.sub(lambda m: prefix + m.group(1) if m.group(1) in commands else m.group(0), text)


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    params: tuple[Arg, ...]
    summary: str  # marked N_; help and the menus show it translated
    manage: bool  # changes what the chat gets: admins only in groups
    handler: Handler
    private: bool = False  # the answer only matters to the one who asked

    def call(self, platform: str = "telegram") -> str:
        return PLATFORM_PREFIX.get(platform, "/") + self.name

    def usage(self, platform: str = "telegram") -> str:
        if platform == "discord":
            words = [f"{a.name}:" if a.required else f"[{a.name}:]" for a in self.params]
        else:
            words = [_(a.shown) for a in self.params if a.in_text]
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


class CommandsBase:
    """The state and helpers of the command layer; one module per topic adds its
    commands (watches.py, feeds.py, chat.py) and core.py runs them."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    clock: Callable[[], float]
    chats: ChatSetup
    commands: dict[str, Command]

    def _mine(self, inv: Invocation) -> list[Watch]:
        return self.chats.watches(inv.destination.name)

    def _own_watch(self, inv: Invocation, wid: str) -> Watch | None:
        return next((w for w in self._mine(inv) if w.id == wid), None)

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
    def _at_limit(inv: Invocation, what: str, limit: int) -> str:
        """The reply when a chat (or its whole Discord server) has as many watches or
        feeds as it may."""
        if what == "watches":
            text = (_("This server has reached its limit of {limit} watches. Remove one with /unwatch ID first.")
                    if inv.group else
                    _("This chat has reached its limit of {limit} watches. Remove one with /unwatch ID first."))
        else:
            text = (_("This server has reached its limit of {limit} feeds. Remove one with /remove ID first.")
                    if inv.group else
                    _("This chat has reached its limit of {limit} feeds. Remove one with /remove ID first."))
        return text.format(limit=limit)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    def _new_id(self, prefix: str, also: set[str] | frozenset[str] = frozenset()) -> str:
        taken = {w.id for w in self.chats.watches()} | {s.id for s in self.chats.feeds()} | set(also)
        while True:
            candidate = prefix + "".join(secrets.choice("23456789abcdefghjkmnpqrstuvwxyz") for _i in range(4))
            if candidate not in taken:
                return candidate

    @staticmethod
    def _duration_arg(text: str) -> float:
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise UsageError(str(exc)) from None


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
