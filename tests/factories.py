"""Small builders for test inputs: entries, feeds as RSS bytes, settings."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Callable, Iterable, Sequence
from xml.sax.saxutils import escape

from bot.config import CONSOLE, FetchSettings, LimitSettings, PollSettings, Settings, feed_id_for
from bot.model import Destination, DestinationName, Entry, Feed, FeedId, Outgoing, Watch, WatchId

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


async def eventually(predicate: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    """Wait until `predicate()` is true (checked every 50 ms), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ago(minutes: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=minutes)


def entry(title: str = "A title", *, feed: str = "f1", id: str | None = None, url: str = "",
          summary: str = "", published: datetime | None = None, tags: Sequence[str] = ()) -> Entry:
    return Entry(FeedId(feed), id or title, url, url, title, summary, "", (), tuple(tags), published)


def item(title: str, *, guid: str | None = None, link: str | None = None, summary: str = "",
         published: datetime | None = None) -> dict[str, object]:
    return {"title": title, "guid": guid or title, "link": link, "summary": summary,
            "published": published or datetime.now(timezone.utc) - timedelta(minutes=5)}


def rss(items: Iterable[dict[str, object]], title: str = "Test Feed") -> bytes:
    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
             "<link>https://feed.example/</link>"]
    for it in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(str(it['title']))}</title>")
        if it.get("link"):
            parts.append(f"<link>{escape(str(it['link']))}</link>")
        parts.append(f'<guid isPermaLink="false">{escape(str(it["guid"]))}</guid>')
        if it.get("summary"):
            parts.append(f"<description>{escape(str(it['summary']))}</description>")
        published = it.get("published")
        if isinstance(published, datetime):
            parts.append(f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def watch(rule: str, *notify: str, id: str | None = None) -> Watch:
    names = tuple(DestinationName(n) for n in (notify or ("console",)))
    return Watch(WatchId(id or f"w-{abs(hash(rule)) % 10**6}"), rule, names, datetime(1970, 1, 1, tzinfo=timezone.utc))


def feed(url: str, *, every: float = 60.0, backfill: int = 0) -> Feed:
    return Feed(feed_id_for(url), url, every, trusted=True, backfill=backfill)


def settings(data_dir: Path, feeds: Sequence[Feed] = (), watches: Sequence[Watch] = (),
             destinations: Sequence[Destination] = (), **poll: object) -> Settings:
    dests = {CONSOLE: Destination(CONSOLE, "console")}
    dests.update({d.name: d for d in destinations})
    return Settings(path=None, poll=replace(PollSettings(jitter=0.0), **poll),  # type: ignore[arg-type]
                    fetch=FetchSettings(timeout=5.0, allow=("127.0.0.0/8",)), feeds=tuple(feeds), destinations=dests,
                    watches=tuple(watches), data_dir=data_dir, limits=UNHURRIED)


# tests send commands faster than people do: only the tests of those limits set them low
UNHURRIED = LimitSettings(commands_per_minute=10_000, user_commands_per_minute=10_000)


def redis_prefix() -> str:
    """A key prefix no other test uses, so tests can share one redis-server."""
    import uuid

    return f"test-{uuid.uuid4().hex[:12]}:"


def as_worker(s: Settings, redis_url: str, prefix: str, name: str, lease: float = 3.0) -> Settings:
    """These settings for a worker named `name` on a shared Redis store."""
    return replace(s, store_url=redis_url, store_prefix=prefix, store_lease=lease, worker=name, worker_named=True)


def note(value: object, hold: str = "") -> Outgoing:
    """An outbox message for store tests: a notice carrying `value`."""
    return Outgoing(notice=str(value), hold=hold)


def spelled(n: int) -> str:
    """A number in letters (12 → "bc"), for titles whose only numbers are their tags:
    "duet 0002 from feed 0" and "duet 0000 from feed 2" would hold the same numbers and
    be one story (bot/stories)."""
    return "".join(chr(ord("a") + int(d)) for d in str(n))
