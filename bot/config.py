"""TOML + environment → one validated, immutable Settings object. Every error names the
key and, where it can be found, the line: `config/tipoff.toml:12: feeds[2].every: ...`.
Nothing else in tipoff reads the environment or the config file."""

from __future__ import annotations

import difflib
import hashlib
import hmac
import logging
import math
import os
import re
import socket
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from bot.model import Destination, DestinationName, Feed, FeedId, Watch, WatchId
from bot.rules.syntax import Limits, RuleError, parse_rule
from bot.sources import SourceError, SourceSettings, is_shortcut
from bot.sources import expand as expand_source

DESTINATION_KINDS = ("console", "webhook", "telegram", "discord", "discord_webhook")
CONSOLE = DestinationName("console")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")


class ConfigError(ValueError):
    pass


def parse_duration(text: str | int | float) -> float:
    """'90s', '10m', '1.5h', '7d', '1h30m' → seconds; bare numbers are seconds."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, (int, float)):
        if not math.isfinite(text):
            raise ValueError(f'{text} is not a duration (use s, m, h or d, e.g. "15m")')
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded(float(text))
    s = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f'"{text}" is not a duration (use s, m, h or d, e.g. "15m")')
    return _bounded(total)


MAX_DURATION = 36500 * 86400.0  # a hundred years: far longer ones overflow date arithmetic


def _bounded(seconds: float) -> float:
    if seconds > MAX_DURATION:
        raise ValueError(f"{seconds / 86400:.0f}d is longer than 36500d (a hundred years), the longest duration "
                         "tipoff takes")
    return seconds


@dataclass(frozen=True, slots=True)
class PollSettings:
    every: float = 600.0
    min_every: float = 300.0
    jitter: float = 0.1  # fraction of the interval
    max_age: float = 7 * 86400.0
    backfill: int = 0
    retention: float = 90 * 86400.0
    max_backoff: float = 6 * 3600.0
    pause_after: float = 24 * 3600.0  # a feed failing this long is paused and its chats told
    adaptive: bool = True  # poll feeds that rarely change less often, up to max_every
    max_every: float = 3600.0


@dataclass(frozen=True, slots=True)
class FetchSettings:
    allow: tuple[str, ...] = ()
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 50
    per_host: int = 4
    max_entries: int = 500
    user_agent: str = ""


class Secret:
    """A token from the environment. Its repr and str never show the value, so a
    Settings object can be logged or printed safely."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def tag(self) -> str:
        """A short name for what this token opens that reveals nothing of it: the same
        for every worker with the token (lock names, the webhook path)."""
        return hashlib.blake2b(self._value.encode(), digest_size=8).hexdigest()

    def derived(self, purpose: str) -> str:
        """A secret of its own for `purpose`, derived from this one (HMAC), so every
        worker with the token agrees on it without more configuration (Telegram's
        webhook secret token)."""
        return hmac.new(self._value.encode(), f"tipoff {purpose}".encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    retry_base: float = 5.0  # first retry after a failed send; doubles per attempt
    retry_max: float = 900.0
    timeout: float = 15.0  # one webhook POST, whole


@dataclass(frozen=True, slots=True)
class LimitSettings:
    feeds_per_chat: int = 100
    watches_per_chat: int = 100
    commands_per_minute: int = 20  # one chat's commands, all its people together
    user_commands_per_minute: int = 10  # one person's, in any chat
    command_time: float = 20.0  # seconds one command may spend fetching (/add, /test URL)
    queued_commands: int = 5  # a chat's commands waiting behind a slow one; more are turned away


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    token: Secret | None = None  # from TIPOFF_TELEGRAM_TOKEN only
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    admin_cache: float = 60.0  # seconds a getChatMember answer is trusted
    rate_global: float = 30.0  # messages per second, all chats together
    rate_chat: float = 1.0  # messages per second to one chat
    rate_group_per_minute: float = 20.0  # messages per minute to one group
    poll_timeout: float = 30.0  # getUpdates long-poll seconds
    webhook: str | None = None  # public base URL reaching [http] listen: updates by webhook, not polling


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    token: Secret | None = None  # from TIPOFF_DISCORD_TOKEN only
    api_base: str = "https://discord.com/api/v10"
    gateway: str = "wss://gateway.discord.gg/"
    guild: int | None = None  # sync slash commands to this guild only (instant, for testing)
    manager_role: str | None = None  # members with this role may change feeds and watches too
    shards: int | None = None  # gateway shards in all; None ("auto"): as many as Discord recommends
    identify_interval: float = 5.0  # Discord allows one IDENTIFY per 5 s per concurrency bucket


@dataclass(frozen=True, slots=True)
class WebSubSettings:
    callback: str | None = None  # public base URL that reaches [http] listen's /websub; off when None
    lease: float = 10 * 86400.0  # lease we ask hubs for
    poll_every: float = 6 * 3600.0  # safety-net polling while push works
    quiet_after: float = 86400.0  # no push for this long: back to the feed's normal interval


@dataclass(frozen=True, slots=True)
class HttpSettings:
    listen: tuple[str, int] | None = None  # (host, port) of /healthz and /metrics; off when None


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path | None
    poll: PollSettings = PollSettings()
    fetch: FetchSettings = FetchSettings()
    rules: Limits = Limits()
    feeds: tuple[Feed, ...] = ()
    destinations: Mapping[DestinationName, Destination] = field(default_factory=dict)
    watches: tuple[Watch, ...] = ()
    log_level: str = "INFO"
    data_dir: Path = Path("data")
    limits: LimitSettings = LimitSettings()
    telegram: TelegramSettings = TelegramSettings()
    discord: DiscordSettings = DiscordSettings()
    delivery: DeliverySettings = DeliverySettings()
    sources: SourceSettings = SourceSettings()
    http: HttpSettings = HttpSettings()
    websub: WebSubSettings = WebSubSettings()
    store_url: str | None = None  # redis://… selects the Redis store; None: TinyDB in data_dir
    store_prefix: str = "tipoff:"  # every Redis key starts with it (several instances on one Redis)
    store_lease: float = 0.0  # how long a worker holds a feed or an alert; 0: 4× the fetch timeout, ≥ 60 s
    worker: str = "tipoff"  # this process's name among workers (TIPOFF_WORKER, default the host name)
    worker_named: bool = False  # the name came from TIPOFF_WORKER (else the host name, suffixed when taken)


def feed_id_for(url: str) -> FeedId:
    return FeedId("f" + hashlib.blake2b(url.encode(), digest_size=8).hexdigest())


def watch_id_for(rule: str, notify: tuple[str, ...]) -> WatchId:
    return WatchId("w" + hashlib.blake2b(f"{rule}\x00{','.join(notify)}".encode(), digest_size=5).hexdigest())


class _Reader:
    """Walks the parsed TOML, turning problems into ConfigErrors with key and line."""

    def __init__(self, text: str, path: Path | None) -> None:
        self.text = text
        self.lines = text.splitlines()
        self.where = str(path) if path else "<config>"

    def fail(self, key: str, message: str) -> ConfigError:
        line = self.line_of(key)
        loc = f"{self.where}:{line}" if line else self.where
        return ConfigError(f"{loc}: {key}: {message}")

    def line_of(self, key: str) -> int | None:
        """Best effort: the line where a key like `feeds[2].every` or `poll.every` is set."""
        array = re.fullmatch(r"([\w.-]+)\[(\d+)\](?:\.(.+))?", key)
        if array:
            heads = self._header_lines(array.group(1), double=True)
            nth = int(array.group(2))
            start = heads[nth - 1] if 0 < nth <= len(heads) else None
            leaf = array.group(3)
        elif self._header_lines(key, double=False):
            return self._header_lines(key, double=False)[0] + 1
        elif "." not in key and self._header_lines(key, double=True):  # [[key]] where [key.NAME] belongs
            return self._header_lines(key, double=True)[0] + 1
        else:
            table, _, leaf = key.rpartition(".")
            heads = self._header_lines(table, double=False) if table else [-1]
            start = heads[0] if heads else None
        if start is None:
            return None
        if leaf:
            leaf_re = re.compile(r"^\s*" + re.escape(leaf.split(".")[0]) + r"\s*=")
            for i in range(start + 1, len(self.lines)):
                if self.lines[i].lstrip().startswith("["):
                    break
                if leaf_re.match(self.lines[i]):
                    return i + 1
        return start + 1 if start >= 0 else None

    def _header_lines(self, table: str, *, double: bool) -> list[int]:
        open_, close = (r"\[\[", r"\]\]") if double else (r"\[", r"\]")
        pattern = re.compile(r"^\s*" + open_ + r"\s*" + re.escape(table) + r"\s*" + close)
        return [i for i, line in enumerate(self.lines) if pattern.match(line)]

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key.rsplit(".", 1)[-1], {})
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be a table")
        return value

    def duration(self, data: Mapping[str, Any], name: str, key: str, default: float, minimum: float = 0.0) -> float:
        if name not in data:
            return default
        try:
            value = parse_duration(data[name])
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum:g}s")
        return value

    def integer(self, data: Mapping[str, Any], name: str, key: str, default: int, minimum: int = 0) -> int:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be a whole number of at least {minimum}")
        return value

    def string(self, data: Mapping[str, Any], name: str, key: str, default: str | None = None) -> str:
        value = data.get(name, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string" if name in data else "is required")
        return value.strip()

    def unknown_keys(self, data: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for k in data:
            if k not in allowed:
                hint = _closest(k, allowed)
                raise self.fail(f"{prefix}{k}", "unknown key" + (f' (did you mean "{hint}"?)' if hint else ""))


def _closest(word: str, options: set[str]) -> str | None:
    found = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.7)
    return found[0] if found else None


def locate(path: Path | None, key: str) -> str:
    """"file:line" of a key in the config (for problems only found when acting on it)."""
    try:
        text = path.read_text(encoding="utf-8") if path else ""
    except (OSError, UnicodeDecodeError):
        text = ""
    reader = _Reader(text, path)
    line = reader.line_of(key)
    return f"{reader.where}:{line}" if line else reader.where


def toml_error(message: str, path: Path | None) -> str:
    """tomllib's message in the file:line shape of every other config error."""
    where = str(path) if path else "<config>"
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if not found:
        return f"{where}: not valid TOML: {message}"
    what = message[:found.start()]
    hint = ""
    if what.startswith("Cannot declare"):
        hint = ": each table is written once (a second [destinations.NAME] needs another NAME)"
    return f"{where}:{found.group(1)}: not valid TOML: {what} (column {found.group(2)}){hint}"


def load_settings(
    path: Path | None,
    *,
    text: str | None = None,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
) -> Settings:
    """Read and validate the config; `text` overrides reading `path` (for tests)."""
    env = os.environ if env is None else env
    if text is None:
        if path is None:
            text = ""
        else:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = data[:exc.start].count(b"\n") + 1
                raise ConfigError(f"{path}:{line}: the file is not UTF-8 (byte 0x{data[exc.start]:02x}): save it "
                                  "as UTF-8") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(toml_error(str(exc), path)) from None
    r = _Reader(text, path)
    r.unknown_keys(raw, {"poll", "fetch", "rules", "feeds", "destinations", "watches", "log", "store",
                         "limits", "telegram", "discord", "delivery", "http", "sources", "websub"}, "")
    base_dir = path.parent if path else Path.cwd()  # relative file: feeds are relative to the config
    poll = _poll(r, r.table(raw, "poll"))
    sources = _sources(r, r.table(raw, "sources"))
    fetch = _fetch(r, r.table(raw, "fetch"))
    rules = _rule_limits(r, r.table(raw, "rules"))
    if isinstance(raw.get("destinations"), list):
        raise r.fail("destinations", "write each destination as a table of its own, [destinations.NAME] "
                                     "(e.g. [destinations.fans]), not [[destinations]]")
    destinations = _destinations(r, r.table(raw, "destinations"), env)
    feeds = _feeds(r, raw.get("feeds", []), poll, base_dir, sources)
    watches = _watches(r, raw.get("watches", []), destinations, rules)
    log = r.table(raw, "log")
    r.unknown_keys(log, {"level"}, "log.")
    level = str(env.get("TIPOFF_LOG_LEVEL") or log.get("level") or "INFO").upper()
    if logging.getLevelName(level) == f"Level {level}":
        raise r.fail("log.level", f'"{level}" is not a log level (DEBUG, INFO, WARNING, ERROR)')
    store = r.table(raw, "store")
    r.unknown_keys(store, {"data", "url", "prefix", "lease"}, "store.")
    store_prefix = r.string(store, "prefix", "store.prefix", "tipoff:")
    store_lease = r.duration(store, "lease", "store.lease", 0.0)
    if 0 < store_lease < 1:
        raise r.fail("store.lease", "must be at least 1s (or left out: 4× the fetch timeout, at least 60s)")
    store_url = str(env.get("TIPOFF_STORE_URL") or "") or (r.string(store, "url", "store.url") if "url" in store else None)
    if store_url is not None and not store_url.startswith(("redis://", "rediss://", "unix://")):
        raise r.fail("store.url", f'"{redact_url(store_url)}" is not a redis:// URL (leave it out for the embedded store)')
    chosen_dir = data_dir or (Path(env["TIPOFF_DATA_DIR"]) if env.get("TIPOFF_DATA_DIR") else None)
    if chosen_dir is None:
        chosen_dir = Path(r.string(store, "data", "store.data")) if "data" in store else Path("data")
        if chosen_dir.exists() and not chosen_dir.is_dir():
            raise r.fail("store.data", f'"{chosen_dir}" is a file: give a directory (tipoff creates it if missing)')
    elif chosen_dir.exists() and not chosen_dir.is_dir():
        raise ConfigError(f'the data directory "{chosen_dir}" is a file: give a directory (--data or '
                          "TIPOFF_DATA_DIR)")
    limits = _limits(r, r.table(raw, "limits"))
    telegram = _telegram(r, r.table(raw, "telegram"), env)
    discord = _discord(r, r.table(raw, "discord"), env)
    for platform, token, variable in (("telegram", telegram.token, "TIPOFF_TELEGRAM_TOKEN"),
                                      ("discord", discord.token, "TIPOFF_DISCORD_TOKEN")):
        needing = [d.name for d in destinations.values() if d.kind == platform]
        if token is None and needing:
            raise r.fail(f"destinations.{needing[0]}.kind", f"a {platform} destination needs the bot token: set "
                                                            f"{variable} in the environment (never in this file)")
    delivery = r.table(raw, "delivery")
    r.unknown_keys(delivery, {"retry_base", "retry_max", "timeout"}, "delivery.")
    dd = DeliverySettings()
    delivery_settings = DeliverySettings(
        retry_base=r.duration(delivery, "retry_base", "delivery.retry_base", dd.retry_base, minimum=0.1),
        retry_max=r.duration(delivery, "retry_max", "delivery.retry_max", dd.retry_max, minimum=1),
        timeout=r.duration(delivery, "timeout", "delivery.timeout", dd.timeout, minimum=1),
    )
    http = _http(r, r.table(raw, "http"))
    websub = _websub(r, r.table(raw, "websub"))
    if telegram.webhook and http.listen is None:
        raise r.fail("telegram.webhook", "needs [http] listen: Telegram delivers updates to tipoff's HTTP endpoint")
    if websub.callback and http.listen is None:
        raise r.fail("websub.callback", "needs [http] listen: hubs deliver to tipoff's HTTP endpoint")
    return Settings(path, poll, fetch, rules, feeds, destinations, watches, level, chosen_dir, limits, telegram,
                    discord, delivery_settings, sources, http, websub, store_url, store_prefix, store_lease,
                    str(env.get("TIPOFF_WORKER") or socket.gethostname()), bool(env.get("TIPOFF_WORKER")))


def secrets_of(settings: Settings) -> list[str]:
    """Everything that must never reach a log line: the bot tokens, what is derived
    from them, and the destinations' URLs (a Discord webhook's holds its token, and
    url_env says the operator keeps the URL secret)."""
    out: list[str] = []
    for token in (settings.telegram.token, settings.discord.token):
        if token is not None:
            out += [token.reveal(), token.derived("telegram webhook")]
    for dest in settings.destinations.values():
        url = dest.option("url")
        if isinstance(url, str) and url:
            out.append(url)
    return out


def redact_url(url: str) -> str:
    """A URL without its password, for messages."""
    head, sep, tail = url.rpartition("@")
    return f"{url.split('://')[0]}://…@{tail}" if sep and "://" in url else url


def _websub(r: _Reader, t: Mapping[str, Any]) -> WebSubSettings:
    r.unknown_keys(t, {"callback", "lease", "poll_every", "quiet_after"}, "websub.")
    d = WebSubSettings()
    callback = r.string(t, "callback", "websub.callback") if "callback" in t else None
    if callback is not None and not callback.startswith(("http://", "https://")):
        raise r.fail("websub.callback", f'"{callback}" is not an http(s) URL')
    return WebSubSettings(callback, r.duration(t, "lease", "websub.lease", d.lease, minimum=60),
                          r.duration(t, "poll_every", "websub.poll_every", d.poll_every),
                          r.duration(t, "quiet_after", "websub.quiet_after", d.quiet_after))


def _http(r: _Reader, t: Mapping[str, Any]) -> HttpSettings:
    r.unknown_keys(t, {"listen"}, "http.")
    if "listen" not in t:
        return HttpSettings()
    listen = r.string(t, "listen", "http.listen")
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise r.fail("http.listen", f'"{listen}" is not HOST:PORT, e.g. "127.0.0.1:8787"')
    return HttpSettings((host.strip("[]"), int(port)))


def _sources(r: _Reader, t: Mapping[str, Any]) -> SourceSettings:
    r.unknown_keys(t, {"news_language", "news_region"}, "sources.")
    d = SourceSettings()
    language = r.string(t, "news_language", "sources.news_language", d.news_language)
    region = r.string(t, "news_region", "sources.news_region", d.news_region)
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2,4})?", language):
        raise r.fail("sources.news_language", f'"{language}" is not a language tag like "en-US" or "de"')
    if not re.fullmatch(r"[A-Z]{2}", region):
        raise r.fail("sources.news_region", f'"{region}" is not a two-letter region like "US" or "DE"')
    return SourceSettings(language, region)


def _discord(r: _Reader, t: Mapping[str, Any], env: Mapping[str, str]) -> DiscordSettings:
    r.unknown_keys(t, {"api_base", "gateway", "guild", "manager_role", "shards", "token"}, "discord.")
    if "token" in t:
        raise r.fail("discord.token", "tokens never go in the config file: set TIPOFF_DISCORD_TOKEN instead")
    d = DiscordSettings()
    token = env.get("TIPOFF_DISCORD_TOKEN", "").strip()
    guild = r.integer(t, "guild", "discord.guild", 0, minimum=0) if "guild" in t else None
    shards = None
    if t.get("shards", "auto") != "auto":
        if not isinstance(t["shards"], int) or isinstance(t["shards"], bool) or t["shards"] < 1:
            raise r.fail("discord.shards", 'must be "auto" or a whole number of at least 1')
        shards = t["shards"]
    return DiscordSettings(
        token=Secret(token) if token else None,
        api_base=r.string(t, "api_base", "discord.api_base", d.api_base).rstrip("/"),
        gateway=r.string(t, "gateway", "discord.gateway", d.gateway),
        guild=guild or None,
        manager_role=r.string(t, "manager_role", "discord.manager_role") if "manager_role" in t else None,
        shards=shards,
    )


def _limits(r: _Reader, t: Mapping[str, Any]) -> LimitSettings:
    r.unknown_keys(t, {"feeds_per_chat", "watches_per_chat", "commands_per_minute", "user_commands_per_minute",
                       "command_time", "queued_commands"}, "limits.")
    d = LimitSettings()
    command_time = r.duration(t, "command_time", "limits.command_time", d.command_time)
    if not 1 <= command_time <= 300:
        raise r.fail("limits.command_time", "must be between 1s and 5m")
    return LimitSettings(
        feeds_per_chat=r.integer(t, "feeds_per_chat", "limits.feeds_per_chat", d.feeds_per_chat, minimum=1),
        watches_per_chat=r.integer(t, "watches_per_chat", "limits.watches_per_chat", d.watches_per_chat, minimum=1),
        commands_per_minute=r.integer(t, "commands_per_minute", "limits.commands_per_minute",
                                      d.commands_per_minute, minimum=1),
        user_commands_per_minute=r.integer(t, "user_commands_per_minute", "limits.user_commands_per_minute",
                                           d.user_commands_per_minute, minimum=1),
        command_time=command_time,
        queued_commands=r.integer(t, "queued_commands", "limits.queued_commands", d.queued_commands, minimum=1),
    )


def _rate(r: _Reader, t: Mapping[str, Any], name: str, default: float) -> float:
    value = t.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise r.fail(f"telegram.{name}", "must be a positive number")
    return float(value)


def _telegram(r: _Reader, t: Mapping[str, Any], env: Mapping[str, str]) -> TelegramSettings:
    r.unknown_keys(t, {"base_url", "base_file_url", "admin_cache", "rate_global", "rate_chat",
                       "rate_group_per_minute", "poll_timeout", "token", "webhook"}, "telegram.")
    if "token" in t:
        raise r.fail("telegram.token", "tokens never go in the config file: set TIPOFF_TELEGRAM_TOKEN instead")
    d = TelegramSettings()
    base_url = r.string(t, "base_url", "telegram.base_url", d.base_url)
    default_files = base_url.replace("/bot", "/file/bot", 1) if "/bot" in base_url else d.base_file_url
    token = env.get("TIPOFF_TELEGRAM_TOKEN", "").strip()
    webhook = r.string(t, "webhook", "telegram.webhook").rstrip("/") if "webhook" in t else None
    if webhook is not None and not (webhook.startswith("https://") or
                                    re.match(r"^http://(127\.0\.0\.1|localhost)(:\d+)?(/|$)", webhook)):
        raise r.fail("telegram.webhook", "Telegram delivers webhooks over https only: give an https:// URL")
    return TelegramSettings(
        token=Secret(token) if token else None,
        base_url=base_url,
        base_file_url=r.string(t, "base_file_url", "telegram.base_file_url", default_files),
        admin_cache=r.duration(t, "admin_cache", "telegram.admin_cache", d.admin_cache),
        rate_global=_rate(r, t, "rate_global", d.rate_global),
        rate_chat=_rate(r, t, "rate_chat", d.rate_chat),
        rate_group_per_minute=_rate(r, t, "rate_group_per_minute", d.rate_group_per_minute),
        poll_timeout=r.duration(t, "poll_timeout", "telegram.poll_timeout", d.poll_timeout),
        webhook=webhook,
    )


def _poll(r: _Reader, t: Mapping[str, Any]) -> PollSettings:
    r.unknown_keys(t, {"every", "min_every", "jitter", "max_age", "backfill", "retention", "max_backoff",
                       "pause_after", "adaptive", "max_every"}, "poll.")
    adaptive = t.get("adaptive", True)
    if not isinstance(adaptive, bool):
        raise r.fail("poll.adaptive", "must be true or false")
    d = PollSettings()
    every = r.duration(t, "every", "poll.every", d.every)
    if every < 1:
        raise r.fail("poll.every", "must be at least 1s")
    jitter = t.get("jitter", d.jitter)
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter <= 0.5:
        raise r.fail("poll.jitter", "must be a fraction between 0 and 0.5")
    return PollSettings(
        every=every,
        min_every=r.duration(t, "min_every", "poll.min_every", d.min_every, minimum=1),
        jitter=float(jitter),
        max_age=r.duration(t, "max_age", "poll.max_age", d.max_age),
        backfill=r.integer(t, "backfill", "poll.backfill", d.backfill),
        retention=r.duration(t, "retention", "poll.retention", d.retention),
        max_backoff=r.duration(t, "max_backoff", "poll.max_backoff", d.max_backoff, minimum=1),
        pause_after=r.duration(t, "pause_after", "poll.pause_after", d.pause_after),
        adaptive=adaptive,
        max_every=r.duration(t, "max_every", "poll.max_every", d.max_every, minimum=1),
    )


def _fetch(r: _Reader, t: Mapping[str, Any]) -> FetchSettings:
    r.unknown_keys(t, {"allow", "timeout", "connect_timeout", "max_bytes", "max_redirects", "concurrency",
                       "per_host", "max_entries", "user_agent"}, "fetch.")
    d = FetchSettings()
    allow = t.get("allow", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        raise r.fail("fetch.allow", 'must be a list of hosts or networks, e.g. ["127.0.0.0/8"]')
    return FetchSettings(
        allow=tuple(allow),
        timeout=r.duration(t, "timeout", "fetch.timeout", d.timeout, minimum=1),
        connect_timeout=r.duration(t, "connect_timeout", "fetch.connect_timeout", d.connect_timeout, minimum=1),
        max_bytes=r.integer(t, "max_bytes", "fetch.max_bytes", d.max_bytes, minimum=1024),
        max_redirects=r.integer(t, "max_redirects", "fetch.max_redirects", d.max_redirects),
        concurrency=r.integer(t, "concurrency", "fetch.concurrency", d.concurrency, minimum=1),
        per_host=r.integer(t, "per_host", "fetch.per_host", d.per_host, minimum=1),
        max_entries=r.integer(t, "max_entries", "fetch.max_entries", d.max_entries, minimum=1),
        user_agent=str(t.get("user_agent", d.user_agent)),
    )


def _rule_limits(r: _Reader, t: Mapping[str, Any]) -> Limits:
    r.unknown_keys(t, {"max_length", "max_terms", "max_depth"}, "rules.")
    d = Limits()
    return Limits(
        max_length=r.integer(t, "max_length", "rules.max_length", d.max_length, minimum=1),
        max_terms=r.integer(t, "max_terms", "rules.max_terms", d.max_terms, minimum=1),
        max_depth=r.integer(t, "max_depth", "rules.max_depth", d.max_depth, minimum=1),
    )


def _feeds(r: _Reader, items: Any, poll: PollSettings, base_dir: Path,
           sources: SourceSettings) -> tuple[Feed, ...]:
    if not isinstance(items, list):
        raise r.fail("feeds", "must be an array of tables: [[feeds]]")
    feeds: dict[str, Feed] = {}
    for i, t in enumerate(items, start=1):
        key = f"feeds[{i}]"
        if not isinstance(t, Mapping):
            raise r.fail(key, "must be a table")
        r.unknown_keys(t, {"url", "every", "title", "backfill"}, f"{key}.")
        url = _feed_url(r, r.string(t, "url", f"{key}.url"), f"{key}.url", base_dir, sources)
        every = r.duration(t, "every", f"{key}.every", poll.every)
        if every < 1:
            raise r.fail(f"{key}.every", "must be at least 1s")
        if url in feeds:
            raise r.fail(f"{key}.url", "this feed is already listed")
        feeds[url] = Feed(feed_id_for(url), url, every, trusted=True, title=str(t.get("title", "")),
                          backfill=r.integer(t, "backfill", f"{key}.backfill", poll.backfill))
    return tuple(feeds.values())


def _feed_url(r: _Reader, url: str, key: str, base_dir: Path, sources: SourceSettings) -> str:
    if is_shortcut(url):
        try:
            source = expand_source(url, sources)
        except SourceError as exc:
            raise r.fail(key, str(exc)) from None
        if source.page:
            raise r.fail(key, f'"{url}" needs a look at {source.url} to find its feed; '
                              "give the feed URL (or a channel id) in the config, or add it with /add")
        return source.url
    if url.startswith(("http://", "https://")):
        return url
    if url.startswith("file:"):
        local = Path(url[7:] if url.startswith("file://") else url[5:])
        if not local.is_absolute():
            local = base_dir / local
        return local.resolve().as_uri()
    raise r.fail(key, f'"{url}" is not an http(s) or file: URL, nor a source shortcut (news:, reddit:, '
                      'youtube:, bsky:, mastodon:)')


def _destinations(r: _Reader, t: Mapping[str, Any], env: Mapping[str, str]) -> dict[DestinationName, Destination]:
    out: dict[DestinationName, Destination] = {}
    for name, spec in t.items():
        key = f"destinations.{name}"
        if not isinstance(spec, Mapping):
            raise r.fail(key, "must be a table")
        kind = r.string(spec, "kind", f"{key}.kind")
        if kind not in DESTINATION_KINDS:
            raise r.fail(f"{key}.kind", f'"{kind}" is not one of {", ".join(DESTINATION_KINDS)}')
        options: dict[str, str | int] = {}
        allowed = {"kind"}
        if kind in ("webhook", "discord_webhook"):
            allowed |= {"url", "url_env"}
            if "url_env" in spec:  # a URL with a secret in it (a Discord webhook's token) stays out of the file
                if "url" in spec:
                    raise r.fail(f"{key}.url_env", "give url or url_env, not both")
                var = r.string(spec, "url_env", f"{key}.url_env")
                url = env.get(var, "").strip()
                if not url:
                    raise r.fail(f"{key}.url_env", f"the environment variable {var} is not set")
                if not url.startswith(("http://", "https://")):
                    raise r.fail(f"{key}.url_env", f"{var} must hold an http(s) URL")
            else:
                url = r.string(spec, "url", f"{key}.url")
                if not url.startswith(("http://", "https://")):
                    raise r.fail(f"{key}.url", "must be an http(s) URL")
            options["url"] = url
        elif kind == "telegram":
            allowed |= {"chat_id", "thread_id"}
            options["chat_id"] = _int_or_handle(r, spec, "chat_id", f"{key}.chat_id")
            if "thread_id" in spec:
                options["thread_id"] = r.integer(spec, "thread_id", f"{key}.thread_id", 0, minimum=1)
        elif kind == "discord":
            allowed |= {"channel_id"}
            options["channel_id"] = r.integer(spec, "channel_id", f"{key}.channel_id", 0, minimum=1)
        r.unknown_keys(spec, allowed, f"{key}.")
        out[DestinationName(name)] = Destination(DestinationName(name), kind, tuple(sorted(options.items())))
    if CONSOLE not in out:
        out[CONSOLE] = Destination(CONSOLE, "console")
    return out


def _int_or_handle(r: _Reader, spec: Mapping[str, Any], name: str, key: str) -> str | int:
    value = spec.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.startswith("@") and len(value) > 1:
        return value
    raise r.fail(key, "must be a numeric chat id or an @channelusername")


def _watches(
    r: _Reader, items: Any, destinations: Mapping[DestinationName, Destination], limits: Limits
) -> tuple[Watch, ...]:
    if not isinstance(items, list):
        raise r.fail("watches", "must be an array of tables: [[watches]]")
    out: list[Watch] = []
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    for i, t in enumerate(items, start=1):
        key = f"watches[{i}]"
        if not isinstance(t, Mapping):
            raise r.fail(key, "must be a table")
        r.unknown_keys(t, {"rule", "notify", "label"}, f"{key}.")
        rule = r.string(t, "rule", f"{key}.rule")
        try:
            parse_rule(rule, limits)
        except RuleError as exc:
            raise r.fail(f"{key}.rule", str(exc)) from None
        notify = t.get("notify", [CONSOLE])
        if isinstance(notify, str):
            notify = [notify]
        if not isinstance(notify, list) or not notify or not all(isinstance(n, str) for n in notify):
            raise r.fail(f"{key}.notify", "must be a list of destination names")
        for n in notify:
            if n not in destinations:
                raise r.fail(f"{key}.notify", f'no destination named "{n}" (defined: {", ".join(destinations)})')
        names = tuple(DestinationName(n) for n in dict.fromkeys(notify))
        label = t.get("label", "")
        if not isinstance(label, str):
            raise r.fail(f"{key}.label", 'must be a string, e.g. label = "Gaga × Britney duet"')
        wid = watch_id_for(rule, names)
        same = next((n for n, w in enumerate(out, start=1) if w.id == wid), None)
        if same is not None:
            raise r.fail(f"{key}.rule", f"the same rule for the same destinations is already watches[{same}]")
        out.append(Watch(wid, rule, names, epoch, label))
    return tuple(out)
