"""Whole articles for feeds that carry only headlines (`full_text`): each new entry's
linked page is fetched and its main text extracted (trafilatura: the article, not the
navigation, comments or boilerplate around it), then matched and excerpted like the
entry's own text. Article links come from feed content, so they go through the address
policy for every feed, the operator's too (`[fetch] allow` exempts hosts), and through
each host's request budget. Bounded: a page's size and time caps, a few articles at a
time, at most MAX_PER_POLL per poll, and a cache so a page is fetched once. An article
that cannot be had leaves the entry as the feed gave it."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import replace
from typing import Iterable

from bot.feeds.errors import FeedError
from bot.feeds.fetch import Fetcher
from bot.feeds.parse import charset_of
from bot.model import Entry, Feed, FeedId

log = logging.getLogger("tipoff.articles")

MAX_PER_POLL = 20  # new entries of one poll whose articles are read (the newest)
CACHED = 2000  # articles remembered, by address (ten feeds carrying one story fetch it once)
ARTICLE_CHARS = 20_000  # of an article's text, kept for matching and the excerpt
EXTRACT_TIME = 10.0  # seconds one extraction may take
AT_ONCE = 4  # articles fetched and extracted at once


def extract_text(html: bytes, charset: str | None = None) -> str:
    """The main text of an HTML page ("" when it has none worth the name). CPU: run it
    in a thread."""
    import trafilatura

    try:
        page = html.decode(charset or "utf-8", errors="replace")
    except LookupError:
        page = html.decode("utf-8", errors="replace")
    text = trafilatura.extract(page, include_comments=False, include_tables=False, favor_precision=True,
                               deduplicate=True) or ""
    return " ".join(text.split())[:ARTICLE_CHARS]


class ArticleReader:
    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._reading: dict[str, asyncio.Future[str]] = {}  # articles being fetched now
        self._slots = asyncio.Semaphore(AT_ONCE)
        self.read = 0  # articles fetched and extracted (for bench/articles.py)

    async def enrich(self, entries: Iterable[Entry]) -> list[Entry]:
        """The entries with their article's text as their summary (the feed's own text
        kept when no article could be had), the newest MAX_PER_POLL of them."""
        entries = list(entries)
        chosen = {id(e) for e in entries[:MAX_PER_POLL]}  # feeds list newest first
        texts = await asyncio.gather(*(self.article(e.link or e.url) if id(e) in chosen else _nothing()
                                       for e in entries))
        return [replace(e, summary=text, content=e.summary or e.content) if text else e
                for e, text in zip(entries, texts)]

    async def article(self, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            return ""
        cached = self._cache.get(url)
        if cached is not None:
            self._cache.move_to_end(url)
            return cached
        reading = self._reading.get(url)
        if reading is not None:  # another feed's entry links it in the same cycle: one fetch for both
            return await asyncio.shield(reading)
        reading = self._reading[url] = asyncio.ensure_future(self._read_once(url))
        return await asyncio.shield(reading)

    async def _read_once(self, url: str) -> str:
        try:
            async with self._slots:
                text = await self._read(url)
        finally:  # read, or failed: the next entry linking it tries the cache, then again
            self._reading.pop(url, None)
        self._cache[url] = text
        while len(self._cache) > CACHED:
            self._cache.popitem(last=False)
        return text

    async def _read(self, url: str) -> str:
        page = Feed(FeedId("article"), url, 0.0, trusted=False)  # from feed content: the address policy applies
        try:
            fetched = await self.fetcher.fetch(page)
        except FeedError as exc:
            log.info("article %s: %s; matching on the feed's own text", url[:200], exc.message)
            return ""
        if "html" not in fetched.content_type.lower() and not fetched.body.lstrip()[:200].lower().startswith(
                (b"<!doctype html", b"<html")):
            return ""
        try:
            text = await asyncio.wait_for(asyncio.to_thread(extract_text, fetched.body,
                                                            charset_of(fetched.content_type)), EXTRACT_TIME)
        except (asyncio.TimeoutError, ValueError) as exc:
            log.info("article %s: no text extracted (%s)", url[:200], type(exc).__name__)
            return ""
        self.read += 1
        return text


async def _nothing() -> str:
    return ""
