"""From an address a person typed to a working feed: fetch it, and if it is a web page
rather than a feed, follow the feeds the page declares (or the usual paths) until one
parses. Used by /add and /test; the poller fetches known feeds directly."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import feed_id_for
from bot.feeds.discover import FeedLink, common_paths, feed_links
from bot.feeds.errors import FeedError
from bot.feeds.fetch import Fetcher, FetchResult
from bot.feeds.parse import charset_of, parse_feed, sniff_kind
from bot.i18n import _
from bot.model import Feed, ParsedFeed

MAX_CANDIDATES = 8


@dataclass(frozen=True, slots=True)
class Found:
    url: str  # the feed's own address
    parsed: ParsedFeed
    page: str | None = None  # the page it was discovered on, if the address was a page
    others: tuple[FeedLink, ...] = ()  # the page's other feeds


def _parse_result(result: FetchResult, url: str, max_entries: int) -> ParsedFeed:
    return parse_feed(result.body, feed_id_for(url), result.url, max_entries=max_entries,
                      charset=charset_of(result.content_type))


async def fetch_parsed(fetcher: Fetcher, url: str, *, trusted: bool, max_entries: int) -> ParsedFeed:
    """Fetch once and parse, with the HTTP charset; FeedError for anything else."""
    result = await fetcher.fetch(Feed(feed_id_for(url), url, 0, trusted=trusted))
    return _parse_result(result, url, max_entries)


async def _parse(fetcher: Fetcher, url: str, trusted: bool, max_entries: int) -> tuple[bytes, ParsedFeed | None]:
    """Like fetch_parsed, but an HTML page is not an error here: it may lead to a feed."""
    result = await fetcher.fetch(Feed(feed_id_for(url), url, 0, trusted=trusted))
    try:
        return result.body, _parse_result(result, url, max_entries)
    except FeedError:
        if sniff_kind(result.body) == "html":
            return result.body, None
        raise


async def find_feed(fetcher: Fetcher, url: str, *, trusted: bool = False, max_entries: int = 500) -> Found:
    """The feed at `url`, or the one a page at `url` leads to; FeedError otherwise."""
    body, parsed = await _parse(fetcher, url, trusted, max_entries)
    if parsed is not None:
        return Found(url, parsed)
    declared = feed_links(body, url)
    candidates = [link.url for link in declared] or common_paths(url)
    tried = 0
    for candidate in candidates[:MAX_CANDIDATES]:
        tried += 1
        try:
            _url, found = await _parse(fetcher, candidate, trusted, max_entries)
        except FeedError:
            continue
        if found is not None:
            return Found(candidate, found, url, tuple(link for link in declared if link.url != candidate))
    if declared:
        raise FeedError("not_a_feed", _("received an HTML page whose {count} feed links did not work")
                        .format(count=len(declared)))
    raise FeedError("not_a_feed", _("received an HTML page that links to no feed (tried {count} usual addresses "
                                    "like /feed and /rss.xml)").format(count=tried))
