"""One alert per story: the engine files every entry that fires a watch under its story,
and a chat is told a story once; a development is told again. Real feeds on 127.0.0.1,
the real TinyDB store (and its restart), a recording adapter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.factories import feed, item, rss, watch

WATCH = '"lady gaga" AND "britney spears"'


def ago(minutes):
    return datetime.now(timezone.utc) - timedelta(minutes=minutes)


def news(*titles: str, prefix: str) -> bytes:
    return rss([item(t, guid=f"{prefix}-{i}", link=f"https://{prefix}.example/{i}", published=ago(30 - i))
                for i, t in enumerate(titles)], title=prefix.title())


async def test_outlets_rewording_a_story_alert_once_and_a_new_fact_again(feed_server, harness):
    a, b, c = (feed_server.serve(f"/{n}", rss([])) for n in "abc")
    h = await harness([feed(a), feed(b), feed(c)], [watch(WATCH)])
    await h.cycle()
    feed_server.serve("/a", news("Lady Gaga and Britney Spears are preparing a duet, sources say", prefix="billboard"))
    feed_server.serve("/b", news("Britney Spears and Lady Gaga preparing duet, say sources - Variety", prefix="variety"))
    feed_server.serve("/c", news("Madonna and Britney Spears are preparing a duet", prefix="nme"))
    report = await h.cycle()
    assert h.adapter.titles() == ["Lady Gaga and Britney Spears are preparing a duet, sources say"]
    assert report.repeats == 1  # Variety's rewording; Madonna's story fires no watch

    feed_server.serve("/c", news("Britney Spears confirms duet with Lady Gaga", prefix="nme2"))
    await h.cycle()
    feed_server.serve("/b", news("Lady Gaga duet confirmed by Britney Spears - Variety", prefix="variety2"))
    await h.cycle()
    assert h.adapter.titles()[1:] == ["Britney Spears confirms duet with Lady Gaga"]  # its rewording: no third


async def test_a_rewording_after_a_restart_is_still_the_same_story(feed_server, harness):
    a, b = feed_server.serve("/a", rss([])), feed_server.serve("/b", rss([]))
    h = await harness([feed(a), feed(b)], [watch(WATCH)])
    await h.cycle()
    feed_server.serve("/a", news("Lady Gaga and Britney Spears are preparing a duet, sources say", prefix="billboard"))
    await h.cycle()
    await h.restart()  # the story index is read back from the store
    feed_server.serve("/b", news("Britney Spears and Lady Gaga preparing duet, say sources", prefix="variety"))
    report = await h.cycle()
    assert len(h.adapter.delivered) == 1 and report.repeats == 1


async def test_contradicting_numbers_are_two_stories(feed_server, harness):
    a = feed_server.serve("/a", rss([]))
    h = await harness([feed(a)], [watch("fire")])
    await h.cycle()
    feed_server.serve("/a", news("3 dead in Paris warehouse fire", "30 dead in Paris warehouse fire", prefix="bbc"))
    await h.cycle()
    assert sorted(h.adapter.titles()) == ["3 dead in Paris warehouse fire", "30 dead in Paris warehouse fire"]


async def test_a_story_is_told_again_after_its_window(feed_server, harness):
    a, b = feed_server.serve("/a", rss([])), feed_server.serve("/b", rss([]))
    h = await harness([feed(a), feed(b)], [watch(WATCH)])
    await h.cycle()
    feed_server.serve("/a", news("Lady Gaga and Britney Spears are preparing a duet, sources say", prefix="billboard"))
    await h.cycle()
    h.clock.advance(4 * 86400)  # past the 3-day window
    feed_server.serve("/b", rss([item("Britney Spears and Lady Gaga preparing duet, say sources", guid="v",
                                      published=datetime.fromtimestamp(h.clock.now, timezone.utc))]))
    await h.cycle()
    assert len(h.adapter.delivered) == 2
