"""What the poller does when feeds misbehave: backoff, Retry-After, moves, gone,
failing for a day, and polite intervals. Feeds served on 127.0.0.1."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.config import PollSettings
from bot.feeds.schedule import due_feeds, observed_gap, poll_interval
from bot.model import Subscription
from tests.factories import NOW, feed, item, rss
from tests.fakes.feed_server import Served
from tests.fakes.recording import RecordingAdapter
from tests.harness import Harness

CHAT = "telegram:-1001"


@pytest.fixture
async def harness(tmp_path):
    made = []

    async def make(feeds, watches=(), **poll):
        adapter = RecordingAdapter()
        h = await Harness(tmp_path, feeds, watches, adapter=adapter, **poll).start()
        h.engine.adapters = {"console": adapter, "telegram": adapter}  # type: ignore[misc]
        h.engine.delivery.adapters = h.engine.adapters
        made.append(h)
        return h
    yield make
    for h in made:
        await h.stop()


def subscribe(h, url, dest=CHAT):
    h.store.put_subscription(Subscription(f"f{len(h.store.subscriptions())}", dest, url, 60.0, NOW))
    h.engine.feeds_changed()


async def test_failures_back_off_exponentially(feed_server, harness):
    url = feed_server.serve("/f", Served(b"", status=500))
    h = await harness([feed(url, every=60)])
    delays = []
    for _ in range(4):
        await h.cycle()
        delays.append(h.store.feed_state(feed(url).id).next_due - h.clock())
        h.clock.advance(delays[-1])
    assert delays == pytest.approx([60, 120, 240, 480])  # doubling (no jitter here), not growing by 60


async def test_retry_after_on_429_is_honoured(feed_server, harness):
    url = feed_server.serve("/f", Served(b"", status=429, headers={"Retry-After": "900"}))
    h = await harness([feed(url, every=60)])
    await h.cycle()
    assert h.store.feed_state(feed(url).id).next_due >= h.clock() + 900


async def test_a_permanent_redirect_moves_the_feed(feed_server, harness):
    new = feed_server.serve("/new", rss([item("x")]))
    old = feed_server.serve("/old", Served(b"", status=301, headers={"Location": "/new"}))
    h = await harness([feed(old)])
    await h.cycle()
    assert h.store.feed_state(feed(old).id).moved_to == new
    h.clock.advance(3600)
    await h.cycle()
    assert len(feed_server.hits("/old")) == 1 and len(feed_server.hits("/new")) == 2


async def test_a_temporary_redirect_does_not_move_it(feed_server, harness):
    feed_server.serve("/new", rss([item("x")]))
    old = feed_server.serve("/old", Served(b"", status=302, headers={"Location": "/new"}))
    h = await harness([feed(old)])
    await h.cycle()
    assert h.store.feed_state(feed(old).id).moved_to is None


async def test_410_stops_the_feed_and_tells_its_chats_once(feed_server, harness):
    url = feed_server.serve("/f", Served(b"", status=410))
    h = await harness([])
    subscribe(h, url)
    await h.cycle()
    state = h.store.feed_state(feed(url).id)
    assert state.stopped and "410" in state.stopped
    assert len(h.adapter.notices) == 1
    dest, text = h.adapter.notices[0]
    assert dest == CHAT and "gone for good" in text and "resume" in text
    for _ in range(3):
        h.clock.advance(3600)
        due = due_feeds(h.engine.feeds, h.engine._states(), h.clock())
        assert due == []  # the scheduler never offers a stopped feed again
        await h.engine.poll_cycle(due)
        await h.deliver()
    assert len(feed_server.hits("/f")) == 1 and len(h.adapter.notices) == 1


async def test_a_feed_failing_for_a_day_is_paused_and_its_chats_told(feed_server, harness):
    url = feed_server.serve("/f", Served(b"", status=503))
    h = await harness([], pause_after=86400.0, max_backoff=7200.0)
    subscribe(h, url)
    subscribe(h, url, dest="telegram:-1002")
    for _ in range(20):
        await h.cycle()
        state = h.store.feed_state(feed(url).id)
        if state.stopped:
            break
        h.clock.advance(state.next_due - h.clock())
    assert state.stopped and "failed for" in state.stopped
    assert h.clock() - state.failing_since >= 86400
    assert sorted(d for d, _ in h.adapter.notices) == [CHAT, "telegram:-1002"]
    assert "HTTP 503" in h.adapter.notices[0][1]


async def test_success_clears_the_failure_streak(feed_server, harness):
    url = feed_server.serve("/f", Served(b"", status=500))
    h = await harness([feed(url)])
    await h.cycle()
    feed_server.serve("/f", rss([item("x")]))
    h.clock.advance(3600)
    await h.cycle()
    state = h.store.feed_state(feed(url).id)
    assert (state.failures, state.failing_since, state.last_error) == (0, None, None)


async def test_ttl_and_cache_control_are_lower_bounds(feed_server, harness):
    ttl_body = rss([item("x")]).replace(b"<link>", b"<ttl>90</ttl><link>", 1)
    a = feed_server.serve("/ttl", ttl_body)
    b = feed_server.serve("/cc", rss([item("y")]), headers={"Cache-Control": "public, max-age=1800"})
    h = await harness([feed(a, every=60), feed(b, every=60)])
    await h.cycle()
    assert h.store.feed_state(feed(a).id).next_due - h.clock() >= 90 * 60
    assert h.store.feed_state(feed(b).id).next_due - h.clock() >= 1800


def test_adaptive_interval_stretches_for_rarely_changing_feeds():
    poll = PollSettings(jitter=0.0, max_every=3600.0)
    f = feed("https://x.example/f", every=300)
    assert poll_interval(f, None, None, poll) == 300
    assert poll_interval(f, 7200.0, None, poll) == 3600  # half the gap, capped at max_every
    assert poll_interval(f, 900.0, None, poll) == 450
    assert poll_interval(f, 60.0, None, poll) == 300  # never below the configured interval
    assert poll_interval(f, None, 10**9, poll) == 86400  # a server's bound is honoured up to a day
    assert poll_interval(f, 7200.0, None, replace(poll, adaptive=False)) == 300
    gap = None
    for _ in range(20):
        gap = observed_gap(gap, 0.0, 7200.0)
    assert abs(gap - 7200.0) < 1
