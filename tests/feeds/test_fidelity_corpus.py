"""What tipoff reads from real and spec-corner feeds, entry by entry, against feedparser
as a reference (the most careful reader of the formats; where it is wrong, e.g. it keeps
entries that carry nothing, the comparison leaves it out)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from bot.feeds.errors import FeedError
from bot.feeds.parse import DEFAULT_MAX_ENTRIES, parse_feed
from bot.feeds.text import html_to_text

DOC = "https://doc.example/feeds/feed.xml"


def agreement(folder: Path) -> dict[str, tuple[int, int]]:
    """(agreeing, compared) for entry counts per file, titles and links per entry."""
    import feedparser

    counts = titles = links = (0, 0)
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".xml", ".rss", ".atom", ".rdf")):
        body = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = feedparser.parse(body, response_headers={"content-location": DOC})
        try:
            ours = parse_feed(body, "f", DOC).entries
        except FeedError:
            continue  # not a feed (pages, fragments): both refuse or feedparser reads nothing
        expected = [e for e in ref.entries if e.get("title") or e.get("link") or e.get("summary")]
        if ref.entries and not expected:
            continue  # entries that carry nothing: tipoff skips them on purpose
        counts = (counts[0] + (len(ours) == min(len(expected), DEFAULT_MAX_ENTRIES)), counts[1] + 1)
        for a, b in zip(expected, ours):
            same_title = " ".join(html_to_text(a.get("title") or "").split()) == b.title
            titles = (titles[0] + same_title, titles[1] + 1)
            links = (links[0] + ((a.get("link") or "").strip() == b.link), links[1] + 1)
    return {"counts": counts, "titles": titles, "links": links}


@pytest.mark.parametrize("folder, least", [
    ("real", {"counts": 0.95, "titles": 0.99, "links": 0.99}),
    ("edge/gofeed", {"counts": 0.95, "titles": 0.95, "links": 0.95}),
])
def test_tipoff_reads_feeds_as_feedparser_does(corpus, folder, least):
    result = agreement(corpus / folder)
    shares = {k: agree / total for k, (agree, total) in result.items() if total}
    print(f"\n{folder}: " + ", ".join(f"{k} {a}/{t}" for k, (a, t) in result.items()))
    assert result["titles"][1] > 50 and result["links"][1] > 50
    for key, share in least.items():
        assert shares[key] >= share, (key, result[key])


@pytest.mark.parametrize("folder", ["real", "edge"])
def test_a_second_read_of_every_corpus_feed_finds_nothing_new(corpus, folder):
    """The steady state on real and odd feeds: read again with its entries known, a body
    gives no entry as new and counts every entry the first read gave as known (RSS by
    guid, RDF by rdf:about, Atom by id, anything else by link or content): a known-entry
    check that misses re-normalises every poll, one that over-matches hides news."""
    from bot.dedupe import entry_key

    checked = 0
    for path in sorted(p for p in (corpus / folder).rglob("*") if p.is_file()):
        body = path.read_bytes()
        try:
            cold = parse_feed(body, "f", DOC)
        except FeedError:
            continue
        keys = [entry_key(e) for e in cold.entries]
        warm = parse_feed(body, "f", DOC, known=set(keys))
        assert (path.name, warm.entries) == (path.name, ()), path
        assert sorted(warm.known_keys) == sorted(keys), path
        checked += bool(keys)
    assert checked > 50
