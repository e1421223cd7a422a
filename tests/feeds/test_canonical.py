import pytest

from bot.feeds.canonical import canonical_url


@pytest.mark.parametrize("url, canonical", [
    ("https://popwire.example/a?utm_source=x&utm_medium=rss", "https://popwire.example/a"),
    ("HTTPS://PopWire.Example/a", "https://popwire.example/a"),
    ("https://popwire.example:443/a", "https://popwire.example/a"),
    ("http://popwire.example:80/a", "http://popwire.example/a"),
    ("http://popwire.example:8080/a", "http://popwire.example:8080/a"),
    ("https://popwire.example/a#comments", "https://popwire.example/a"),
    ("https://popwire.example/a?fbclid=abc&id=7&gclid=x", "https://popwire.example/a?id=7"),
    ("https://popwire.example/a?b=2&a=1", "https://popwire.example/a?a=1&b=2"),
    ("https://popwire.example", "https://popwire.example/"),
    ("https://popwire.example/caf%c3%a9", "https://popwire.example/caf%C3%A9"),
    ("ftp://popwire.example/a", ""),
    ("not a url", ""),
    ("https://popwire.example:99999/", ""),
])
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_query_that_selects_content_is_kept():
    assert canonical_url("https://x.example/watch?v=abc") != canonical_url("https://x.example/watch?v=xyz")
