"""Story identity on real headlines from ../shared/corpus (feeds other projects keep).
Entries of one feed are, all but a handful, different stories: a podcast's episodes
("Day One" / "Day Two", "02/02/2016" / "02/09/2016"), a stock's insider sales of
different sizes, an API's monthly versions. Every pair of them is compared, with word
weights from the whole corpus as the index would have them."""

from __future__ import annotations

import itertools
from collections import Counter

from bot.feeds.errors import FeedError
from bot.feeds.parse import parse_feed
from bot.stories.compare import compare, idf_weight
from bot.stories.headline import read_headline, site_names

# Pairs in the corpus that do report one story (read by a person): they must merge.
SAME_STORY = [
    ("Slack (NASDAQ:WORK) Insider Cal Henderson Sells 1500 Shares",
     "Insider Selling: Slack (NASDAQ:WORK) Insider Sells 1500 Shares of Stock"),
    ("Stormy Daniels on Jimmy Kimmel: porn actor casts doubt on denial of Trump affair – video",
     "Porn actor Stormy Daniels casts doubt on denial of affair with Trump"),
]


def test_different_entries_of_real_feeds_are_almost_never_merged(corpus):
    feeds = []
    for path in sorted(p for p in (corpus / "real").rglob("*") if p.is_file()):
        try:
            parsed = parse_feed(path.read_bytes(), "f")
        except FeedError:
            continue
        sites = site_names(parsed.title, parsed.link)
        feeds.append([(e.title, read_headline(e.title, e.summary, sites=sites, link=e.link))
                      for e in parsed.entries if e.title])
    df = Counter(t for headlines in feeds for _, h in headlines for t in h.terms)
    weight = idf_weight(df.__getitem__, sum(map(len, feeds)))
    same = {frozenset(p) for p in SAME_STORY}
    pairs = merged = 0
    wrongly: list[tuple[str, str]] = []
    for headlines in feeds:
        for (ta, a), (tb, b) in itertools.combinations(headlines, 2):
            if ta == tb:
                continue
            verdict = compare(a, b, weight).verdict
            if frozenset((ta, tb)) in same:
                assert verdict == "copy", (ta, tb)
                continue
            pairs += 1
            if verdict != "different":
                merged += 1
                wrongly.append((ta, tb))
    print(f"\n{merged} of {pairs} different-entry pairs merged ({100 * merged / pairs:.3f}%)")
    assert pairs > 100_000
    assert merged / pairs <= 0.0005, wrongly[:20]  # 0.013% when written; the issue allows 1%
