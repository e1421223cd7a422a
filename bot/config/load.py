"""TOML + environment → one validated, immutable Settings object. Every error names the
key and, where it can be found, the line: `config/tipoff.toml:12: feeds[2].every: ...`.
Nothing else in tipoff reads the environment or the config file."""

from __future__ import annotations

import logging
import os
import re
import socket
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from bot.config.feeds import _feeds, _proxy
from bot.config.reader import _Reader, toml_error
from bot.config.settings import (
    CONSOLE,
    DESTINATION_KINDS,
    ConfigError,
    DeliverySettings,
    DiscordSettings,
    FetchSettings,
    HttpSettings,
    LimitSettings,
    PollSettings,
    Secret,
    Settings,
    StorySettings,
    TelegramSettings,
    WebSubSettings,
    parse_rate,
    redact_url,
)
from bot import controls, i18n
from bot.model import Destination, DestinationName, Watch, watch_id_for
from bot.rules.syntax import Limits, RuleError, parse_rule
from bot.sources import SourceSettings

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
                         "limits", "telegram", "discord", "delivery", "http", "sources", "websub", "stories"}, "")
    base_dir = path.parent if path else Path.cwd()  # relative file: feeds are relative to the config
    poll = _poll(r, r.table(raw, "poll"))
    stories_table = r.table(raw, "stories")
    r.unknown_keys(stories_table, {"window"}, "stories.")
    stories = StorySettings(window=r.duration(stories_table, "window", "stories.window", StorySettings().window,
                                              minimum=60))
    sources = _sources(r, r.table(raw, "sources"))
    fetch = _fetch(r, r.table(raw, "fetch"))
    rules = _rule_limits(r, r.table(raw, "rules"))
    if isinstance(raw.get("destinations"), list):
        raise r.fail("destinations", "write each destination as a table of its own, [destinations.NAME] "
                                     "(e.g. [destinations.fans]), not [[destinations]]")
    destinations = _destinations(r, r.table(raw, "destinations"), env)
    feeds = _feeds(r, raw.get("feeds", []), poll, base_dir, sources, env, fetch.proxy)
    watches = _watches(r, raw.get("watches", []), destinations, rules)
    log = r.table(raw, "log")
    r.unknown_keys(log, {"level"}, "log.")
    level = str(env.get("TIPOFF_LOG_LEVEL") or log.get("level") or "INFO").upper()
    if logging.getLevelName(level) == f"Level {level}":
        raise r.fail("log.level", f'"{level}" is not a log level (DEBUG, INFO, WARNING, ERROR)')
    store = r.table(raw, "store")
    r.unknown_keys(store, {"data", "url", "prefix", "lease", "recent"}, "store.")
    store_recent = r.duration(store, "recent", "store.recent", 7 * 86400.0, minimum=3600.0)
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
                    discord, delivery_settings, sources, http, websub, stories, store_url, store_prefix, store_lease,
                    store_recent,
                    str(env.get("TIPOFF_WORKER") or socket.gethostname()), bool(env.get("TIPOFF_WORKER")))



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
    r.unknown_keys(t, {"listen", "public_url", "session"}, "http.")
    session = r.duration(t, "session", "http.session", HttpSettings().session, minimum=300.0)
    public = r.string(t, "public_url", "http.public_url") if "public_url" in t else ""
    if public and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", public):
        raise r.fail("http.public_url", f'"{public}" is not an http(s) address, e.g. "https://tipoff.example.org"')
    if "listen" not in t:
        if "public_url" in t:
            raise r.fail("http.public_url", "needs [http] listen: the dashboard is served there")
        return HttpSettings(session=session)
    listen = r.string(t, "listen", "http.listen")
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise r.fail("http.listen", f'"{listen}" is not HOST:PORT, e.g. "127.0.0.1:8787"')
    return HttpSettings((host.strip("[]"), int(port)), public.rstrip("/"), session)


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
    adaptive = r.boolean(t, "adaptive", "poll.adaptive", True)
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
                       "per_host", "max_entries", "user_agent", "host_rate", "host_rates", "proxy"}, "fetch.")
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
        host_rate=_rate_of(r, t["host_rate"], "fetch.host_rate") if "host_rate" in t else None,
        host_rates={str(host): _rate_of(r, rate, f"fetch.host_rates.{host}")
                    for host, rate in r.table(t, "fetch.host_rates").items()},
        proxy=_proxy(r, t, "fetch.proxy"),
    )


def _rate_of(r: _Reader, value: Any, key: str) -> tuple[int, float]:
    try:
        return parse_rate(str(value))
    except ValueError as exc:
        raise r.fail(key, str(exc)) from None


def _rule_limits(r: _Reader, t: Mapping[str, Any]) -> Limits:
    r.unknown_keys(t, {"max_length", "max_terms", "max_depth"}, "rules.")
    d = Limits()
    return Limits(
        max_length=r.integer(t, "max_length", "rules.max_length", d.max_length, minimum=1),
        max_terms=r.integer(t, "max_terms", "rules.max_terms", d.max_terms, minimum=1),
        max_depth=r.integer(t, "max_depth", "rules.max_depth", d.max_depth, minimum=1),
    )


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
        allowed = {"kind", "language"}
        if "language" in spec:  # tipoff's own words in what this destination is sent
            language = r.string(spec, "language", f"{key}.language")
            if i18n.supported(language) is None:
                raise r.fail(f"{key}.language", f'"{language}" is not a language tipoff speaks '
                                                f'({", ".join(i18n.LANGUAGES)})')
            options["language"] = language
        if kind in ("webhook", "discord_webhook", "apprise"):
            allowed |= {"url", "url_env"}
            url, where = _destination_url(r, spec, key, env)
            if kind == "apprise":  # email, Slack, Matrix, ntfy, …: an Apprise URL, secrets and all
                from bot.adapters.apprise import understood
                if not understood(url):
                    raise r.fail(where, "is not an Apprise URL of a service Apprise knows (e.g. mailto://, "
                                        "slack://, matrix://, ntfy://, json://): see Apprise's list of services")
            elif not url.startswith(("http://", "https://")):
                raise r.fail(where, f"{spec['url_env']} must hold an http(s) URL" if "url_env" in spec
                             else "must be an http(s) URL")
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


def _destination_url(r: _Reader, spec: Mapping[str, Any], key: str, env: Mapping[str, str]) -> tuple[str, str]:
    """A destination's url, or the environment variable url_env names (a URL with a
    secret in it, a Discord webhook's token, stays out of the file); and its key."""
    if "url_env" not in spec:
        return r.string(spec, "url", f"{key}.url"), f"{key}.url"
    if "url" in spec:
        raise r.fail(f"{key}.url_env", "give url or url_env, not both")
    var = r.string(spec, "url_env", f"{key}.url_env")
    url = env.get(var, "").strip()
    if not url:
        raise r.fail(f"{key}.url_env", f"the environment variable {var} is not set")
    return url, f"{key}.url_env"


def _int_or_handle(r: _Reader, spec: Mapping[str, Any], name: str, key: str) -> str | int:
    value = spec.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.startswith("@") and len(value) > 1:
        return value
    raise r.fail(key, "must be a numeric chat id or an @channelusername")


def _spread(r: _Reader, t: Mapping[str, Any], key: str) -> tuple[int, float]:
    """A watch's min_sources and within (0, 0.0: it alerts at a story's first report)."""
    if "min_sources" not in t:
        if "within" in t:
            raise r.fail(f"{key}.within", "counts the outlets of min_sources: set min_sources too")
        return 0, 0.0
    sources = t["min_sources"]
    if isinstance(sources, bool) or not isinstance(sources, int):
        raise r.fail(f"{key}.min_sources", "must be a whole number of outlets, e.g. min_sources = 3")
    if sources <= 1:
        return 0, 0.0  # one outlet is the first report
    try:
        controls.spread_setting(sources)
    except controls.ControlError as exc:
        raise r.fail(f"{key}.min_sources", str(exc)) from None
    within: float | None = r.duration(t, "within", f"{key}.within", 0.0) if "within" in t else None
    try:
        return controls.spread_setting(sources, within)
    except controls.ControlError as exc:
        raise r.fail(f"{key}.within", str(exc)) from None


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
        r.unknown_keys(t, {"rule", "notify", "label", "min_sources", "within"}, f"{key}.")
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
        min_sources, within = _spread(r, t, key)
        out.append(Watch(wid, rule, names, epoch, label, min_sources=min_sources, within=within))
    return tuple(out)
