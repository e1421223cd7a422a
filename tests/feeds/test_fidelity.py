"""Each defect of issue 18 with a feed written for it: what tipoff gives must be what the
formats say (the real files these were found in are kept apart to check the result)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.feeds.parse import parse_feed

DOC = "https://doc.example/feeds/feed.xml"


def first(body: bytes):
    return parse_feed(body, "f", DOC).entries[0]


def rss(items: str, extra_ns: str = "") -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"{extra_ns}><channel><title>T</title>'
            f'<link>https://site.example/</link>{items}</channel></rss>').encode()


def test_an_rss_link_after_an_atom_link_is_the_items_link():
    body = rss('<item><title>x</title><atom:link rel="standout" href="https://n.example/standout"/>'
               '<atom:link rel="amphtml" href="https://n.example/amp"/><link>https://n.example/real</link></item>',
               ' xmlns:atom="http://www.w3.org/2005/Atom"')
    assert first(body).link == "https://n.example/real"


def test_an_atom_link_without_rel_is_the_alternate_one():
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>x</title><id>urn:1</id>'
            b'<link rel="related" href="https://v.example/related"/><link rel="self" href="https://v.example/self"/>'
            b'<link rel="enclosure" href="https://v.example/e.mp3"/><link href="https://v.example/post"/></entry></feed>')
    assert first(body).link == "https://v.example/post"


def test_relative_links_resolve_against_nested_xml_base_then_the_documents_address():
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://b.example/blog/"><title>t</title>'
            b'<link href="https://elsewhere.example/"/><entry xml:base="2021/"><title>x</title><id>urn:1</id>'
            b'<link href="post.html"/></entry><entry><title>y</title><id>urn:2</id><link href="/top"/></entry></feed>')
    entries = parse_feed(body, "f", DOC).entries
    assert [e.link for e in entries] == ["https://b.example/blog/2021/post.html", "https://b.example/top"]
    plain = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><link href="https://elsewhere.example/"/>'
             b'<entry><title>x</title><id>urn:1</id><link href="item/1"/></entry></feed>')
    assert first(plain).link == "https://doc.example/feeds/item/1"  # the document, not the feed's <link>


def test_an_unescaped_ampersand_stays_in_links_and_guids():
    body = rss("<item><title>x</title><link>https://a.example/bad?foo=1&bar=2</link>"
               "<guid>https://a.example/g?x=1&y=2</guid></item>")
    e = first(body)
    assert e.link == "https://a.example/bad?foo=1&bar=2" and e.id == "https://a.example/g?x=1&y=2"


@pytest.mark.parametrize("title, text", [
    ("Nice &lt;gorilla&gt; what's he weigh?", "Nice <gorilla> what's he weigh?"),
    ("Use the &lt;dialog&gt; element", "Use the <dialog> element"),
    ("A &lt;b&gt;bold&lt;/b&gt; move", "A bold move"),  # real markup: HTML
    ("Tom &amp; Jerry", "Tom & Jerry"),
])
def test_a_title_is_text_unless_it_holds_real_markup(title, text):
    assert first(rss(f"<item><title>{title}</title><link>https://a.example/1</link></item>")).title == text


def test_atom_text_and_html_titles_follow_their_type():
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
            b'<entry><title type="text">Use the &lt;dialog&gt; element</title><id>urn:1</id></entry>'
            b'<entry><title type="html">&lt;em&gt;Lady Gaga&lt;/em&gt; news</title><id>urn:2</id></entry></feed>')
    assert [e.title for e in parse_feed(body, "f", DOC).entries] == ["Use the <dialog> element", "Lady Gaga news"]


def test_rss_090_is_read():
    body = (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            b'xmlns="http://my.netscape.com/rdf/simple/0.9/"><channel><title>Old</title>'
            b'<link>https://old.example/</link></channel><item><title>First</title><link>https://old.example/1</link>'
            b'</item><item><title>Second</title><link>https://old.example/2</link></item></rdf:RDF>')
    feed = parse_feed(body, "f", DOC)
    assert feed.title == "Old" and [e.title for e in feed.entries] == ["First", "Second"]


def test_a_json_feed_with_a_byte_order_mark_is_read():
    body = ('\ufeff{"version": "https://jsonfeed.org/version/1.1", "title": "JF", '
            '"items": [{"id": "1", "url": "https://jf.example/1", "title": "JSON item"}]}').encode()
    assert first(body).title == "JSON item"


@pytest.mark.parametrize("written, utc", [
    ("Friday, January 29, 2021 04:42 PM", datetime(2021, 1, 29, 16, 42, tzinfo=timezone.utc)),
    ("Fri, 29 Jan 2021 4:42 pm EST", datetime(2021, 1, 29, 21, 42, tzinfo=timezone.utc)),
    ("Fri, 29 Jan 2021 16:42:00 BST", datetime(2021, 1, 29, 15, 42, tzinfo=timezone.utc)),  # not read as UTC
    ("Tue, 24 Nov 2026 18:30:00 +0100", datetime(2026, 11, 24, 17, 30, tzinfo=timezone.utc)),
    ("2026-11-24T19:05:00Z", datetime(2026, 11, 24, 19, 5, tzinfo=timezone.utc)),
])
def test_dates_keep_their_am_pm_and_zones(written, utc):
    body = rss(f"<item><title>x</title><link>https://a.example/1</link><pubDate>{written}</pubDate></item>")
    assert first(body).published == utc


def test_xhtml_titles_and_summaries_and_dc_titles_are_kept():
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title type="xhtml">'
            b'<div xmlns="http://www.w3.org/1999/xhtml">Less <b>is</b> more</div></title><summary type="xhtml">'
            b'<div xmlns="http://www.w3.org/1999/xhtml"><p>The summary</p></div></summary><id>urn:1</id>'
            b'<link href="https://x.example/1"/></entry><entry><dc:title xmlns:dc="http://purl.org/dc/elements/1.1/">'
            b'Only a dc:title</dc:title><id>urn:2</id><link href="https://x.example/2"/></entry></feed>')
    a, b = parse_feed(body, "f", DOC).entries
    assert (a.title, a.summary, b.title) == ("Less is more", "The summary", "Only a dc:title")


def test_an_atom_entry_without_links_links_to_its_http_id():
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>x</title>'
            b'<id>https://adobe.example/post/1</id></entry><entry><title>y</title><id>tag:a,2021:2</id></entry></feed>')
    a, b = parse_feed(body, "f", DOC).entries
    assert (a.link, b.link) == ("https://adobe.example/post/1", "")


def test_mojibake_is_repaired_where_it_is_unambiguous():
    inner = "<item><title>BrÃ¸ndby wins; itâ€™s a duet</title><link>https://a.example/1</link></item>"
    assert first(rss(inner)).title == "Brøndby wins; it’s a duet"
    latin1 = ('<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>T</title>'
              '<item><title>Brøndby</title><link>https://a.example/1</link></item></channel></rss>').encode("utf-8")
    assert first(latin1).title == "Brøndby"  # declared Latin-1, holds UTF-8
    mixed = "<item><title>MÃ¼ller and Müller</title><link>https://a.example/1</link></item>"
    assert first(rss(mixed)).title == "MÃ¼ller and Müller"  # ambiguous: left alone


def test_atom_without_its_namespace_is_read_as_atom():
    body = (b'<feed><title>t</title><entry><title>No namespace</title><id>urn:1</id>'
            b'<link href="https://n.example/1"/></entry></feed>')
    feed = parse_feed(body, "f", DOC)
    assert feed.kind == "atom" and feed.entries[0].title == "No namespace"
