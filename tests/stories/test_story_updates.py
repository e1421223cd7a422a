"""Story threads: a later report of a story a chat was told updates the alert already
sent (naming the outlet) instead of alerting again; updates are coalesced to one a
minute, wait for their alert, outlive a restart, and an update that cannot be made is
dropped, never sent as a new alert. Real feeds on 127.0.0.1, the real TinyDB store, a
recording adapter (the platforms' edits: tests/adapters/test_story_edits.py)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from aiohttp import web

from bot.adapters.base import Delivered, Rejected
from bot.adapters.webhook import WebhookAdapter
from bot.delivery import EDIT_EVERY
from bot.model import Destination, DestinationName
from tests.factories import feed, item, rss, watch

WATCH = '"lady gaga" AND "britney spears"'
FIRST = "Lady Gaga and Britney Spears are preparing a duet, sources say"
REWORDINGS = [("Variety", "Britney Spears and Lady Gaga preparing duet, say sources"),
              ("Billboard", "Sources: Lady Gaga, Britney Spears preparing a duet"),
              ("NME", "Lady Gaga and Britney Spears said to be preparing duet"),
              ("Rolling Stone", "Britney Spears, Lady Gaga preparing duet, according to sources")]


def outlet(name: str, title: str, n: int = 0) -> bytes:
    slug = name.lower().replace(" ", "")
    published = datetime.now(timezone.utc) - timedelta(minutes=20 - n)
    return rss([item(title, guid=f"{slug}-{n}", link=f"https://{slug}.example/{n}", published=published)], title=name)


async def story_world(feed_server, harness, outlets: int = 5):
    urls = [feed_server.serve(f"/o{i}", rss([])) for i in range(outlets)]
    h = await harness([feed(u) for u in urls], [watch(WATCH)])
    await h.cycle()
    return h


async def test_a_rewording_updates_the_alert_instead_of_alerting_again(feed_server, harness):
    h = await story_world(feed_server, harness)
    h.adapter.script = [Delivered("4242")]
    feed_server.serve("/o0", outlet("Pop Daily", FIRST))
    await h.cycle()
    [(_, alert)] = h.adapter.delivered
    assert alert.story and alert.also == ()
    feed_server.serve("/o1", outlet(*REWORDINGS[0]))
    report = await h.cycle()
    assert report.alerts == 0 and report.repeats == 1
    assert len(h.adapter.delivered) == 1  # no second alert...
    [(dest, told, new)] = h.adapter.updates  # ...but the first one names Variety now
    assert dest == "console" and told.receipt == "4242" and told.alert.id == alert.id
    assert [s.outlet for s in new] == ["Variety"] and [s.outlet for s in told.alert.also] == ["Variety"]
    assert new[0].link == "https://variety.example/0"


async def test_updates_are_coalesced_to_one_a_minute(feed_server, harness):
    h = await story_world(feed_server, harness)
    feed_server.serve("/o0", outlet("Pop Daily", FIRST))
    await h.cycle()
    feed_server.serve("/o1", outlet(*REWORDINGS[0]))
    await h.cycle()
    assert len(h.adapter.updates) == 1  # the first update goes at once
    for i, (name, title) in enumerate(REWORDINGS[1:], start=2):
        h.clock.advance(5)
        feed_server.serve(f"/o{i}", outlet(name, title))
        await h.cycle()
    assert len(h.adapter.updates) == 1  # three more outlets within the minute: they wait...
    h.clock.advance(EDIT_EVERY)
    await h.deliver()
    assert len(h.adapter.updates) == 2  # ...and go as one edit
    _, told, new = h.adapter.updates[1]
    assert [s.outlet for s in new] == ["Billboard", "NME", "Rolling Stone"]
    assert [s.outlet for s in told.alert.also] == ["Variety", "Billboard", "NME", "Rolling Stone"]
    assert len(h.adapter.delivered) == 1 and h.engine.store.pending() == []


async def test_an_outlet_already_named_updates_nothing(feed_server, harness):
    h = await story_world(feed_server, harness)
    feed_server.serve("/o0", outlet("Pop Daily", FIRST))
    await h.cycle()
    feed_server.serve("/o0", outlet("Pop Daily", REWORDINGS[0][1], n=1))  # the same outlet, reworded
    await h.cycle()
    assert h.adapter.updates == [] and len(h.adapter.delivered) == 1 and h.engine.store.pending() == []


async def test_an_update_that_cannot_be_made_is_dropped_never_a_new_alert(feed_server, harness, caplog):
    h = await story_world(feed_server, harness)
    feed_server.serve("/o0", outlet("Pop Daily", FIRST))
    await h.cycle()
    h.adapter.update_script = [Rejected("Telegram: Bad Request: message to edit not found")]
    feed_server.serve("/o1", outlet(*REWORDINGS[0]))
    with caplog.at_level(logging.WARNING, "tipoff.delivery"):
        await h.cycle()
    assert "cannot be updated (Telegram: Bad Request: message to edit not found)" in caplog.text
    h.clock.advance(EDIT_EVERY)
    feed_server.serve("/o2", outlet(*REWORDINGS[1]))
    await h.cycle()
    h.clock.advance(EDIT_EVERY)
    await h.deliver()
    assert h.adapter.updates == [] and len(h.adapter.delivered) == 1  # nothing edited, nothing sent again
    assert h.engine.store.pending() == []  # and nothing left waiting


async def test_an_update_waits_for_its_alert_held_for_a_digest(feed_server, harness):
    h = await story_world(feed_server, harness)
    state = h.engine.store.destination_state("console")
    h.engine.store.put_destination_state(replace(state, digest="hourly"))
    feed_server.serve("/o0", outlet("Pop Daily", FIRST))
    feed_server.serve("/o1", outlet(*REWORDINGS[0]))
    await h.cycle()
    assert h.adapter.delivered == [] and h.adapter.updates == []  # the alert is held, its update waits for it
    assert {bool(i.message.coverage) for i in h.engine.store.pending()} == {True, False}
    h.clock.advance(3600)
    await h.deliver()
    assert len(h.adapter.digests) == 1
    [(_, told, _)] = h.adapter.updates  # the digest went: its alert is told the story grew
    assert told.in_digest


async def test_after_a_restart_the_update_still_edits_the_right_message(feed_server, harness):
    h = await story_world(feed_server, harness)
    h.adapter.script = [Delivered("1001")]
    feed_server.serve("/o0", outlet("Pop Daily", FIRST))
    await h.cycle()
    await h.restart()
    feed_server.serve("/o1", outlet(*REWORDINGS[0]))
    await h.cycle()
    [(_, told, _)] = h.adapter.updates
    assert told.receipt == "1001" and told.alert.entry.title == FIRST
    assert len(h.adapter.delivered) == 1


async def test_a_development_alerts_again_and_is_not_an_update(feed_server, harness):
    h = await story_world(feed_server, harness)
    feed_server.serve("/o0", outlet("Pop Daily", FIRST))
    await h.cycle()
    feed_server.serve("/o1", outlet("Variety", "Britney Spears confirms duet with Lady Gaga"))
    await h.cycle()
    assert h.adapter.titles() == [FIRST, "Britney Spears confirms duet with Lady Gaga"]
    assert h.adapter.updates == []


async def test_a_story_reported_by_several_before_a_chat_is_told_lists_them(feed_server, harness):
    """A chat whose watch fires only on a later report hears who carried the story before."""
    urls = [feed_server.serve(f"/o{i}", rss([])) for i in range(3)]
    h = await harness([feed(u) for u in urls], [watch(WATCH, "console"), watch(f"{WATCH} AND sources", "other")])
    await h.cycle()
    feed_server.serve("/o0", outlet("Pop Daily", "Lady Gaga and Britney Spears are preparing a duet"))
    feed_server.serve("/o1", outlet(*REWORDINGS[0]))
    await h.cycle()
    told_other = [i.message.alert for i in h.engine.store.pending("other")]  # no adapter for it: it waits
    assert [a.entry.title for a in told_other] == [REWORDINGS[0][1]]
    assert [s.outlet for s in told_other[0].also] == ["Pop Daily"]


async def test_a_webhook_is_posted_the_alert_then_an_update_event(feed_server, harness):
    received = []

    async def hook(request):
        received.append(await request.json())
        return web.Response(status=204)
    url = feed_server.serve("/hook", hook)
    feeds = [feed_server.serve(f"/o{i}", rss([])) for i in range(2)]
    hooked = Destination(DestinationName("hook"), "webhook", (("url", url),))
    adapter = WebhookAdapter(timeout=5)
    h = await harness([feed(u) for u in feeds], [watch(WATCH, "hook")], destinations=[hooked],
                      adapters={"webhook": adapter})
    try:
        await h.cycle()
        feed_server.serve("/o0", outlet("Pop Daily", FIRST))
        await h.cycle()
        feed_server.serve("/o1", outlet(*REWORDINGS[0]))
        await h.cycle()
    finally:
        await adapter.close()
    first, update = received
    assert first["event"] == "alert" and first["story"]["id"]
    assert [s["outlet"] for s in first["story"]["sources"]] == ["Pop Daily"]
    assert update["event"] == "update" and update["story"]["id"] == first["story"]["id"]
    assert update["story"]["alert_id"] == first["id"]
    assert [s["outlet"] for s in update["story"]["sources"]] == ["Pop Daily", "Variety"]
    assert update["new_sources"] == [{"outlet": "Variety", "title": REWORDINGS[0][1],
                                      "link": "https://variety.example/0"}]
