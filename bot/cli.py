"""Argument parsing only: each command calls one function that does the work."""

from __future__ import annotations

import argparse
import asyncio
import re
import time
import json
import logging
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from bot import __version__
from bot.config import ConfigError, Settings, load_settings, secrets_of

if TYPE_CHECKING:
    from bot.model import ParsedFeed
    from bot.rules.matcher import Matcher

DEFAULT_CONFIG = Path("config/tipoff.toml")
log = logging.getLogger("tipoff")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tipoff",
        description="Watch news feeds for what you care about and get tipped off in your chats.",
    )
    parser.add_argument("--version", action="version", version=f"tipoff {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="poll feeds, match watches, deliver alerts",
                         description="The long-lived watcher: polls every feed on its interval, matches new "
                                     "entries against the watches and delivers each new hit once.")
    run.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="TOML config (default: %(default)s)")
    run.add_argument("--data", type=Path, default=None, metavar="DIR",
                     help="data directory (default: [store] data, $TIPOFF_DATA_DIR, or ./data)")
    run.add_argument("--once", action="store_true",
                     help="poll every feed once, deliver, and exit (for cron)")

    check = sub.add_parser("check", help="fetch and parse one feed, list its entries",
                           description="Fetch and parse a feed once and list its entries, marking which "
                                       "match a rule. Nothing is stored or sent.")
    check.add_argument("source", metavar="URL_OR_FILE")
    check.add_argument("--rule", help='a watch rule, e.g. \'"lady gaga" AND duet\'')
    check.add_argument("--json", action="store_true", help="one JSON object per entry")
    check.add_argument("--config", type=Path, default=None, help="take fetch limits from this config")

    preview = sub.add_parser("preview", help="print the exact messages a feed's entries would produce",
                             description="Fetch and parse a feed once and print, as JSON lines, the exact "
                                         "message parameters each entry would produce on a platform. With "
                                         "--rule, only entries that match it, with the matched terms marked.")
    preview.add_argument("source", metavar="URL_OR_FILE")
    preview.add_argument("--platform", choices=["telegram", "discord"], required=True)
    preview.add_argument("--rule", help="a watch rule; only matching entries are shown")
    preview.add_argument("--chat-id", default="0", help="Telegram: the chat the messages are for (default: 0)")
    preview.add_argument("--config", type=Path, default=None, help="take fetch limits from this config")

    stories = sub.add_parser("stories", help="show feeds' entries grouped into stories",
                             description="Fetch and parse the given feeds and print their entries grouped "
                                         "into stories, as tipoff groups them for alerts: each story with its "
                                         "sources and why each entry joined it (a copy, or a development that "
                                         "alerts again). Nothing is stored or sent.")
    stories.add_argument("sources", metavar="URL_OR_FILE", nargs="+")
    stories.add_argument("--json", action="store_true", help="one JSON object per story")
    stories.add_argument("--all", action="store_true", help="list stories told by one entry too")
    stories.add_argument("--config", type=Path, default=None, help="take fetch limits from this config")

    migrate = sub.add_parser("migrate", help="copy the embedded store into Redis",
                             description="Copy the TinyDB store (the data directory) into Redis, then count "
                                         "what arrived and compare. Stop tipoff first; afterwards set "
                                         "[store] url (or TIPOFF_STORE_URL) to the same URL.")
    migrate.add_argument("--to", required=True, metavar="REDIS_URL", help="e.g. redis://127.0.0.1:6379/0")
    migrate.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="TOML config (default: %(default)s)")
    migrate.add_argument("--data", type=Path, default=None, metavar="DIR",
                         help="data directory (default: [store] data, $TIPOFF_DATA_DIR, or ./data)")
    migrate.add_argument("--prefix", default=None, help="key prefix in Redis (default: [store] prefix, tipoff:)")
    migrate.add_argument("--force", action="store_true", help="write even when keys under the prefix exist")

    workers = sub.add_parser("workers", help="show what the workers sharing a Redis store hold",
                             description="For a Redis store ([store] url or TIPOFF_STORE_URL): every worker, "
                                         "when it was last seen, the alerts, chats and feeds it holds, and "
                                         "whether it polls Telegram or holds Discord shards. Read-only.")
    workers.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="TOML config (default: %(default)s)")

    link = sub.add_parser("dashboard-link", help="print a one-time sign-in link to the dashboard",
                          description="Prints a sign-in URL on its last line, valid once and for 15 minutes, "
                                      "for the dashboard `tipoff run` serves on [http] listen (it may be running "
                                      "now, on the same data directory or store). Without --chat it signs in the "
                                      "operator (every chat); with it, that chat only.")
    link.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="TOML config (default: %(default)s)")
    link.add_argument("--data", type=Path, default=None, metavar="DIR",
                      help="data directory (default: [store] data, $TIPOFF_DATA_DIR, or ./data)")
    link.add_argument("--chat", default=None, metavar="CHAT",
                      help="a chat's destination name, e.g. telegram:-1001234567890 or discord:123456789012345678")

    match = sub.add_parser("match", help="test a rule against a text",
                           description="Exit 0 when RULE matches TEXT, 1 when it does not, 2 when the rule "
                                       "is invalid.")
    match.add_argument("rule", metavar="RULE")
    match.add_argument("--text", required=True)
    match.add_argument("--explain", action="store_true", help="print how the rule was understood")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "match":
        return cmd_match(args.rule, args.text, explain=args.explain)
    try:
        if args.command == "run":
            settings = load_settings(args.config, data_dir=args.data)
            _setup_logging(settings.log_level, settings)
            return cmd_run(settings, once=args.once)
        if args.command == "migrate":
            settings = load_settings(args.config, data_dir=args.data)
            _setup_logging(settings.log_level, settings)
            return asyncio.run(cmd_migrate(settings, args.to, args.prefix or settings.store_prefix, force=args.force))
        if args.command == "dashboard-link":
            settings = load_settings(args.config, data_dir=args.data)
            return asyncio.run(cmd_dashboard_link(settings, args.chat))
        if args.command == "workers":
            settings = load_settings(args.config)
            _setup_logging(settings.log_level, settings)
            return asyncio.run(cmd_workers(settings))
        settings = load_settings(args.config) if args.config else load_settings(None)
        _setup_logging(settings.log_level)
        if args.command == "preview":
            return cmd_preview(settings, args.source, args.platform, args.rule, args.chat_id)
        if args.command == "stories":
            return cmd_stories(settings, args.sources, as_json=args.json, show_all=args.all)
        return cmd_check(settings, args.source, args.rule, as_json=args.json)
    except ConfigError as exc:
        print(f"tipoff: config error: {exc}", file=sys.stderr)
        return 2


async def cmd_dashboard_link(settings: Settings, chat: str | None) -> int:
    from bot.dashboard.access import OPERATOR
    from bot.dashboard.app import chat_scope, sign_in_link
    from bot.dashboard.keys import dashboard_secret

    if settings.http.listen is None:
        print("tipoff: the dashboard is served on [http] listen: set it in the config (e.g. listen = "
              '"127.0.0.1:8787") and restart tipoff run', file=sys.stderr)
        return 2
    if chat is not None and not re.fullmatch(r"(telegram|discord):-?[0-9]+(/[0-9]+)?|[A-Za-z0-9_.-]+", chat):
        print(f"tipoff: {chat!r} is not a chat: give its destination name, e.g. telegram:-1001234567890", file=sys.stderr)
        return 2
    try:
        secret = await dashboard_secret(settings)
    except (OSError, ValueError) as exc:
        print(f"tipoff: cannot read the dashboard's secret: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the Redis store cannot be reached (its URL may hold a password: not shown)
        print(f"tipoff: cannot reach the store for the dashboard's secret ({type(exc).__name__})", file=sys.stderr)
        return 1
    scope = chat_scope(chat) if chat else OPERATOR
    print(f"A sign-in link for {'the operator (every chat)' if scope == OPERATOR else scope}, valid once for 15 minutes:")
    print(sign_in_link(settings, secret, scope, time.time()))
    return 0


class RedactSecrets(logging.Filter):
    """Replaces every secret in a log record with ***: tokens never reach a log, even
    where a library puts them in a URL (the Bot API's is /bot<token>/method)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)  # a URL before the token in it

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            redacted = message
            for secret in self.secrets:
                redacted = redacted.replace(secret, "***")
            if redacted != message:
                record.msg, record.args = redacted, None
            if record.exc_info and record.exc_info[1] is not None:
                text = logging.Formatter().formatException(record.exc_info)
                for secret in self.secrets:
                    text = text.replace(secret, "***")
                record.exc_info, record.exc_text = None, text
        return True


def _setup_logging(level: str, settings: Settings | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets_of(settings) if settings else []))
    logging.basicConfig(level=level, handlers=[handler])
    # httpx logs every request URL at INFO, and Telegram's carry the token
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def cmd_run(settings: Settings, *, once: bool) -> int:
    from bot.store.base import StoreError

    from bot.adapters.base import StartError

    try:
        return asyncio.run(_run_with_signals(settings, once))
    except (StoreError, StartError) as exc:
        logging.getLogger("tipoff").error("%s", exc)  # through the redaction, like every line
        return 2 if isinstance(exc, StartError) else 1
    except Exception:  # a bug: one redacted traceback in the log, never a raw one on stderr
        logging.getLogger("tipoff").exception("tipoff stopped on an unexpected error")
        return 1


async def _run_with_signals(settings: Settings, once: bool) -> int:
    from bot.service import run_service

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    service = asyncio.ensure_future(run_service(settings, stop, once=once))
    deadline = asyncio.ensure_future(_stop_deadline(stop, service))
    try:
        await service
    except asyncio.CancelledError:
        if not deadline.done():
            raise
    finally:
        deadline.cancel()
    return 0


STOP_DEADLINE = 4.0  # SIGTERM → exit within 5 s, always: what is still busy then is cancelled


async def _stop_deadline(stop: asyncio.Event, service: asyncio.Future[Any]) -> None:
    """Once stopping, give the parts STOP_DEADLINE seconds to finish (sends in flight,
    the store's last write); then cancel what is still busy (a library backing off,
    a platform that does not answer). Store writes are shielded and still complete."""
    await stop.wait()
    await asyncio.sleep(STOP_DEADLINE)
    if not service.done():
        logging.getLogger("tipoff").warning("stopping: parts still busy after %.0fs were cancelled", STOP_DEADLINE)
        service.cancel()


async def cmd_migrate(settings: Settings, url: str, prefix: str, *, force: bool = False) -> int:
    """Copy, then compare counts; exit 0 only when every count matches."""
    import redis.exceptions

    from bot.store import migrate
    from bot.store.base import StoreError
    from bot.store.lock import DataDirLock, DataDirLocked
    from bot.store.tinydb import DB_NAME, TinyDBStore

    from bot.config import redact_url

    shown = redact_url(url)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        print(f"tipoff: --to must be a redis:// URL, not {shown!r}", file=sys.stderr)
        return 2
    if not (settings.data_dir / DB_NAME).exists():
        print(f"tipoff: no database to migrate in {settings.data_dir}", file=sys.stderr)
        return 1
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except DataDirLocked as exc:
        print(f"tipoff: {exc} (stop it before migrating)", file=sys.stderr)
        return 1
    src = TinyDBStore(settings.data_dir, story_window=settings.stories.window)
    try:
        await src.open()
        if not force and await migrate.existing_keys(url, prefix):
            print(f"tipoff: {shown} already has keys under {prefix!r}; use another --prefix, or --force",
                  file=sys.stderr)
            return 1
        now = time.time()
        before = migrate.source_counts(src, now, settings.poll.retention)
        await migrate.copy(src, url, prefix, settings.poll.retention, now)
        after = await migrate.target_counts(url, prefix)
    except (StoreError, redis.exceptions.RedisError, OSError) as exc:
        print(f"tipoff: migration failed: {exc}", file=sys.stderr)
        return 1
    finally:
        lock.release()
    print(f"{'':16}{'TinyDB':>10}{'Redis':>10}")
    for (name, a), (_, b) in zip(before.rows(), after.rows()):
        print(f"{name:16}{a:>10,}{b:>10,}{'' if a == b else '  MISMATCH'}")
    if before != after:
        print("tipoff: the copy is incomplete (see MISMATCH); the TinyDB store is unchanged", file=sys.stderr)
        return 1
    print(f"migrated: every count matches. Now set [store] url = \"{shown}\" (or TIPOFF_STORE_URL) and start "
          "the workers.")
    return 0


async def cmd_workers(settings: Settings) -> int:
    import redis.exceptions

    from bot.config import redact_url
    from bot.fleet import render
    from bot.store.redis import survey

    if not settings.store_url:
        print("tipoff: the store is TinyDB in the data directory (one process); set [store] url or "
              "TIPOFF_STORE_URL to share one among workers", file=sys.stderr)
        return 1
    where = f"{redact_url(settings.store_url)}, prefix {settings.store_prefix!r}"
    try:
        fleet = await survey(settings.store_url, settings.store_prefix)
    except (redis.exceptions.RedisError, OSError) as exc:
        print(f"tipoff: cannot read {where}: {exc}", file=sys.stderr)
        return 1
    print("\n".join(render(fleet, where)))
    return 0


def cmd_match(rule: str, text: str, *, explain: bool = False) -> int:
    from bot.rules.matcher import matches_text
    from bot.rules.syntax import RuleError, describe, parse_rule

    try:
        tree = parse_rule(rule)
    except RuleError as exc:
        print(f"invalid rule: {exc}", file=sys.stderr)
        print(f"  {rule}\n  {' ' * (exc.column - 1)}^", file=sys.stderr)
        return 2
    if explain:
        print(f"rule: {describe(tree)}")
    match = matches_text(rule, text)
    if match is None:
        print("no match")
        return 1
    if explain:
        for hit in match.hits:
            print(f"  {hit.term!r} in {hit.field} at {hit.start}-{hit.end}: {text[hit.start:hit.end]!r}")
    print("match: " + ", ".join(match.terms))
    return 0


def _rule_matcher(rule: str | None) -> "Matcher | None":
    """A matcher for a --rule option, or RuleError."""
    from bot.model import Watch, WatchId
    from bot.rules.matcher import compile_watches

    return compile_watches([Watch(WatchId("rule"), rule, (), _epoch())]) if rule else None


def _fetch_once(settings: Settings, source: str) -> "ParsedFeed":
    """Fetch and parse a feed named on the command line (the operator's: trusted)."""
    from bot.feeds.fetch import Fetcher
    from bot.feeds.intake import fetch_parsed

    url = Path(source).resolve().as_uri() if Path(source).exists() else source

    async def fetch() -> "ParsedFeed":
        async with Fetcher(settings.fetch) as fetcher:
            return await fetch_parsed(fetcher, url, trusted=True, max_entries=settings.fetch.max_entries)

    return asyncio.run(fetch())


def _load(settings: Settings, source: str, rule: str | None) -> "tuple[Matcher | None, ParsedFeed] | int":
    """The rule's matcher and the parsed feed, or the exit code after saying what failed."""
    from bot.feeds.errors import FeedError
    from bot.rules.syntax import RuleError

    try:
        return _rule_matcher(rule), _fetch_once(settings, source)
    except RuleError as exc:
        print(f"invalid rule: {exc}", file=sys.stderr)
        return 2
    except FeedError as exc:
        print(f"tipoff: {source}: {exc.message}", file=sys.stderr)
        return 1


def cmd_check(settings: Settings, source: str, rule: str | None, *, as_json: bool) -> int:
    from bot.render.text import when

    loaded = _load(settings, source, rule)
    if isinstance(loaded, int):
        return loaded
    matcher, parsed = loaded
    if not as_json:
        print(f"{parsed.title or '(untitled feed)'} — {parsed.kind}, {len(parsed.entries)} entries")
    for entry in parsed.entries:
        found = matcher.match(entry) if matcher else []
        if as_json:
            print(json.dumps({"id": entry.id, "url": entry.url, "title": entry.title,
                              "published": entry.published.isoformat() if entry.published else None,
                              "matched": bool(found)}, ensure_ascii=False))
            continue
        mark = ("[match] " if found else "[     ] ") if matcher else "  "
        print(f"{mark}{entry.title or '(untitled)'}")
        pad = " " * len(mark)
        print(f"{pad}{entry.link or '(no link)'}  ·  {when(entry.published or entry.updated)}")
        if found:
            print(f"{pad}matched: {', '.join(found[0].terms)}")
    return 0


def cmd_preview(settings: Settings, source: str, platform: str, rule: str | None, chat_id: str) -> int:
    from bot.model import Alert, DestinationName, FiredWatch, Watch
    from bot.pipeline import fired_watch
    from bot.render.discord import alert_payload
    from bot.render.telegram import alert_message

    loaded = _load(settings, source, rule)
    if isinstance(loaded, int):
        return loaded
    matcher, parsed = loaded
    chat: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
    now = datetime.now(timezone.utc)
    for entry in parsed.entries:
        fired: tuple[FiredWatch, ...] = ()
        if matcher is not None and rule:
            found = matcher.match(entry)
            if not found:
                continue
            fired = (fired_watch(found[0], Watch(found[0].watch_id, rule, (), _epoch())),)
        alert = Alert("preview", DestinationName(f"{platform}:{chat}"), entry, parsed.title, source, fired, now)
        payload = alert_message(alert, chat, now=now) if platform == "telegram" else alert_payload(alert, now)
        print(json.dumps(payload, ensure_ascii=False))
    return 0


def cmd_stories(settings: Settings, sources: Sequence[str], *, as_json: bool, show_all: bool) -> int:
    from bot.feeds.errors import FeedError
    from bot.stories.group import group_entries

    feeds = []
    for source in sources:
        try:
            feeds.append((_fetch_once(settings, source), source))
        except FeedError as exc:
            print(f"tipoff: {source}: {exc.message}", file=sys.stderr)
    if not feeds:
        return 1
    groups = group_entries(feeds)
    shown = [g for g in groups if show_all or len(g.members) > 1]
    if not as_json:
        entries = sum(len(g.members) for g in groups)
        print(f"{entries} entries from {len(feeds)} feed{'s' if len(feeds) != 1 else ''}: {len(groups)} stories, "
              f"{sum(len(g.members) > 1 for g in groups)} told by more than one entry"
              + ("" if show_all else " (shown; --all lists the rest)"))
    for number, group in enumerate(shown, 1):
        if as_json:
            print(json.dumps({"id": group.id, "headline": group.headline, "sources": list(group.sources),
                              "entries": [{"title": m.entry.title, "link": m.entry.link, "source": m.outlet,
                                           "verdict": m.verdict, "why": m.why} for m in group.members]},
                             ensure_ascii=False))
            continue
        print(f"\n{number}. {group.headline}")
        print(f"   {len(group.sources)} source{'s' if len(group.sources) != 1 else ''}: {', '.join(group.sources)}")
        for m in group.members:
            mark = {"new": "first", "copy": "copy", "development": "NEW FACT"}[m.verdict]
            print(f"   [{mark:>8}] {m.outlet}: {m.entry.title}" + (f"  ({m.why})" if m.why else ""))
    return 0


def _epoch() -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc)
