"""bytes → ParsedFeed: the only module that knows feed formats (RSS 0.9x/1.0/2.0,
Atom 0.3/1.0, RDF, JSON Feed 1.0/1.1). fastfeedparser does the format work (chosen by
bench/parse.py); this module turns its output into the one normalised Entry shape."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any, Container, Mapping
from urllib.parse import urljoin

import charset_normalizer
import fastfeedparser
from lxml import etree

from bot.dedupe import key_of
from bot.feeds import xmlfeed
from bot.feeds.canonical import canonical_url
from bot.feeds.errors import FeedError
from bot.i18n import _
from bot.feeds.text import collapse, first_image, html_to_text, repair_mojibake
from bot.model import Entry, FeedId, ParsedFeed

DEFAULT_MAX_ENTRIES = 500
_ROOT = re.compile(rb"<\s*(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_KINDS = {b"rss": "rss", b"feed": "atom", b"RDF": "rdf", b"channel": "rss"}


def sniff_kind(body: bytes) -> str:
    """A cheap guess at what a body is: rss, atom, rdf, json, html or unknown."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        return "json"
    pos = 0
    while (m := _ROOT.search(head, pos)) is not None:
        name = m.group(1)
        if head[m.start() : m.start() + 2] in (b"<?", b"<!"):
            pos = m.end()
            continue
        if name.lower() in (b"html", b"head", b"body"):
            return "html"
        return _KINDS.get(name, "unknown")
    return "html" if b"<!doctype html" in head.lower() else "unknown"


_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=", re.IGNORECASE)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


def charset_of(content_type: str) -> str | None:
    found = _CHARSET.search(content_type or "")
    return found.group(1) if found else None


def apply_charset(body: bytes, charset: str | None) -> bytes:
    """Encodings, in order of authority: a byte-order mark, the XML declaration, the
    HTTP header's charset, then detection (only for bodies that are not UTF-8). The
    chosen encoding is applied by transcoding to UTF-8, invalid bytes replaced."""
    if body.startswith(_BOMS) or _DECLARED.match(body[:512]) or body.lstrip()[:1] in (b"{", b"["):
        return body
    if charset:
        try:
            return body.decode(charset, errors="replace").encode("utf-8")
        except LookupError:  # a charset Python does not know: detect instead
            pass
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        return body.decode(detect_encoding(body), errors="replace").encode("utf-8")


_WESTERN = {"cp1252", "latin_1", "iso8859_15"}


def detect_encoding(body: bytes) -> str:
    """The likeliest encoding of a body that is not UTF-8. When single-byte code pages
    tie (short texts often do), windows-1252 wins: it is by far the commonest legacy
    encoding on the web."""
    results = list(charset_normalizer.from_bytes(body[:65536]))
    if not results:
        return "windows-1252"
    best = results[0]
    tied = {m.encoding for m in results if m.chaos <= best.chaos + 0.01}
    return "windows-1252" if tied & _WESTERN else best.encoding


def parse_feed(
    body: bytes, feed_id: FeedId, base_url: str = "", *, max_entries: int = DEFAULT_MAX_ENTRIES,
    charset: str | None = None, known: Container[str] | None = None,
) -> ParsedFeed:
    """Parse a feed body, or raise FeedError saying what it was instead. `charset` is
    the HTTP header's, if any. Entries whose key is in `known` (seen before) are only
    counted in `known_keys`: turning HTML into text and canonicalising links is the cost
    of parsing, and only new entries need it."""
    body = apply_charset(body, charset)
    kind = sniff_kind(body)
    if not body or body.isspace():  # isspace stops at the first other byte; strip would copy the body
        raise FeedError("not_a_feed", _("the body is empty"))
    def seen(entry_id: str) -> str | None:
        """The entry's key when it is known, else None."""
        key = key_of(feed_id, entry_id) if entry_id else ""
        return key if key and known is not None and key in known else None

    raw = _read(body, kind, base_url, seen if known else None, max_entries)
    feed = raw.get("feed") or {}
    link = _absolute(str(feed.get("link") or ""), base_url)
    entries = []
    skipped: list[str] = []
    for item in list(raw.get("entries") or [])[:max_entries]:
        if known is not None:
            # the reader marks what it found known (and then read no further); what it
            # did not ask about (the second reader's entries) is asked about here
            key = item.get("key") if raw.get("known_checked") else seen(_quick_id(item, link or base_url) or "")
            if key:
                skipped.append(key)
                continue
        entry = _entry(item, feed_id, link or base_url)
        if entry is None:
            continue
        if known is not None and (own := key_of(feed_id, entry.id)) in known:
            skipped.append(own)  # known only by what it says (no id, no link): found out once normalised
            continue
        entries.append(entry)
    return ParsedFeed(
        title=_text(str(feed.get("title") or "")),
        link=link,
        entries=tuple(entries),
        kind=kind if kind in ("rss", "atom", "rdf", "json") else "rss",
        ttl=_ttl(body) if kind == "rss" else None,
        known_keys=tuple(skipped),
    )


def _read(body: bytes, kind: str, base_url: str, seen: xmlfeed.Known | None = None,
          limit: int | None = None) -> Mapping[str, Any]:
    """The feed as plain dicts: XML formats by tipoff's own reader (xmlfeed.py), JSON Feed
    (and what the reader does not take) by fastfeedparser."""
    if kind in ("rss", "atom", "rdf", "unknown"):
        try:
            return xmlfeed.read(body, base_url, seen, limit)
        except (xmlfeed.NotXmlFeed, etree.XMLSyntaxError, ValueError):
            pass
        except Exception:  # the reader must never take the poller down: the library may still read it
            pass
    if kind == "json":
        body = body.lstrip(b"\xef\xbb\xbf \t\r\n")  # a byte-order mark before the JSON
    try:
        return dict(fastfeedparser.parse(body))
    except ValueError as exc:
        raise _explain(kind, str(exc), body) from None
    except Exception as exc:  # the parser must never take the poller down
        raise FeedError("malformed", f"{type(exc).__name__}: {exc}"[:300]) from None


_TTL = re.compile(rb"<ttl>\s*(\d{1,6})\s*</ttl>", re.IGNORECASE)


def _ttl(body: bytes) -> float | None:
    """RSS <ttl>: minutes the channel may be cached (looked for before the first item)."""
    end = body.find(b"<item")
    found = _TTL.search(body, 0, end if end >= 0 else 65536)
    return float(found.group(1)) * 60 if found else None


def _explain(kind: str, message: str, body: bytes) -> FeedError:
    if kind == "html" or "HTML" in message:
        return FeedError("not_a_feed", _("received an HTML page, not a feed"))
    if kind == "unknown" and "Unknown feed type" in message:
        return FeedError("not_a_feed", message.replace("Unknown feed type", "unknown document type"))
    where = locate_syntax_error(body, kind)
    return FeedError("malformed", (f"{where}; " if where else "") + message[:300])


_STRICT = xmlfeed.ThreadParsers(recover=False)


def locate_syntax_error(body: bytes, kind: str) -> str | None:
    """Where a document stops being well-formed: 'line 3, column 14: ...'."""
    if kind == "json":
        try:
            json.loads(body)
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                return f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        return None
    try:
        etree.fromstring(body, _STRICT.parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        return f"line {line}, column {column}: {exc.msg}"
    return None


def _absolute(link: str, base: str) -> str:
    link = link.strip()
    if not link or link.startswith(("https://", "http://")):
        return link
    try:
        return urljoin(base, link) if base else link
    except ValueError:
        return link


def _text(value: Any) -> str:
    return repair_mojibake(html_to_text(value)) if isinstance(value, str) else ""


def _entry(item: Mapping[str, Any], feed_id: FeedId, base: str) -> Entry | None:
    title = _text(item.get("title"))
    description = item.get("description")
    summary_html = description if isinstance(description, str) else ""
    content_html = _content_html(item)
    summary = _text(summary_html)
    content = _text(content_html)
    if content == summary:
        content = ""
    link = _absolute(str(item.get("link") or ""), base)
    if not (title or summary or content or link):
        return None
    return Entry(
        feed_id=feed_id,
        id=_stable_id(item, link, title, summary),
        url=canonical_url(link),
        link=link,
        title=title,
        summary=summary,
        content=content,
        authors=_authors(item),
        tags=tuple(dict.fromkeys(t for t in _tags(item) if t)),
        published=_when(item.get("published")),
        updated=_when(item.get("updated")),
        image=_image(item, summary_html, content_html, base),
        source=_source(item),
    )


def _source(item: Mapping[str, Any]) -> str:
    """The outlet an aggregated item names (RSS <source>, JSON Feed's or the library's
    source title), as plain text."""
    source = item.get("source")
    if isinstance(source, Mapping):
        source = source.get("title") or source.get("value") or ""
    return " ".join(_text(source).split())[:200] if isinstance(source, str) else ""


def _content_html(item: Mapping[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("value"), str):
                return str(part["value"])
    return content if isinstance(content, str) else ""


def _guid(item: Mapping[str, Any]) -> str | None:
    guid = item.get("id")
    return str(guid).strip() or None if isinstance(guid, (str, int)) else None


def _quick_id(item: Mapping[str, Any], base: str) -> str | None:
    """The id _stable_id gives an entry, when it can be had without normalising it (a
    guid, or the link); None for entries identified by their text."""
    return _guid(item) or _absolute(str(item.get("link") or ""), base) or None


def _stable_id(item: Mapping[str, Any], link: str, title: str, summary: str) -> str:
    guid = _guid(item)
    if guid:
        return guid
    if link:
        return link
    return "h:" + hashlib.sha256(f"{title}\x00{summary}".encode()).hexdigest()[:32]


def _authors(item: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for a in item.get("authors") or ():
        if isinstance(a, Mapping) and a.get("name"):
            names.append(collapse(str(a["name"])))
    if not names and isinstance(item.get("author"), str):
        names.append(collapse(item["author"]))
    return tuple(dict.fromkeys(n for n in names if n))


def _tags(item: Mapping[str, Any]) -> list[str]:
    out = []
    for t in item.get("tags") or ():
        if isinstance(t, Mapping):
            out.append(collapse(str(t.get("label") or t.get("term") or "")))
        elif isinstance(t, str):
            out.append(collapse(t))
    return out


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    try:
        return dt.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return None


def _image(item: Mapping[str, Any], summary_html: str, content_html: str, base: str) -> str | None:
    candidates: list[Any] = []
    if isinstance(item.get("image"), str):
        candidates.append(item["image"])
    for key in ("media_thumbnail", "media_content", "enclosures"):
        for media in item.get(key) or ():
            if not isinstance(media, Mapping):
                continue
            mtype = str(media.get("type") or "")
            medium = str(media.get("medium") or "")
            if key == "media_thumbnail" or medium == "image" or mtype.startswith("image/"):
                candidates.append(media.get("url") or media.get("href"))
            elif key == "media_content" and not mtype and not medium and _looks_like_image(media.get("url")):
                candidates.append(media.get("url"))
    candidates.append(first_image(content_html) or first_image(summary_html))
    for c in candidates:
        if isinstance(c, str) and c.strip():
            url = _absolute(c, base)
            if url.startswith(("http://", "https://")):
                return url
    return None


def _looks_like_image(url: Any) -> bool:
    return isinstance(url, str) and bool(re.search(r"\.(jpe?g|png|gif|webp|avif)(\?|$)", url, re.I))
