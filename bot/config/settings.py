"""The configuration as the rest of tipoff sees it: immutable settings records, one per
table of the config file, and the Settings object that holds them all; durations, and
secrets that never print."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from bot.i18n import _
from bot.model import Destination, DestinationName, Feed, Watch
from bot.rules.syntax import Limits
from bot.sources import SourceSettings

DESTINATION_KINDS = ("console", "webhook", "telegram", "discord", "discord_webhook", "apprise")
CONSOLE = DestinationName("console")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")


class ConfigError(ValueError):
    pass


def parse_duration(text: str | int | float) -> float:
    """'90s', '10m', '1.5h', '7d', '1h30m' → seconds; bare numbers are seconds."""
    if isinstance(text, bool):
        raise ValueError(_("{text} is not a duration").format(text=repr(text)))
    if isinstance(text, (int, float)):
        if not math.isfinite(text):
            raise ValueError(_('{text} is not a duration (use s, m, h or d, e.g. "15m")').format(text=text))
        if text < 0:
            raise ValueError(_("a duration cannot be negative"))
        return _bounded(float(text))
    s = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(_('{text} is not a duration (use s, m, h or d, e.g. "15m")').format(text=f'"{text}"'))
    return _bounded(total)


def parse_rate(text: str) -> tuple[int, float]:
    """A request budget, requests per period: '1/2s' → (1, 2.0), '30/1m', '5/s'. The
    period is a duration as everywhere else. ValueError saying how to write one."""
    count, sep, period = text.partition("/")
    period = period.strip()
    try:
        requests = int(count.strip()) if sep else 0
        seconds = parse_duration(period if period[:1].isdigit() else "1" + period)
    except ValueError:
        requests, seconds = 0, 0.0
    if requests < 1 or seconds <= 0:
        raise ValueError(f'"{text}" is not a request rate (write requests/period, e.g. "1/2s" or "30/1m")')
    return requests, seconds


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
class StorySettings:
    """[stories]: which entries are one story. An entry reporting a story a chat was
    already told within the window is not announced again (a new fact is)."""

    window: float = 3 * 86400.0


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
    host_rate: tuple[int, float] | None = None  # requests per seconds to any one host; None: no budget
    host_rates: Mapping[str, tuple[int, float]] = field(default_factory=dict)  # per host, over the built-in ones
    proxy: str = field(default="", repr=False)  # the operator's feeds are fetched through it (http://, socks5://)


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
    listen: tuple[str, int] | None = None  # (host, port) of /healthz, /metrics and the dashboard; off when None
    public_url: str = ""  # the address users reach the dashboard at ("" : http:// + listen)
    session: float = 7 * 86400.0  # how long a dashboard sign-in lasts

    @property
    def base_url(self) -> str:
        """The base of every dashboard link."""
        if self.public_url:
            return self.public_url
        if self.listen is None:
            return ""
        host, port = self.listen
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host and host != "::" else \
            "localhost" if host == "::" else host
        return f"http://{shown}:{port}"


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
    stories: StorySettings = StorySettings()
    store_url: str | None = None  # redis://… selects the Redis store; None: TinyDB in data_dir
    store_prefix: str = "tipoff:"  # every Redis key starts with it (several instances on one Redis)
    store_lease: float = 0.0  # how long a worker holds a feed or an alert; 0: 4× the fetch timeout, ≥ 60 s
    store_recent: float = 7 * 86400.0  # how long new entries are kept for /why, /backtest and the rule tester
    worker: str = "tipoff"  # this process's name among workers (TIPOFF_WORKER, default the host name)
    worker_named: bool = False  # the name came from TIPOFF_WORKER (else the host name, suffixed when taken)



def secrets_of(settings: Settings) -> list[str]:
    """Everything that must never reach a log line: the bot tokens, what is derived
    from them, and the destinations' URLs (a Discord webhook's holds its token, and
    url_env says the operator keeps the URL secret)."""
    out: list[str] = []
    for feed in settings.feeds:  # a feed's login (a value too short to be one, "fans", is left) and proxy
        out += [value for _, value in feed.headers if len(value) >= 8] + ([feed.proxy] if feed.proxy else [])
    if settings.fetch.proxy:
        out.append(settings.fetch.proxy)
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


