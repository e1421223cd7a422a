"""Reading only what changed in a changed body (bot/feeds/layout.py): the byte-level
decisions, each guard with a feed written for it, and the result on every corpus feed
compared with a full parse of the same body."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.dedupe import key_of
from bot.feeds import xmlfeed
from bot.feeds.errors import FeedError
from bot.feeds.layout import DIGEST, Layouts, Span, cut, digests, entry_spans, reusable_run
from bot.feeds.parse import parse_feed, sniff_kind
from bot.model import ParsedFeed

URL = "https://feed.example/rss"


def rss(items: list[str], *, built: str = "Mon, 02 Nov 2026 10:00:00 GMT", between: str = "\n",
        head: str = "") -> bytes:
    body = between.join(f"<item><title>{t}</title><link>https://feed.example/{t.split()[0]}</link>"
                        f"<guid>{t.split()[0]}</guid></item>" for t in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>'
            f"<link>https://feed.example/</link><lastBuildDate>{built}</lastBuildDate>{head}\n{body}\n"
            "</channel></rss>").encode()


def atom(entries: list[str], updated: str = "2026-11-02T10:00:00Z") -> bytes:
    body = "".join(f'<entry><title>{t}</title><link href="https://feed.example/{t}"/><id>urn:{t}</id>'
                   f"<updated>{updated}</updated></entry>\n" for t in entries)
    return (f'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><updated>{updated}</updated>'
            f"<id>urn:feed</id>\n{body}</feed>").encode()


def known_after(parsed: ParsedFeed, feed_id: str = "f") -> set[str]:
    return set(parsed.known_keys) | {key_of(feed_id, e.id) for e in parsed.entries}


def two_reads(first: bytes, second: bytes, **kw) -> tuple[ParsedFeed, ParsedFeed]:
    """The second body read by Layouts after the first (its entries then known), and
    by a plain full parse: what the layout path must agree with."""
    layouts = Layouts(refresh=3600)
    known = known_after(layouts.parse(first, "f", URL, now=1000, reuse=False, known=set(), **kw))
    return layouts.parse(second, "f", URL, now=1060, known=known, **kw), parse_feed(second, "f", URL, known=known, **kw)


# -- the byte-level decisions -------------------------------------------------------

def test_entry_spans_cover_each_entry_from_start_tag_to_end_tag():
    body = rss(["a one", "b two"])
    spans = entry_spans(body, "rss")
    assert [body[s.start:s.end] for s in spans] == [
        b"<item><title>a one</title><link>https://feed.example/a</link><guid>a</guid></item>",
        b"<item><title>b two</title><link>https://feed.example/b</link><guid>b</guid></item>"]
    assert len(entry_spans(atom(["x", "y", "z"]), "atom")) == 3


def test_entry_spans_ignore_lookalikes_and_refuse_what_does_not_split():
    rdf = (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
           b'<channel><items><rdf:Seq/></items></channel><item rdf:about="u"><title>t</title></item>'
           b'<media:item/></rdf:RDF>')
    assert len(entry_spans(rdf, "rdf")) == 1  # <items> and <media:item> are not entries
    assert entry_spans(b"<rss><channel><item><title>x</title><item><title>y</title></item></channel></rss>",
                       "rss") is None  # an entry with no end tag before the next one
    assert entry_spans(b'{"items": []}', "json") is None


def test_reusable_run_finds_the_entries_that_continue_the_last_layout():
    def layout(*names: str) -> bytes:
        return b"".join(n.encode().ljust(DIGEST, b".") for n in names)
    old = layout("a", "b", "c", "d")
    assert reusable_run(layout("new", "a", "b", "c", "d"), old) == (1, 5)  # one added at the top
    assert reusable_run(layout("new", "a", "b", "c"), old) == (1, 4)  # and the oldest dropped
    assert reusable_run(layout("a", "b", "c", "d", "e"), old) == (0, 4)  # added at the end
    assert reusable_run(layout("a", "B", "c", "d"), old) == (0, 1)  # one edited: the run stops there
    assert reusable_run(layout("x", "y"), old) is None


def test_cut_removes_runs_and_refuses_a_run_with_anything_but_white_space_inside():
    body = b"<h/><i>1</i> <i>2</i>\n<i>3</i><t/>"
    spans = [Span(4, 12), Span(13, 21), Span(22, 30)]
    assert cut(body, spans, [(0, 2)]) == b"<h/>\n<i>3</i><t/>"
    assert cut(body, spans, [(1, 3)]) == b"<h/><i>1</i> <t/>"
    assert cut(body, spans, [(0, 1), (2, 3)]) == b"<h/> <i>2</i>\n<t/>"
    inside = b"<h/><i>1</i><x/><i>2</i>"
    assert cut(inside, [Span(4, 12), Span(16, 24)], [(0, 2)]) is None


def test_digests_are_per_entry_and_change_with_any_byte():
    body = rss(["a one", "b two"])
    spans = entry_spans(body, "rss")
    assert len(digests(body, spans)) == 2 * DIGEST
    edited = body.replace(b"b two", b"b twO")
    assert digests(body, spans)[:DIGEST] == digests(edited, spans)[:DIGEST]
    assert digests(body, spans)[DIGEST:] != digests(edited, spans)[DIGEST:]


# -- Layouts.parse: only what changed is read, the result is a full parse's ---------

def test_new_entries_on_top_of_a_rewritten_header_are_all_that_is_read():
    old = rss([f"e{i} story" for i in range(10)])
    new = rss(["n1 fresh", "n2 fresh"] + [f"e{i} story" for i in range(10)], built="Mon, 02 Nov 2026 10:05:00 GMT")
    ours, full = two_reads(old, new)
    assert ours.reused == 10 and ours.known_keys == ()
    assert ours.entries == full.entries and [e.title for e in ours.entries] == ["n1 fresh", "n2 fresh"]
    assert (ours.title, ours.link, ours.kind) == (full.title, full.link, full.kind)


def test_a_sliding_window_reuses_what_stayed():
    old = atom([f"e{i}" for i in range(8)])
    new = atom(["n"] + [f"e{i}" for i in range(7)], updated="2026-11-02T10:05:00Z")
    ours, full = two_reads(old, new)
    assert ours.entries == full.entries and [e.title for e in ours.entries] == ["n"]
    assert ours.reused == 0  # every entry's <updated> changed with the feed's: nothing is byte for byte the same
    same_dates = atom(["n"] + [f"e{i}" for i in range(7)])
    ours, full = two_reads(old, same_dates)
    assert ours.reused == 7 and ours.entries == full.entries


def test_an_edited_entry_is_read_again():
    old = rss([f"e{i} story" for i in range(6)])
    new = rss(["e0 story", "e1 story", "e2 story CORRECTED", "e3 story", "e4 story", "e5 story"])
    ours, full = two_reads(old, new)
    assert ours.reused == 2  # e0, e1; from the edit on, everything is read
    assert ours.entries == full.entries == ()
    assert key_of("f", "e2") in ours.known_keys  # read (its guid is known), not skipped unseen


@pytest.mark.parametrize("head", [
    "<!-- <item><title>commented out</title></item> -->",  # the reader drops comments: markers disagree
    "<description><![CDATA[<item>not an item</item>]]></description>",
])
def test_markers_the_reader_does_not_count_leave_no_layout(head):
    old = rss([f"e{i} story" for i in range(4)], head=head)
    new = rss(["n fresh"] + [f"e{i} story" for i in range(4)], head=head)
    ours, full = two_reads(old, new)
    assert ours.reused == 0 and ours.entries == full.entries


def test_a_channel_element_among_the_items_is_never_cut_out():
    old = rss(["e0 story", "e1 story", "e2 story"], between="<ttl>30</ttl>")
    new = rss(["n fresh", "e0 story", "e1 story", "e2 story"], between="<ttl>30</ttl>")
    ours, full = two_reads(old, new)
    assert ours.reused == 0 and ours.entries == full.entries


def test_an_entry_the_reader_drops_leaves_no_layout():
    old = rss(["e0 story", "e1 story"]).replace(b"</channel>", b"<item></item></channel>")
    layouts = Layouts(refresh=3600)
    layouts.parse(old, "f", URL, now=1000, reuse=False, known=set())
    assert "f" not in layouts._last  # two items read, three markers: no layout to trust


def test_past_the_refresh_everything_is_read_again_and_stamped():
    old = rss([f"e{i} story" for i in range(5)])
    new = rss(["n fresh"] + [f"e{i} story" for i in range(5)])
    layouts = Layouts(refresh=3600)
    known = known_after(layouts.parse(old, "f", URL, now=1000, reuse=False, known=set()))
    assert layouts.parse(new, "f", URL, now=1000 + 3599, known=known).reused == 5
    later = layouts.parse(new, "f", URL, now=1000 + 3600, known=known)
    assert later.reused == 0 and len(later.known_keys) == 5  # all present again: their seen-stamps renewed
    assert layouts.parse(new, "f", URL, now=1000 + 3601, known=known).reused == 6


def test_a_first_poll_reads_everything_whatever_was_seen_before():
    old = rss([f"e{i} story" for i in range(3)])
    layouts = Layouts(refresh=3600)
    layouts.parse(old, "f", URL, now=1000, reuse=False, known=set())
    again = layouts.parse(old, "f", URL, now=1001, reuse=False, known=set())  # a feed removed and added again
    assert again.reused == 0 and len(again.entries) == 3


def test_entries_past_the_cap_are_not_parsed_and_the_window_is_reused():
    old = rss([f"e{i} story" for i in range(12)])
    new = rss(["n fresh"] + [f"e{i} story" for i in range(12)])
    ours, full = two_reads(old, new, max_entries=5)
    assert ours.reused == 4 and ours.entries == full.entries and [e.title for e in ours.entries] == ["n fresh"]
    first = Layouts(refresh=3600).parse(old, "f", URL, now=1, reuse=False, known=set(), max_entries=5)
    assert len(first.entries) == 5


def test_a_legacy_encoding_without_a_declaration_reads_the_same():
    old = rss(["e0 København", "e1 Århus"]).replace(b' encoding="utf-8"', b"")
    new = rss(["n Brøndby"] + ["e0 København", "e1 Århus"]).replace(b' encoding="utf-8"', b"")
    ours, full = two_reads(old.decode().encode("latin-1"), new.decode().encode("latin-1"), charset="iso-8859-1")
    assert ours.reused == 2 and [e.title for e in ours.entries] == ["n Brøndby"] == [e.title for e in full.entries]


def test_a_shorter_document_the_reader_refuses_falls_back_to_the_whole_body(monkeypatch):
    from bot.feeds import layout

    old = rss([f"e{i} story" for i in range(3)])
    new = rss(["n fresh"] + [f"e{i} story" for i in range(3)])
    layouts = Layouts(refresh=3600)
    known = known_after(layouts.parse(old, "f", URL, now=1000, reuse=False, known=set()))
    real = layout.parse_feed

    def refuse_short(body, *a, **kw):
        if len(body) < len(new):
            raise FeedError("malformed", "cut too short")
        return real(body, *a, **kw)
    monkeypatch.setattr(layout, "parse_feed", refuse_short)
    parsed = layouts.parse(new, "f", URL, now=1001, known=known)
    assert parsed.reused == 0 and [e.title for e in parsed.entries] == ["n fresh"]


def test_layouts_of_feeds_no_longer_polled_are_forgotten():
    layouts = Layouts(refresh=3600)
    for fid in ("a", "b"):
        layouts.parse(rss(["e0 story", "e1 story"]), fid, URL, now=1, reuse=False, known=set())
    layouts.keep(["b"])
    assert set(layouts._last) == {"b"}


def test_a_body_that_is_not_a_feed_still_says_so():
    layouts = Layouts(refresh=3600)
    with pytest.raises(FeedError):
        layouts.parse(b"<html><body>moved</body></html>", "f", URL, now=1, known=set())


def test_each_thread_parses_with_its_own_lxml_parser():
    """A shared parser is locked while it parses: the event loop would wait out a
    thread's parse of a big body."""
    seen = []
    thread = threading.Thread(target=lambda: seen.append(xmlfeed._PARSERS.parser))
    thread.start()
    thread.join()
    assert seen[0] is not xmlfeed._PARSERS.parser


# -- every corpus feed ----------------------------------------------------------------

def _new_entry(kind: str) -> bytes:
    if kind == "atom":
        return (b'<entry><title>Layout probe</title><link href="https://probe.example/1"/>'
                b"<id>urn:probe:1</id><updated>2026-11-26T10:00:00Z</updated></entry>")
    return b"<item><title>Layout probe</title><link>https://probe.example/1</link><guid>probe-1</guid></item>"


def _edit_title(span: bytes) -> bytes | None:
    at = span.find(b"<title")
    end = span.find(b">", at)
    return None if at < 0 or end < 0 or span[end - 1:end] == b"/" else span[:end + 1] + b"Edited " + span[end + 1:]


def changes(body: bytes) -> dict[str, bytes]:
    """The changes feeds make between polls, applied to a real body."""
    kind = sniff_kind(body)
    spans = entry_spans(body, kind)
    if not spans or len(spans) < 3:
        return {}
    top, last, mid = spans[0], spans[-1], spans[len(spans) // 2]
    out = {"added on top": body[:top.start] + _new_entry(kind) + b"\n" + body[top.start:],
           "window slid": body[:top.start] + _new_entry(kind) + b"\n" + body[top.start:last.start] + body[last.end:]}
    if (edited := _edit_title(body[mid.start:mid.end])) is not None:
        out["one edited"] = body[:mid.start] + edited + body[mid.end:]
    return out


def test_on_every_corpus_feed_the_layout_path_reads_what_a_full_parse_reads(corpus: Path):
    compared: dict[str, int] = {}
    reused: dict[str, int] = {}
    for path in sorted(p for folder in ("real", "edge") for p in (corpus / folder).rglob("*")
                       if p.is_file() and p.suffix in (".xml", ".rss", ".atom", ".rdf")):
        body = path.read_bytes()
        layouts = Layouts(refresh=3600)
        try:
            known = known_after(layouts.parse(body, "f", URL, now=1000, reuse=False, known=set()))
        except FeedError:
            continue
        for change, second in changes(body).items():
            run = Layouts(refresh=3600)
            run._last = dict(layouts._last)
            try:
                full = parse_feed(second, "f", URL, known=known)
            except FeedError:
                continue
            ours = run.parse(second, "f", URL, now=1060, known=known)
            where = f"{path.relative_to(corpus)} ({change})"
            assert ours.entries == full.entries, where
            assert set(ours.known_keys) <= set(full.known_keys), where
            assert len(ours.entries) + len(ours.known_keys) + ours.reused == len(full.entries) + len(full.known_keys), where
            assert (ours.title, ours.link) == (full.title, full.link), where
            compared[change] = compared.get(change, 0) + 1
            reused[change] = reused.get(change, 0) + (ours.reused > 0)
    print(f"\nchanged bodies compared: {compared}; with entries reused: {reused}")
    assert sum(compared.values()) > 120  # the real corpus holds ~45 feeds of three entries or more
    for change, count in compared.items():
        assert reused[change] >= 0.9 * count, change
