"""A watch that waits for a story to spread: it alerts once `min_sources` outlets
carry the story within `within`, naming them; a story that never gets that far is never
announced. Real feeds on 127.0.0.1, the real TinyDB store, a recording adapter."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.config import load_settings
from tests.factories import feed, rss, watch
from tests.stories.test_story_updates import FIRST, REWORDINGS, WATCH, outlet

SPREAD = replace(watch(WATCH), min_sources=3, within=2 * 3600.0)
OUTLETS = [("Pop Daily", FIRST), *REWORDINGS]


async def spread_world(feed_server, harness, watches=(SPREAD,)):
    urls = [feed_server.serve(f"/o{i}", rss([])) for i in range(len(OUTLETS))]
    h = await harness([feed(u) for u in urls], list(watches))
    await h.cycle()
    return h


async def report(h, feed_server, i, minutes_later=0):
    h.clock.advance(minutes_later * 60)
    feed_server.serve(f"/o{i}", outlet(*OUTLETS[i]))
    return await h.cycle()


async def test_the_third_outlet_sets_the_alert_off_and_it_names_all_three(feed_server, harness):
    h = await spread_world(feed_server, harness)
    await report(h, feed_server, 0)
    await report(h, feed_server, 1, minutes_later=20)
    assert h.adapter.delivered == []  # two outlets: not yet
    await report(h, feed_server, 2, minutes_later=20)
    [(_, alert)] = h.adapter.delivered
    assert alert.entry.title == OUTLETS[2][1]
    assert [s.outlet for s in alert.sources] == ["Billboard", "Pop Daily", "Variety"]
    await report(h, feed_server, 3, minutes_later=5)  # a fourth: the alert is updated, not sent again
    assert len(h.adapter.delivered) == 1
    [(_, told, new)] = h.adapter.updates
    assert [s.outlet for s in new] == ["NME"] and told.alert.id == alert.id


async def test_a_story_that_never_spreads_far_enough_is_never_announced(feed_server, harness):
    h = await spread_world(feed_server, harness)
    await report(h, feed_server, 0)
    await report(h, feed_server, 1, minutes_later=30)
    h.clock.advance(86400)
    await h.cycle()
    assert h.adapter.delivered == [] and h.engine.store.pending() == []


async def test_outlets_count_only_within_the_span(feed_server, harness):
    h = await spread_world(feed_server, harness)
    await report(h, feed_server, 0)
    await report(h, feed_server, 1, minutes_later=100)
    await report(h, feed_server, 2, minutes_later=100)  # three outlets, but over 3 h 20 min: two within 2 h
    assert h.adapter.delivered == []
    await report(h, feed_server, 3, minutes_later=10)  # the second, third and fourth within 2 h
    [(_, alert)] = h.adapter.delivered
    assert alert.entry.title == OUTLETS[3][1]


async def test_a_watch_without_spread_alerts_at_once_beside_one_that_waits(feed_server, harness):
    eager = watch(WATCH, "console", id="eager")
    h = await spread_world(feed_server, harness, [replace(SPREAD, notify=("patient",), id="patient"), eager])
    await report(h, feed_server, 0)
    assert h.adapter.titles() == [FIRST]  # the console's watch alerts at the first report
    assert h.engine.store.pending("patient") == []  # the other waits for outlets
    await report(h, feed_server, 1, minutes_later=1)
    await report(h, feed_server, 2, minutes_later=1)
    [waiting] = h.engine.store.pending("patient")  # no adapter for it in this test: it waits in the outbox
    assert len(waiting.message.alert.sources) == 3


def load(text):
    return load_settings(Path("conf/tipoff.toml"), text=text, env={})


def test_min_sources_and_within_in_the_config():
    base = '[[watches]]\nrule = "duet"\n'
    assert load(base + "min_sources = 3\n").watches[0].min_sources == 3
    assert load(base + "min_sources = 3\n").watches[0].within == 7200.0
    assert load(base + 'min_sources = 4\nwithin = "30m"\n').watches[0].within == 1800.0
    assert load(base + "min_sources = 1\n").watches[0].min_sources == 0  # the first report is one outlet
