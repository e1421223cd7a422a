"""WebSub end to end on 127.0.0.1: a feed that names a local fake hub, tipoff's HTTP
endpoint as the callback. The hub verifies the intent, then pushes: a signed push
alerts without any poll, a forged one is ignored; polling continues at the long
safety-net interval and falls back to normal when push goes quiet."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.config import ConfigError, WebSubSettings, load_settings
from bot.feeds.schedule import poll_interval
from bot.web import WebServer
from bot.feeds.schedule import polled_interval
from bot.websub import HubLink, WebSub, discover, signature_ok
from bot.store.base import FeedState
from tests.factories import eventually
from tests.factories import feed, item, rss, watch
from tests.fakes.websub_hub import FakeHub
from tests.harness import DUET, STORY


def hubbed(items, hub: str, topic: str) -> bytes:
    body = rss(items)
    link = (f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="hub" href="{hub}"/>'
            f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="self" href="{topic}"/>').encode()
    return body.replace(b"<channel>", b"<channel>" + link, 1)


def test_discovery_reads_the_feed_head_and_the_link_header():
    body = hubbed([item("x")], "https://hub.example/", "https://pop.example/feed")
    assert discover(body, "https://pop.example/f") == HubLink("https://hub.example/", "https://pop.example/feed")
    atom = b'<feed><link rel="self" href="https://a.example/atom"/><link href="https://h.example/" rel="hub"/></feed>'
    assert discover(atom, "https://a.example/x").hub == "https://h.example/"
    assert discover(rss([item("x")]), "https://pop.example/f") is None
    assert discover(b"<rss/>", "https://p.example/f", '<https://h.example/>; rel="hub"').topic == "https://p.example/f"
    evil = b'<rss><channel><link rel="hub" href="javascript:alert(1)"/></channel></rss>'
    assert discover(evil, "https://p.example/f") is None
    late = rss([item('<link rel="hub" href="https://entry.example/"/>')])  # inside an entry: not the feed's
    assert discover(late, "https://p.example/f") is None


def test_signatures():
    import hashlib
    import hmac
    body = b"<rss/>"
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature_ok("s3cret", body, good)
    assert signature_ok("s3cret", body, "sha1=" + hmac.new(b"s3cret", body, hashlib.sha1).hexdigest())
    assert not signature_ok("other", body, good)
    assert not signature_ok("s3cret", body + b" ", good)
    assert not signature_ok("s3cret", body, None) and not signature_ok("s3cret", body, "md5=00")


def test_poll_interval_follows_push_health():
    s = WebSubSettings("https://t.example/websub", lease=86400, poll_every=21600, quiet_after=3600)
    live = FeedState("f", "u", push_until=10_000.0, last_push=1_000.0)
    assert polled_interval(600, live, 2_000, s) == 21600  # push works: safety net only
    assert polled_interval(600, live, 5_000, s) == 600  # quiet for over an hour: poll normally again
    assert polled_interval(600, replace(live, push_until=1_500.0), 2_000, s) == 600  # lease ran out
    assert polled_interval(600, None, 0, s) == 600


def test_websub_config():
    s = load_settings(None, text='[http]\nlisten = "127.0.0.1:8787"\n[websub]\n'
                                 'callback = "https://tipoff.example/websub"\npoll_every = "12h"\n')
    assert s.websub.callback == "https://tipoff.example/websub" and s.websub.poll_every == 43200
    with pytest.raises(ConfigError, match=r"websub.callback: needs \[http\] listen"):
        load_settings(None, text='[websub]\ncallback = "https://tipoff.example/websub"\n')


async def test_a_hub_push_alerts_without_a_poll_and_a_forged_push_is_ignored(feed_server, harness):
    hub = FakeHub()
    await hub.start()
    topic = feed_server.url("/f")
    url = feed_server.serve("/f", hubbed([item("old news")], hub.url, topic))
    h = await harness([feed(url, every=600)], [watch(DUET)])
    web = WebServer("127.0.0.1", 0, h.engine, h.store, clock=h.clock)
    await web.start()
    ws = WebSub(WebSubSettings(f"http://127.0.0.1:{web.port}/websub", lease=86400, poll_every=21600,
                               quiet_after=3600), h.engine, h.store, h.fetcher, clock=h.clock)
    web.websub = ws
    try:
        await h.cycle()  # the poll finds the hub and subscribes
        await eventually(lambda: topic in hub.subscriptions, what="the hub to verify the subscription")
        [request] = hub.requests
        assert request["hub.topic"] == topic and len(request["hub.secret"]) >= 32
        assert request["hub.callback"] == f"http://127.0.0.1:{web.port}/websub/{h.engine.feeds[0].id}"
        state = h.store.feed_state(h.engine.feeds[0].id)
        assert state.push_until == pytest.approx(h.clock.now + 86400)
        polls = len(feed_server.hits("/f"))

        pushed = hubbed([item(STORY, guid="pushed"), item("old news")], hub.url, topic)
        assert await hub.publish(topic, pushed) == 202
        await eventually(lambda: h.adapter.delivered, what="the pushed alert")
        assert h.adapter.titles() == [STORY]
        assert len(feed_server.hits("/f")) == polls  # no poll was needed

        forged = hubbed([item(STORY + " (forged)", guid="forged")], hub.url, topic)
        assert await hub.publish(topic, forged, secret="not the secret") == 202  # accepted, and ignored
        assert await hub.publish(topic, forged, method="sha1", secret="guess") == 202
        await h.deliver()
        assert h.adapter.titles() == [STORY]

        # while push works, the feed is polled only as a safety net
        state = h.store.feed_state(h.engine.feeds[0].id)
        assert state.next_due - h.clock.now >= 21600 * 0.9
        # a verification we never asked for is refused
        async with __import__("aiohttp").ClientSession() as s, s.get(
                f"http://127.0.0.1:{web.port}/websub/{h.engine.feeds[0].id}",
                params={"hub.mode": "subscribe", "hub.topic": "https://evil.example/", "hub.challenge": "x"}) as r:
            assert r.status == 404
        # the lease is renewed before it runs out
        assert ws.renew_due() == 0
        h.clock.advance(86400 * 0.85)
        assert ws.renew_due() == 1
        await eventually(lambda: len(hub.requests) == 2 and h.store.feed_state(h.engine.feeds[0].id).push_until
                         == pytest.approx(h.clock.now + 86400), what="the renewed lease")
        assert hub.requests[1]["hub.secret"] != hub.requests[0]["hub.secret"]  # a fresh secret each time
        pushed = hubbed([item(STORY + " 2", guid="pushed2"), item(STORY, guid="pushed")], hub.url, topic)
        assert await hub.publish(topic, pushed) == 202  # signed with the new secret
        await eventually(lambda: len(h.adapter.delivered) == 2, what="a push after renewal")
        # push goes quiet: back to the feed's own interval at the next poll
        h.clock.advance(3700)
        feed_server.serve("/f", hubbed([item("more news", guid="n2"), item("old news")], hub.url, topic))
        await h.cycle()
        state = h.store.feed_state(h.engine.feeds[0].id)
        normal = poll_interval(h.engine.feeds[0], state.gap, state.lower_bound, h.settings.poll)
        assert normal < 21600 and state.next_due - h.clock.now == pytest.approx(normal)  # adaptive, not push
    finally:
        await ws.close()
        await web.close()
        await hub.stop()


async def test_a_hub_on_the_operators_network_is_not_contacted_even_for_a_config_feed(feed_server, tmp_path):
    """A hub's address comes from the feed's content: the address policy applies to it
    whichever feed named it, the operator's own included (the feed itself is fetched)."""
    from bot.config import FetchSettings
    from tests.harness import Harness

    hub = FakeHub()
    await hub.start()
    topic = feed_server.url("/f")
    url = feed_server.serve("/f", hubbed([item("old news")], hub.url, topic))
    h = Harness(tmp_path, [feed(url, every=600)], [watch(DUET)])
    h.settings = replace(h.settings, fetch=FetchSettings(timeout=5.0))  # no [fetch] allow: 127.0.0.1 forbidden
    await h.start()
    ws = WebSub(WebSubSettings("https://tipoff.example/websub"), h.engine, h.store, h.fetcher, clock=h.clock)
    try:
        await h.cycle()
        assert feed_server.hits("/f")  # the config feed itself is trusted
        await eventually(lambda: h.store.feed_state(h.engine.feeds[0].id).hub_retry_at is not None,
                         what="the refused subscription")
        assert hub.requests == []
    finally:
        await ws.close()
        await h.stop()
        await hub.stop()
