from datetime import datetime, timezone

import pytest

from bot.dedupe import entry_key
from bot.feeds.errors import FeedError
from bot.feeds.parse import parse_feed, sniff_kind

RSS2 = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Pop &amp; More</title>
<link>https://pop.example/</link>
<item><title>Gaga &amp; Britney</title><link>/news/1?utm_source=rss</link><guid>g-1</guid>
<pubDate>Tue, 24 Nov 2026 18:30:00 +0100</pubDate><author>ed@pop.example (Ed)</author>
<category>Pop</category><description>&lt;p&gt;A &lt;b&gt;duet&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp; more&lt;/p&gt;&lt;img src="https://pop.example/i.jpg"&gt;</description>
</item></channel></rss>"""

RSS091 = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>Old</title><link>https://old.example/</link>
<item><title>Old school</title><link>https://old.example/1</link><description>Plain</description></item>
</channel></rss>"""

ATOM03 = b"""<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Atom 0.3</title>
<link rel="alternate" href="https://a03.example/"/>
<entry><title>Entry</title><link rel="alternate" href="https://a03.example/1"/><id>tag:a03,1</id>
<issued>2026-11-20T10:00:00Z</issued><summary>Sum</summary></entry></feed>"""

ATOM10 = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title>
<link href="https://atom.example/"/><id>urn:x</id><updated>2026-11-24T19:05:00Z</updated>
<entry><title type="html">&lt;em&gt;Lady Gaga&lt;/em&gt; news</title><link href="https://atom.example/1"/>
<id>urn:x:1</id><published>2026-11-24T19:05:00Z</published><updated>2026-11-24T20:00:00Z</updated>
<author><name>Staff</name></author><category term="music"/>
<content type="html">&lt;p&gt;Long body&lt;/p&gt;</content><summary>Short</summary></entry></feed>"""

RDF = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://rdf.example/"><title>RDF</title><link>https://rdf.example/</link></channel>
<item rdf:about="https://rdf.example/1"><title>RDF item</title><link>https://rdf.example/1</link>
<dc:date>2026-11-23T08:00:00Z</dc:date><description>Text</description></item></rdf:RDF>"""

JSONFEED = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "JF", "home_page_url": "https://jf.example/",
"items": [{"id": "1", "url": "https://jf.example/1", "title": "JSON item", "content_html": "<p>Hi</p>",
"date_published": "2026-11-24T07:30:00+02:00", "tags": ["a", "b"], "image": "https://jf.example/i.png",
"authors": [{"name": "Jo"}]}]}"""


def test_rss2_is_normalised():
    feed = parse_feed(RSS2, "f", "https://pop.example/feed.xml")
    assert (feed.title, feed.kind, len(feed.entries)) == ("Pop & More", "rss", 1)
    e = feed.entries[0]
    assert e.title == "Gaga & Britney"
    assert e.link == "https://pop.example/news/1?utm_source=rss"  # relative link resolved
    assert e.url == "https://pop.example/news/1"  # canonical: tracking dropped
    assert e.summary == "A duet & more"  # tags and scripts gone, entities decoded once
    assert e.id == "g-1"
    assert e.published == datetime(2026, 11, 24, 17, 30, tzinfo=timezone.utc)
    assert e.published.tzinfo is timezone.utc
    assert e.tags == ("Pop",)
    assert e.image == "https://pop.example/i.jpg"


@pytest.mark.parametrize("body, kind, title", [
    (RSS091, "rss", "Old school"),
    (ATOM03, "atom", "Entry"),
    (ATOM10, "atom", "Lady Gaga news"),
    (RDF, "rdf", "RDF item"),
    (JSONFEED, "json", "JSON item"),
])
def test_every_format_parses(body, kind, title):
    feed = parse_feed(body, "f", "https://example.org/")
    assert feed.kind == kind
    assert feed.entries[0].title == title


def test_atom_fields():
    e = parse_feed(ATOM10, "f").entries[0]
    assert (e.summary, e.content, e.authors, e.tags) == ("Short", "Long body", ("Staff",), ("music",))
    assert e.updated == datetime(2026, 11, 24, 20, 0, tzinfo=timezone.utc)


def test_json_feed_fields():
    e = parse_feed(JSONFEED, "f").entries[0]
    assert e.published == datetime(2026, 11, 24, 5, 30, tzinfo=timezone.utc)
    assert (e.tags, e.authors, e.image) == (("a", "b"), ("Jo",), "https://jf.example/i.png")


def test_entry_without_guid_gets_a_stable_id():
    body = b'<rss version="2.0"><channel><title>t</title><item><title>No id</title></item></channel></rss>'
    a, b = parse_feed(body, "f").entries[0], parse_feed(body, "f").entries[0]
    assert a.id == b.id and a.id.startswith("h:")


def test_entries_per_poll_are_capped():
    items = "".join(f"<item><title>t{i}</title><guid>{i}</guid></item>" for i in range(50))
    body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    assert len(parse_feed(body, "f", max_entries=10).entries) == 10


@pytest.mark.parametrize("kind", ["rss", "atom", "rdf"])
def test_entries_past_the_cap_are_not_read_at_all(kind, monkeypatch):
    """A 700-episode podcast feed is read to its cap, not to its end, every poll: the
    steady state (every entry known) reads no item beyond the cap either."""
    from bot.feeds import xmlfeed

    if kind == "rss":
        items = "".join(f"<item><title>t{i}</title><guid>{i}</guid></item>" for i in range(50))
        body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    elif kind == "atom":
        items = "".join(f"<entry><title>t{i}</title><id>urn:{i}</id></entry>" for i in range(50))
        body = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{items}</feed>'.encode()
    else:  # RDF items are known by their rdf:about
        items = "".join(f'<item rdf:about="https://r.example/{i}"><title>t{i}</title>'
                        f"<link>https://r.example/{i}</link></item>" for i in range(50))
        body = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
                f'<channel rdf:about="https://r.example/"><title>t</title></channel>{items}</rdf:RDF>').encode()
    fully_read: list[object] = []  # _media runs once for each entry read beyond its id
    real_media = xmlfeed._media
    monkeypatch.setattr(xmlfeed, "_media", lambda el, base: fully_read.append(el) or real_media(el, base))
    known = {entry_key(e) for e in parse_feed(body, "f", max_entries=10).entries}
    assert len(fully_read) == 10
    fully_read.clear()
    parsed = parse_feed(body, "f", max_entries=10, known=known)
    assert (parsed.entries, len(parsed.known_keys), fully_read) == ((), 10, [])


@pytest.mark.parametrize("body, detail", [
    (b"", "empty"),
    (b"<!doctype html><html><head><title>Hi</title></head><body><p>page</p></body></html>", "HTML page"),
    (b"<p>a fragment</p>", "not a feed"),
])
def test_not_a_feed_says_what_it_was(body, detail):
    with pytest.raises(FeedError) as err:
        parse_feed(body, "f")
    assert err.value.kind == "not_a_feed"
    assert detail in err.value.message


@pytest.mark.parametrize("body, kind", [
    (b'\xef\xbb\xbf<?xml version="1.0"?><rss>', "rss"),
    (b"<feed xmlns='http://www.w3.org/2005/Atom'>", "atom"),
    (b"<rdf:RDF>", "rdf"),
    (b'  {"version": 1}', "json"),
    (b"<!DOCTYPE html><html>", "html"),
])
def test_sniff_kind(body, kind):
    assert sniff_kind(body) == kind


# Files in the real corpus that are fragments or pages, not feeds (the projects they come
# from use them as parts of feeds). Everything else must parse with entries.
NOT_FEEDS = {
    "AmazonWebServicesBlogFirstEntryContent.xml", "DuplicateContentAtomFeed.xml",
    "HREFConsideredHarmfulFirstEntry.xml", "PaulDixExplainsNothingFirstEntryContent.xml",
    "TechCrunchFirstEntry.xml", "TechCrunchFirstEntryDescription.xml", "TenderLovemakingFirstEntry.xml",
    "unrecognized.rss",
}


def test_every_real_corpus_file_parses_or_is_refused_cleanly(corpus):
    files = sorted(p for p in (corpus / "real").rglob("*") if p.is_file())
    assert len(files) > 70
    parsed = 0
    for path in files:
        try:
            feed = parse_feed(path.read_bytes(), "f", "https://example.org/")
        except FeedError as exc:
            assert path.name in NOT_FEEDS, f"{path.name}: {exc.message}"
            assert exc.kind == "not_a_feed"
            continue
        assert path.name not in NOT_FEEDS
        for e in feed.entries:
            assert e.id
            assert e.published is None or e.published.tzinfo is not None
            assert "<" not in e.title or "&lt;" not in e.title
        parsed += 1
    assert parsed == len(files) - len(NOT_FEEDS)


def test_known_entries_are_counted_not_normalised(monkeypatch):
    """In the steady state most entries are known: they are left out of `entries` (their
    keys in `known_keys`), and their HTML is never turned into text."""
    from bot.dedupe import entry_key
    from bot.feeds import parse as parse_module

    cold = parse_feed(RSS2, "f", "https://pop.example/feed.xml")
    known = {entry_key(e) for e in cold.entries}
    calls = []
    real = parse_module.html_to_text
    monkeypatch.setattr(parse_module, "html_to_text", lambda m: (calls.append(m), real(m))[1])
    warm = parse_feed(RSS2, "f", "https://pop.example/feed.xml", known=known)
    assert warm.entries == () and warm.known_keys == tuple(known)
    assert calls and not any("duet" in c or "Britney" in c for c in calls)  # the feed's title only
    other = parse_feed(RSS2, "f", "https://pop.example/feed.xml", known={"another"})
    assert [e.id for e in other.entries] == ["g-1"] and other.known_keys == ()
