"""A page is not a feed: find the feeds it links to. Pure.

First the page's own <link rel="alternate"> feeds (RSS, Atom, JSON Feed), in page
order; then the common paths sites use (/feed, /rss.xml, ...), for the caller to try."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

FEED_TYPES = {
    "application/rss+xml": "RSS", "application/atom+xml": "Atom", "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed", "application/rdf+xml": "RDF", "text/xml": "XML", "application/xml": "XML",
}
COMMON_PATHS = ("/feed", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/rss", "/feed/", "/feed.json")


@dataclass(frozen=True, slots=True)
class FeedLink:
    url: str
    kind: str  # RSS, Atom, JSON Feed ...
    title: str = ""


def feed_links(html: bytes | str, page_url: str) -> list[FeedLink]:
    """The feeds a page declares, absolute and without duplicates."""
    tree = LexborHTMLParser(html if isinstance(html, str) else html.decode("utf-8", "replace"))
    base = page_url
    base_node = tree.css_first("base[href]")
    if base_node is not None and base_node.attributes.get("href"):
        base = urljoin(page_url, base_node.attributes["href"] or "")
    found: dict[str, FeedLink] = {}
    for node in tree.css("link[rel][href]"):
        rels = (node.attributes.get("rel") or "").lower().split()
        mime = (node.attributes.get("type") or "").lower().split(";")[0].strip()
        if "alternate" not in rels or mime not in FEED_TYPES or (mime == "application/json" and "feed" not in
                                                                   (node.attributes.get("title") or "").lower()):
            continue
        url = urljoin(base, (node.attributes.get("href") or "").strip())
        if url.startswith(("http://", "https://")) and url not in found:
            found[url] = FeedLink(url, FEED_TYPES[mime], (node.attributes.get("title") or "").strip())
    return list(found.values())


def common_paths(page_url: str) -> list[str]:
    parts = urlsplit(page_url)
    root = f"{parts.scheme}://{parts.netloc}"
    return [root + path for path in COMMON_PATHS if root + path != page_url]
