"""Reading only what changed in a changed body.

Most feeds that change gain an entry or two at the top (and often lose one at the
bottom), and many rewrite their header on every request (a new lastBuildDate defeats
conditional GET and the body hash). The entries in between are byte for byte what the
last body held. A body's *layout* is a short digest of each entry's bytes, in order;
when the next body holds a run of entries whose digests continue a run of the last
layout, those entries are cut out and only the rest of the document (header, the
entries around the run, what follows the last entry) is parsed.

Everything here guards its own guesses, and any doubt means a full parse:
- a layout is kept only when the byte-level entry markers agree exactly with the
  entries the reader found (a marker in a comment or CDATA, an item the reader drops,
  an entry cap reached: no layout);
- the cut may only remove entries and white space between them;
- the shorter document must read as exactly the entries left in it.

Entries inside the reused run are neither normalised nor stamped as seen; a full parse
at least every `refresh` seconds stamps them again, well inside the retention that would
otherwise forget them. The decisions are pure functions (`entry_spans`, `reusable_run`,
`cut`); `Layouts` keeps the last layout of each feed in memory (a cache: after a
restart the first change of each feed is parsed in full)."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, replace
from typing import Container, Iterable

from bot.feeds.errors import FeedError
from bot.feeds.parse import DEFAULT_MAX_ENTRIES, apply_charset, parse_feed, sniff_kind
from bot.model import FeedId, ParsedFeed

REFRESH = 86400.0  # a feed that keeps changing is still read in full once a day
DIGEST = 8  # bytes of each entry's digest (a false match would need a 64-bit collision)
_STAMP = struct.Struct(">I")  # when the layout's feed was last parsed in full (POSIX seconds)
_OPEN = {"rss": re.compile(rb"<item[\s>/]"), "rdf": re.compile(rb"<item[\s>/]"),
         "atom": re.compile(rb"<entry[\s>/]")}
_CLOSE = {"rss": b"</item", "rdf": b"</item", "atom": b"</entry"}


@dataclass(frozen=True, slots=True)
class Span:
    start: int  # where the entry's start tag begins
    end: int  # just after its end tag


def entry_spans(body: bytes, kind: str) -> list[Span] | None:
    """Where each entry of an RSS, RDF or Atom body starts and ends, by its unprefixed
    start and end tags; None when the bytes do not split cleanly (an entry with no end
    tag before the next one starts, a format without a layout)."""
    opener, closer = _OPEN.get(kind), _CLOSE.get(kind)
    if opener is None or closer is None:
        return None
    starts = [m.start() for m in opener.finditer(body)]
    spans = []
    for i, start in enumerate(starts):
        limit = starts[i + 1] if i + 1 < len(starts) else len(body)
        close = body.rfind(closer, start, limit)
        if close < 0:
            return None
        gt = body.find(b">", close, limit)
        if gt < 0:
            return None
        spans.append(Span(start, gt + 1))
    return spans


def digests(body: bytes, spans: list[Span]) -> bytes:
    """Each span's 64-bit digest, packed. Python's own keyed hash of the bytes (SipHash,
    seeded per process): five times faster than BLAKE2b here, and a layout never leaves
    the process that made it."""
    view = memoryview(body)
    return struct.pack(f"{len(spans)}q", *(hash(view[s.start:s.end]) for s in spans))


def reusable_run(new: bytes, old: bytes) -> tuple[int, int] | None:
    """The first run of entries (by digest) in the new layout that continues a run of
    the old one, as [first, last + 1) of the new entries; None when no entry is reused."""
    old_at: dict[bytes, int] = {}
    for i in range(len(old) // DIGEST - 1, -1, -1):
        old_at[old[i * DIGEST:(i + 1) * DIGEST]] = i  # an entry repeated: its first place
    count = len(new) // DIGEST
    for j in range(count):
        at = old_at.get(new[j * DIGEST:(j + 1) * DIGEST])
        if at is None:
            continue
        k = j + 1  # the old layout past its end slices to b"", which no digest equals
        while k < count and old[(at + k - j) * DIGEST:(at + k - j + 1) * DIGEST] == new[k * DIGEST:(k + 1) * DIGEST]:
            k += 1
        return j, k
    return None


def cut(body: bytes, spans: list[Span], runs: list[tuple[int, int]]) -> bytes | None:
    """The body without the entries of `runs` (ascending, apart); None when anything but
    white space lies between the entries of a run (a channel element among the items
    must still be read)."""
    parts, at = [], 0
    for first, last in runs:
        for a, b in zip(spans[first:last - 1], spans[first + 1:last]):
            gap = body[a.end:b.start]
            if gap and not gap.isspace():
                return None
        parts.append(body[at:spans[first].start])
        at = spans[last - 1].end
    parts.append(body[at:])
    return b"".join(parts)


def _read_count(parsed: ParsedFeed) -> int:
    return len(parsed.entries) + len(parsed.known_keys)


class Layouts:
    """The last layout of each feed, and the parse that uses it."""

    def __init__(self, refresh: float) -> None:
        self.refresh = refresh  # a full parse at least this often (seconds)
        self._last: dict[FeedId, bytes] = {}  # stamp + digests

    @classmethod
    def within(cls, retention: float) -> "Layouts":
        """Full parses often enough that no reused entry's seen-stamp nears the retention."""
        return cls(min(REFRESH, retention / 4))

    def keep(self, feed_ids: Iterable[FeedId]) -> None:
        """Forget the layouts of feeds no longer polled (removed from the config and every chat)."""
        kept = set(feed_ids)
        for feed_id in [f for f in list(self._last) if f not in kept]:  # list(): parse threads may add meanwhile
            self._last.pop(feed_id, None)

    def parse(self, body: bytes, feed_id: FeedId, base_url: str = "", *, now: float, reuse: bool = True,
              max_entries: int = DEFAULT_MAX_ENTRIES, charset: str | None = None,
              known: Container[str] | None = None) -> ParsedFeed:
        """parse_feed, reading again only entries that are not byte for byte in the
        feed's last layout. `reuse` False (a feed's first poll: its store knows none of
        its entries, whatever this process saw before) reads everything. Raises
        FeedError as parse_feed does."""
        body = apply_charset(body, charset)  # digests and the cut see what the reader sees
        kind = sniff_kind(body)
        spans = entry_spans(body, kind) if known is not None else None
        if not spans:
            self._last.pop(feed_id, None)
            return parse_feed(body, feed_id, base_url, max_entries=max_entries, known=known)
        read = min(len(spans), max_entries)  # the reader reads no further than max_entries
        beyond = [(read, len(spans))] if read < len(spans) else []  # never read: not parsed either
        layout = digests(body, spans[:read])
        last = self._last.get(feed_id) if reuse else None
        if last is not None and now - _STAMP.unpack_from(last)[0] < self.refresh:
            run = reusable_run(layout, last[_STAMP.size:])
            if run is not None and (parsed := self._read(body, feed_id, base_url, spans, [run, *beyond],
                                                         read - (run[1] - run[0]), max_entries, known)) is not None:
                self._last[feed_id] = last[:_STAMP.size] + layout
                return replace(parsed, reused=run[1] - run[0])
        parsed = (self._read(body, feed_id, base_url, spans, beyond, read, max_entries, known) if beyond else None) \
            or parse_feed(body, feed_id, base_url, max_entries=max_entries, known=known)
        if _read_count(parsed) == read:
            self._last[feed_id] = _STAMP.pack(int(now) & 0xFFFFFFFF) + layout
        else:
            self._last.pop(feed_id, None)
        return parsed

    @staticmethod
    def _read(body: bytes, feed_id: FeedId, base_url: str, spans: list[Span], runs: list[tuple[int, int]],
              count: int, max_entries: int, known: Container[str] | None) -> ParsedFeed | None:
        """The body without `runs`, parsed; None unless it reads as exactly `count` entries
        (a shorter document the reader refuses is a doubt too: the whole body decides)."""
        doc = cut(body, spans, runs)
        if doc is None:
            return None
        try:
            parsed = parse_feed(doc, feed_id, base_url, max_entries=max_entries, known=known)
        except FeedError:
            return None
        return parsed if _read_count(parsed) == count else None
