"""Digests, quiet hours and snoozes through the whole pipeline: feeds on 127.0.0.1, a
real TinyDB store, the engine and the delivery workers, with a clock the test moves."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from bot.adapters.base import RetryAfter
from bot.config import CONSOLE
from tests.factories import feed, item, rss, watch
from tests.harness import DUET, STORY


def stories(n: int, start: int = 0) -> list[dict[str, object]]:
    return [item(f"{STORY} #{i}", guid=f"g{i}", link=f"https://pop.example/{i}") for i in range(start, start + n)]


async def set_chat(h, **extra):
    if "digest" in extra:  # ten minutes into an hour: a test's own steps never cross the hour a digest waits for
        h.clock.now = (int(h.clock.now) // 3600 + 1) * 3600 + 600
    state = h.store.destination_state(CONSOLE)
    h.store.put_destination_state(replace(state, **extra))
    await h.store.flush()


def utc_clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M")


async def test_an_hourly_digest_holds_alerts_and_sends_them_as_one_message(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch(DUET)])
    await set_chat(h, digest="hourly")
    await h.cycle()
    feed_server.serve("/f", rss(stories(3)))
    await h.cycle()
    assert h.adapter.delivered == [] and len(h.store.pending(CONSOLE)) == 3  # held, durable
    assert h.engine.delivery.next_retry() == (int(h.clock.now) // 3600 + 1) * 3600  # the loop wakes then

    await h.restart()  # held alerts survive a restart
    h.clock.advance(3600)
    await h.deliver()
    [(dest, digest)] = h.adapter.digests
    assert dest == CONSOLE and digest.why == "digest"
    assert sorted(a.entry.title for a in digest.alerts) == sorted(f"{STORY} #{i}" for i in range(3))
    assert h.store.pending(CONSOLE) == []
    await h.restart()
    h.clock.advance(3600)
    await h.deliver()
    assert len(h.adapter.delivered) == 3  # nothing twice


async def test_quiet_hours_hold_alerts_until_they_end(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch(DUET)])
    start, end = h.clock.now - 1800, h.clock.now + 3600
    await set_chat(h, quiet=f"{utc_clock(start)}-{utc_clock(end)} UTC")
    await h.cycle()
    feed_server.serve("/f", rss(stories(2)))
    await h.cycle()
    assert h.adapter.delivered == []
    h.clock.advance(3700)
    feed_server.serve("/f", rss(stories(3)))  # one more, after the quiet ends: sent at once, on its own
    await h.cycle()
    assert [d.why for _, d in h.adapter.digests] == ["quiet"]
    assert len(h.adapter.digests[0][1].alerts) == 2
    assert len(h.adapter.delivered) == 3 and h.adapter.delivered[-1][1].entry.title == f"{STORY} #2"


async def test_a_single_alert_held_by_quiet_hours_arrives_as_a_normal_alert(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch(DUET)])
    await set_chat(h, quiet=f"{utc_clock(h.clock.now - 60)}-{utc_clock(h.clock.now + 600)} UTC")
    await h.cycle()
    feed_server.serve("/f", rss(stories(1)))
    await h.cycle()
    h.clock.advance(700)
    await h.deliver()
    assert h.adapter.digests == [] and h.adapter.titles() == [f"{STORY} #0"]


async def test_a_watch_set_to_digest_off_is_not_held_by_the_chat_digest(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    eager = replace(watch("gaga", id="eager"), digest="off")
    h = await harness([feed(url)], [watch(DUET, id="duet"), eager])
    await set_chat(h, digest="hourly")
    await h.cycle()
    feed_server.serve("/f", rss([item("Lady Gaga tour dates", guid="t")] + stories(1)))
    await h.cycle()
    # the duet story fires both watches, so "eager" (digest off) sends it at once too
    assert sorted(h.adapter.titles()) == sorted(["Lady Gaga tour dates", f"{STORY} #0"])
    assert h.adapter.digests == []


async def test_held_alerts_do_not_block_later_ones_but_a_failed_send_does(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch(DUET, id="duet"), replace(watch("tour", id="eager"), digest="off")])
    await set_chat(h, digest="hourly")
    await h.cycle()
    feed_server.serve("/f", rss(stories(1)))  # fires "duet" only: held for the digest
    await h.cycle()
    feed_server.serve("/f", rss([item("Tour dates", guid="t1")] + stories(1)))
    await h.cycle()
    assert h.adapter.titles() == ["Tour dates"]  # not stuck behind the held alert
    h.adapter.script = [RetryAfter(30, "busy")]
    feed_server.serve("/f", rss([item("Tour bus", guid="t2"), item("Tour dates", guid="t1")] + stories(1)))
    await h.cycle()
    feed_server.serve("/f", rss([item("Tour end", guid="t3"), item("Tour bus", guid="t2"),
                                 item("Tour dates", guid="t1")] + stories(1)))
    await h.cycle()
    assert h.adapter.titles() == ["Tour dates"]  # the failed one waits, and what came after it waits too
    h.clock.advance(31)
    await h.deliver()
    assert h.adapter.titles() == ["Tour dates", "Tour bus", "Tour end"]
    assert h.adapter.digests == []  # the held one is still waiting for its hour


async def test_a_digest_too_big_for_one_message_goes_in_parts_each_acknowledged(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [watch(DUET)])
    h.adapter.digest_size = 2
    await set_chat(h, digest="hourly")
    await h.cycle()
    feed_server.serve("/f", rss(stories(5)))
    await h.cycle()
    h.clock.advance(3600)
    h.adapter.script = [RetryAfter(10, "busy")]  # the first part fails once: retried, nothing lost or doubled
    await h.deliver()
    h.clock.advance(11)
    await h.deliver()
    assert [len(d.alerts) for _, d in h.adapter.digests] == [2, 2, 2, 1]
    assert len(h.adapter.delivered) == 5 and len(set(a.id for _, a in h.adapter.delivered)) == 5


async def test_a_snoozed_watch_is_silent_until_the_snooze_ends(feed_server, harness):
    url = feed_server.serve("/f", rss([]))
    h = await harness([feed(url)], [])
    base = datetime.now(timezone.utc).timestamp()
    snoozed = replace(watch(DUET, id="w1"), snoozed_until=base + 3600)
    h.engine.add_watch(snoozed)
    await h.cycle()
    feed_server.serve("/f", rss(stories(1)))
    await h.cycle()
    assert h.adapter.delivered == []  # snoozed: dropped, like a mute
    h.clock.advance(3601)
    feed_server.serve("/f", rss(stories(2)))
    await h.cycle()
    assert h.adapter.titles() == [f"{STORY} #1"]
