"""What every source shortcut module provides: a prefix, examples, and a pure
`expand(spec, settings)` that turns the text after the prefix into a real public feed
URL (or, for a page that only its HTML knows the feed of, that page's URL)."""

from __future__ import annotations

from dataclasses import dataclass


class SourceError(ValueError):
    """A shortcut that cannot be expanded; the message says what would work."""


@dataclass(frozen=True, slots=True)
class SourceSettings:
    news_language: str = "en-US"  # Google News hl=
    news_region: str = "US"  # Google News gl=


@dataclass(frozen=True, slots=True)
class Source:
    url: str  # a feed URL, or a page to discover the feed from when `page` is set
    title: str  # what the chat sees until the feed's own title is known
    page: bool = False


def unquote_spec(spec: str) -> str:
    """Collapse whitespace; the caller's quotes stay (they mean phrases downstream)."""
    return " ".join(spec.split())
