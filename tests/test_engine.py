"""The whole pipeline against feeds served on 127.0.0.1, with a real TinyDB store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.feeds import layout as layout_module
from bot.adapters.base import Gone, RetryAfter
from tests.factories import feed, item, rss, watch
from tests.fakes.feed_server import Served
from tests.fakes.recording import RecordingAdapter
from tests.harness import DUET, STORY


def ago(minutes):
    return datetime.now(timezone.utc) - timedelta(minutes=minutes)


async def test_first_poll_does_not_flood_then_new_entries_alert(feed_server, harness):
    old = [item(f"{STORY} #{i}", published=ago(60 + i)) for i in range(5)]
    url = feed_server.serve("/f", rss(old))
    h = await harness([feed(url)], [watch(DUET)])
    report = await h.cycle()
    assert report.new_entries == 0 and h.adapter.delivered == []

    feed_server.serve("/f", rss([item(STORY, guid="new", published=ago(1))] + old))
    await h.cycle()
    assert h.adapter.titles() == [STORY]
    alert = h.adapter.delivered[0][1]
    assert alert.watches[0].terms == ("lady gaga", "britney spears", "duet")


async def test_backfill_announces_the_newest_on_first_poll(feed_server, harness):
    url = feed_server.serve("/f", rss([item(f"{STORY} {i}", published=ago(i)) for i in range(4)]))
    h = await harness([feed(url, backfill=2)], [watch(DUET)])
    await h.cycle()
    assert h.adapter.titles() == [f"{STORY} 1", f"{STORY} 0"]


async def test_decoys_do_not_alert(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch(DUET)])
    await h.cycle()
    feed_server.serve("/f", rss([
        item("Lady Gaga adds tour dates"), item("Dua Lipa and Elton John duet"),
        item("A Gagarin tribute band records a duet with Britney Spears"),
    ]))
    await h.cycle()
    assert h.adapter.delivered == []


async def test_syndicated_copy_alerts_once(feed_server, harness):
    a = feed_server.serve("/a", rss([]))
    b = feed_server.serve("/b", rss([]))
    h = await harness([feed(a), feed(b)], [watch(DUET)])
    await h.cycle()
    feed_server.serve("/a", rss([item(STORY, guid="a-1", link="https://pop.example/duet")]))
    feed_server.serve("/b", rss([item(STORY + " (syndicated)", guid="b-77",
                                      link="https://pop.example/duet?utm_source=b&utm_medium=rss")]))
    report = await h.cycle()
    assert len(h.adapter.delivered) == 1
    assert report.repeats == 1


async def test_same_story_for_two_destinations_alerts_each(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    from bot.model import Destination
    h = await harness([feed(url)], [watch(DUET, "console", "other")])
    h.settings.destinations["other"] = Destination("other", "console")  # type: ignore[index]
    await h.cycle()
    feed_server.serve("/f", rss([item(STORY)]))
    await h.cycle()
    assert sorted(d for d, _ in h.adapter.delivered) == ["console", "other"]


async def test_restart_does_not_realert(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch(DUET)])
    await h.cycle()
    feed_server.serve("/f", rss([item(STORY)]))
    await h.cycle()
    await h.restart()
    await h.cycle()
    await h.restart()
    await h.cycle()
    assert h.adapter.titles() == [STORY]


async def test_entries_published_while_stopped_alert_when_back(feed_server, harness):
    url = feed_server.serve("/f", rss([item("older news")]))
    h = await harness([feed(url)], [watch(DUET)])
    await h.cycle()
    await h.stop()
    feed_server.serve("/f", rss([item(STORY, published=ago(30)), item("older news")]))  # while down
    await h.start()
    await h.cycle()
    assert h.adapter.titles() == [STORY]


async def test_reordered_or_removed_and_readded_entry_does_not_realert(feed_server, harness):
    first, other = item(STORY, guid="s1"), item("other", guid="o1")
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch(DUET)])
    await h.cycle()
    for body in ([first, other], [other, first], [other], [first, other], [first]):
        feed_server.serve("/f", rss(body))
        await h.cycle()
    assert h.adapter.titles() == [STORY]


@pytest.fixture
def parses(monkeypatch):
    """Counts the engine's calls to the parser."""
    calls: list[int] = []
    real = layout_module.parse_feed
    monkeypatch.setattr(layout_module, "parse_feed", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    return calls


async def test_conditional_get_and_304_skip_parsing(feed_server, harness, parses):
    url = feed_server.serve("/f", rss([item("x")]), etag='"v1"')
    h = await harness([feed(url)], [watch(DUET)])
    await h.cycle()
    report = await h.cycle()
    assert feed_server.hits("/f")[1]["If-None-Match"] == '"v1"'
    assert report.not_modified == 1
    assert len(parses) == 1


async def test_identical_body_is_not_parsed_again(feed_server, harness, parses):
    url = feed_server.serve("/f", rss([item("x")]))  # no validators at all
    h = await harness([feed(url)], [watch(DUET)])
    await h.cycle()
    report = await h.cycle()
    assert report.unchanged == 1 and len(parses) == 1


async def test_new_watch_fires_only_on_entries_first_seen_after_it(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch("metallica")])
    await h.cycle()
    feed_server.serve("/f", rss([item(STORY, guid="before")]))
    await h.cycle()  # seen while no watch wanted it
    h.engine.set_watches([watch("metallica"), watch(DUET)])
    feed_server.serve("/f", rss([item(STORY + " today", guid="after"), item(STORY, guid="before")]))
    await h.cycle()
    assert h.adapter.titles() == [STORY + " today"]


async def test_a_broken_feed_does_not_stop_the_others(feed_server, harness):
    bad = feed_server.serve("/bad", Served(b"<html><body>oops</body></html>", content_type="text/html"))
    good = feed_server.serve("/good", rss([]))
    h = await harness([feed(bad), feed(good)], [watch(DUET)])
    await h.cycle()
    feed_server.serve("/good", rss([item(STORY)]))
    report = await h.cycle()
    assert report.errors == 1 and h.adapter.titles() == [STORY]
    state = h.store.feed_state(feed(bad).id)
    assert state.error_kind == "not_a_feed" and state.failures == 2
    assert state.next_due > h.clock() + 60  # backed off beyond its interval


async def test_old_entries_never_alert(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch(DUET)])
    await h.cycle()
    feed_server.serve("/f", rss([item(STORY, published=datetime.now(timezone.utc) - timedelta(days=8))]))
    await h.cycle()
    assert h.adapter.delivered == []


async def test_retry_after_postpones_and_keeps_order(feed_server, harness):
    adapter = RecordingAdapter([RetryAfter(30, "HTTP 429")])
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch("duet")], adapter=adapter)
    await h.cycle()
    feed_server.serve("/f", rss([item(f"duet {i}", published=ago(10 - i)) for i in range(3)]))
    await h.cycle()
    assert adapter.delivered == [] and len(h.store.pending()) == 3
    await h.deliver()  # too early: nothing is tried
    assert len(adapter.attempts) == 1
    h.clock.advance(31)
    await h.deliver()
    assert adapter.titles() == ["duet 0", "duet 1", "duet 2"]
    assert h.store.pending() == []


async def test_gone_destination_is_deactivated_and_keeps_its_alerts(feed_server, harness):
    adapter = RecordingAdapter([Gone("HTTP 410 Gone")])
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch("duet")], adapter=adapter)
    await h.cycle()
    feed_server.serve("/f", rss([item("duet one"), item("duet two")]))
    await h.cycle()
    await h.deliver()
    assert len(adapter.attempts) == 1
    assert not h.store.destination_state("console").active
    assert len(h.store.pending()) == 2


async def test_undelivered_alerts_survive_a_restart(feed_server, harness):
    adapter = RecordingAdapter([RetryAfter(None, "HTTP 502")])
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch("duet")], adapter=adapter)
    await h.cycle()
    feed_server.serve("/f", rss([item("duet now")]))
    await h.cycle()
    await h.restart()
    h.clock.advance(3600)
    await h.deliver()
    assert adapter.titles() == ["duet now"]


WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


def news(i: int) -> dict[str, object]:
    """Entries no two of which read as one story (each alerts on its own)."""
    return item(f"tipoff {WORDS[i % 10]} {i} {'x' * (i // 10)}", guid=f"g{i}")


async def test_a_feed_that_rewrites_its_header_every_poll_is_read_only_where_it_changed(feed_server, harness):
    """Many feeds change their header (a build date) on every request, which defeats
    conditional GET and the body hash; the entries that stayed are not read again."""
    shown = [news(i) for i in range(10)]
    url = feed_server.serve("/f", rss(shown, title="Feed v0"))
    h = await harness([feed(url)], [watch("tipoff")])
    await h.cycle()
    for n in range(10, 13):
        shown = [news(n)] + shown[:-1]  # one new on top, the oldest gone
        feed_server.serve("/f", rss(shown, title=f"Feed v{n}"))
        h.clock.advance(600)
        await h.cycle()
    assert h.adapter.titles() == [news(n)["title"] for n in range(10, 13)]
    assert h.engine.stats.entries_reused == 9 * 3
    await h.restart()  # the layouts lived in memory: the next change is read in full, and nothing repeats
    shown = [news(13)] + shown[:-1]
    feed_server.serve("/f", rss(shown, title="Feed v13"))
    await h.cycle()
    assert h.adapter.titles()[-1] == news(13)["title"] and len(h.adapter.titles()) == 4
    assert h.engine.stats.entries_reused == 0


async def test_entries_not_read_again_are_still_remembered_past_the_retention(feed_server, harness):
    """An entry that stays in a changing feed is stamped as seen by a full read at
    least every quarter of the retention, so pruning never forgets it while it is in
    the feed (forgotten, it would alert again when next read)."""
    shown = [news(i) for i in range(5)]
    url = feed_server.serve("/f", rss(shown, title="v0"))
    h = await harness([feed(url)], [watch("tipoff")], retention=4000.0, max_age=10**9)
    await h.cycle()
    for n in range(5, 20):  # 15 changes, 600 s apart: well past the retention and the hourly prune
        shown = [news(n)] + shown
        feed_server.serve("/f", rss(shown, title=f"v{n}"))
        h.clock.advance(600)
        await h.cycle()
    assert len(h.adapter.titles()) == 15 and h.engine.stats.entries_reused > 0
    await h.restart()  # a full read of everything: the first five must still be known
    feed_server.serve("/f", rss(shown, title="v-restart"))
    h.clock.advance(60)
    await h.cycle()
    assert len(h.adapter.titles()) == 15
