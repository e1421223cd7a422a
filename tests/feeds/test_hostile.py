"""Bodies from the open web that try to hurt: entity bombs, external entities, DTD
fetches, decompression bombs, every encoding trick. None may expand, fetch, hang or crash."""

from __future__ import annotations

import tracemalloc

import pytest

from bot.feeds.errors import FeedError
from bot.feeds.parse import apply_charset, charset_of, parse_feed


def billion_laughs(levels: int = 10) -> bytes:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, levels))
    return (f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel><title>t</title>'
            f"<item><title>a &lol{levels - 1}; b</title><guid>1</guid></item></channel></rss>").encode()


def test_billion_laughs_never_expands():
    tracemalloc.start()
    try:
        feed = parse_feed(billion_laughs(), "f")
        titles = [e.title for e in feed.entries]
    except FeedError:
        titles = []
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20_000_000  # 10^9 "lol"s would be gigabytes
    assert all(len(t) < 100 for t in titles)


def test_external_entities_and_dtds_are_never_fetched(feed_server, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    dtd_url = feed_server.serve("/evil.dtd", b'<!ENTITY ext "FROM-THE-NETWORK">')
    body = (f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{dtd_url}" [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
            f'<rss version="2.0"><channel><title>t</title><item><title>a &xxe; &ext; b</title>'
            f"<guid>1</guid></item></channel></rss>").encode()
    feed = parse_feed(body, "f")
    assert "TOP-SECRET" not in feed.entries[0].title and "NETWORK" not in feed.entries[0].title
    assert feed_server.hits("/evil.dtd") == []


LATIN1 = '<rss version="2.0"><channel><title>Notícias</title><item><title>Ação é já</title><guid>1</guid></item></channel></rss>'


@pytest.mark.parametrize("body, charset, title", [
    (LATIN1.encode("latin-1"), "iso-8859-1", "Ação é já"),  # only the HTTP header knows
    (b'<?xml version="1.0" encoding="ISO-8859-1"?>' + LATIN1.encode("latin-1"), "utf-8", "Ação é já"),  # declared wins
    (b"\xef\xbb\xbf" + LATIN1.encode("utf-8"), "iso-8859-1", "Ação é já"),  # a BOM wins
    (LATIN1.encode("utf-8"), None, "Ação é já"),  # detected
    (LATIN1.encode("latin-1"), "no-such-charset", None),  # unknown: detection, no crash
    (LATIN1.encode("utf-8").replace(b"\xc3\xa7", b"\xc3\x28"), "utf-8", None),  # invalid bytes replaced
])
def test_encodings(body, charset, title):
    feed = parse_feed(body, "f", charset=charset)
    if title is not None:
        assert feed.entries[0].title == title
    else:
        assert feed.entries and feed.entries[0].title


def test_charset_of_a_content_type():
    assert charset_of('application/rss+xml; charset="ISO-8859-1"') == "ISO-8859-1"
    assert charset_of("text/xml") is None
    assert apply_charset(b'{"a": 1}', "latin-1") == b'{"a": 1}'


def test_the_real_latin1_feed_reads_correctly(corpus):
    feed = parse_feed((corpus / "real" / "rss-parser" / "uolNoticias.rss").read_bytes(), "f")
    assert any("ç" in e.title or "ã" in e.title for e in feed.entries)


@pytest.mark.parametrize("body, where", [
    (b'<?xml version="1.0"?>\n<rss><<<>>>', "line 2, column 7"),
    (b'{"version": "https://jsonfeed.org/version/1",\n "items": [}', "line 2, column 12"),
])
def test_a_malformed_feed_says_where(body, where):
    with pytest.raises(FeedError) as err:
        parse_feed(body, "f")
    assert err.value.kind == "malformed" and where in err.value.message
