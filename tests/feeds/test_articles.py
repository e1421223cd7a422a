"""Whole articles for headline-only feeds (full_text): the linked page is fetched (once,
whatever links it), its main text extracted without the page's navigation and
boilerplate, matched, and excerpted in the alert; a page that cannot be had leaves the
entry as the feed gave it; article links go through the address policy even for the
operator's feeds. Real pages served on 127.0.0.1, the real engine and store."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from bot.feeds.articles import extract_text
from tests.factories import feed, item, rss, watch

PAGE = """<!doctype html><html><head><title>{title}</title><script>var tracking = "duet";</script></head>
<body><nav><a href="/">Home</a> | <a href="/music">Music</a> | <a href="/tour">Tour dates</a></nav>
<article><h1>{title}</h1>{paragraphs}</article>
<aside>Most read: Madonna tour announced</aside><footer>© Pop Daily. Cookie settings.</footer></body></html>"""
BODY = ("<p>Lady Gaga and Britney Spears have been in the studio together for weeks, people close to both "
        "singers say, working on a duet that could arrive before the summer.</p>"
        "<p>Neither star has commented, but the producer was seen leaving the building on Tuesday.</p>")


def page(title: str, paragraphs: str = BODY) -> bytes:
    return PAGE.format(title=title, paragraphs=paragraphs).encode()


def headlines(*links: tuple[str, str]) -> bytes:
    now = datetime.now(timezone.utc)
    return rss([item(title, link=link, summary=title, published=now - timedelta(minutes=5 - i))
                for i, (title, link) in enumerate(links)], title="Headlines")


def test_the_main_text_is_the_article_not_the_page_around_it():
    text = extract_text(page("Studio sessions"))
    assert "working on a duet" in text and "producer was seen" in text
    assert "Madonna" not in text and "Cookie settings" not in text and "tracking" not in text


async def test_a_headline_only_feed_alerts_on_words_of_its_articles(feed_server, harness):
    url = feed_server.serve("/news", headlines())
    h = await harness([replace(feed(url), full_text=True)], [watch('"lady gaga" AND duet')])
    await h.cycle()
    article = feed_server.serve("/a/1", page("Studio sessions"), content_type="text/html; charset=utf-8")
    missing = feed_server.url("/a/gone")
    feed_server.serve("/news", headlines(("Studio sessions", article), ("Lady Gaga studio news", missing)))
    await h.cycle()
    [(_, alert)] = h.adapter.delivered  # the headline says nothing of a duet; its article does
    assert alert.entry.title == "Studio sessions"
    assert "working on a duet" in alert.entry.summary and alert.entry.content == "Studio sessions"
    assert any(f == "summary" for w in alert.watches for f, _, _ in w.hits)  # the excerpt shows the match
    assert len(feed_server.hits("/a/1")) == 1 and len(feed_server.hits("/a/gone")) == 1
    # a page that could not be had: matched on the feed's own text ("Lady Gaga studio news": no duet)


async def test_an_article_is_fetched_once_whatever_links_it(feed_server, harness):
    a, b = feed_server.serve("/one", headlines()), feed_server.serve("/two", headlines())
    h = await harness([replace(feed(a), full_text=True), replace(feed(b), full_text=True)], [watch("duet")])
    await h.cycle()
    article = feed_server.serve("/shared-article", page("Studio sessions"), content_type="text/html")
    feed_server.serve("/one", headlines(("Studio sessions", article)))
    feed_server.serve("/two", headlines(("Studio sessions: the latest", article)))
    await h.cycle()
    assert len(feed_server.hits("/shared-article")) == 1


async def test_article_links_go_through_the_address_policy_even_for_the_operators_feeds(feed_server, harness, caplog):
    url = feed_server.serve("/news", headlines())
    h = await harness([replace(feed(url), full_text=True)], [watch("metadata")])
    await h.cycle()
    feed_server.serve("/news", headlines(("Cloud metadata", "http://169.254.169.254/latest/meta-data/")))
    with caplog.at_level("INFO", "tipoff.articles"):
        report = await h.cycle()
    assert report.new_entries == 1 and "169.254.169.254" in caplog.text and "matching on the feed's own text" in caplog.text
    [(_, alert)] = h.adapter.delivered  # matched on the headline, as the feed gave it
    assert alert.entry.summary == "Cloud metadata"
