"""The data path's decisions as plain functions: no loop, no network, no files."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timezone

from bot import pipeline
from bot.config import PollSettings
from bot.feeds.errors import FeedError
from bot.feeds.fetch import FetchResult
from bot.model import DestinationName, Match, ParsedFeed, TermHit
from bot.store.base import DestinationState, FeedState
from tests.factories import entry, feed, watch

POLL = PollSettings(jitter=0.0)
F = feed("https://pop.example/feed", every=600)
NOW = 1_800_000_000.0


def fetched(body: bytes = b"<rss/>", status: int = 200, **kw) -> FetchResult:
    return FetchResult(F.url, status, body, kw.get("etag"), kw.get("last_modified"), "application/rss+xml",
                       kw.get("permanent_url"), kw.get("max_age"))


def parsed(*entries) -> ParsedFeed:
    return ParsedFeed(title="Pop", link="", entries=tuple(entries), kind="rss")


def test_a_failure_backs_off_and_a_410_stops_the_feed():
    state = FeedState(F.id, F.url, polls=3)
    first = pipeline.absorb_failure(F, state, FeedError("http", "HTTP 500"), NOW, POLL, random.Random(1))
    assert first.state.failures == 1 and first.state.next_due == NOW + 600 and first.stopped is None
    gone = pipeline.absorb_failure(F, first.state, FeedError("gone", "HTTP 410"), NOW, POLL, random.Random(1))
    assert gone.stopped and "410" in gone.stopped and gone.state.stopped == gone.stopped
    long_ago = replace(first.state, failing_since=NOW - POLL.pause_after - 1)
    paused = pipeline.absorb_failure(F, long_ago, FeedError("http", "HTTP 500"), NOW, POLL, random.Random(1))
    assert paused.stopped and "failed for" in paused.stopped


def test_not_modified_keeps_the_validators_and_finds_nothing_new():
    state = FeedState(F.id, F.url, etag='"a"', last_modified="Mon", polls=2)
    decided = pipeline.absorb(F, state, fetched(b"", 304), None, frozenset(), NOW, POLL, random.Random(1))
    assert (decided.state.etag, decided.state.last_modified, decided.state.polls) == ('"a"', "Mon", 3)
    assert decided.fresh == () and not decided.changed and decided.state.next_due == NOW + 600


def test_a_changed_body_gives_the_entries_new_in_the_feed_oldest_first():
    old, a, b = (entry(t, feed=F.id, published=datetime(2027, 1, 1, h, tzinfo=timezone.utc))
                 for t, h in (("old", 1), ("a", 2), ("b", 3)))
    from bot.dedupe import entry_key

    state = FeedState(F.id, F.url, polls=1)
    known = {entry_key(old): NOW - 60}
    now = datetime(2027, 1, 1, 4, tzinfo=timezone.utc).timestamp()
    decided = pipeline.absorb(F, state, fetched(), parsed(b, a, old), known, now, POLL, random.Random(1))
    assert [e.title for e in decided.fresh] == ["a", "b"] and decided.changed
    assert set(decided.present) == {entry_key(e) for e in (old, a, b)}
    assert decided.state.title == "Pop" and decided.state.polls == 2 and decided.state.body_hash


def test_the_first_poll_announces_only_the_backfill():
    entries = [entry(f"e{i}", feed=F.id, published=datetime(2027, 1, 1, i, tzinfo=timezone.utc)) for i in range(5)]
    now = datetime(2027, 1, 1, 6, tzinfo=timezone.utc).timestamp()
    first = pipeline.absorb(replace(F, backfill=2), FeedState(F.id, F.url), fetched(), parsed(*entries),
                            frozenset(), now, POLL, random.Random(1))
    assert [e.title for e in first.fresh] == ["e3", "e4"] and len(first.present) == 5


def test_watches_fire_per_destination_unless_snoozed_or_not_for_this_feed():
    w1, w2, w3 = watch("duet", "fans", id="w1"), watch("gaga", "fans", "club", id="w2"), watch("x", "club", id="w3")
    watches = {w.id: w for w in (w1, replace(w2, snoozed_until=NOW + 60), w3)}
    hit = (TermHit("duet", "title", 0, 4),)
    matches = [Match(w1.id, hit), Match(w2.id, hit), Match(w3.id, hit)]
    fired = pipeline.fired_watches(matches, watches, lambda w: w.id != "w3", NOW)
    assert {d: [f.watch_id for f in fs] for d, fs in fired.items()} == {"fans": ["w1"]}


def test_plan_skips_paused_and_gone_destinations_and_holds_for_quiet_hours():
    e = entry("Gaga duet", feed=F.id)
    w = watch("duet", "fans", "club", "away", id="w1")
    fired = pipeline.fired_watches([Match(w.id, (TermHit("duet", "title", 5, 9),))], {w.id: w}, lambda _: True, NOW)
    settings = {DestinationName("club"): DestinationState(DestinationName("club"), paused=True),
                DestinationName("away"): DestinationState(DestinationName("away"), active=False),
                DestinationName("fans"): DestinationState(DestinationName("fans"),
                                                          quiet="00:00-23:59 UTC")}
    [planned] = pipeline.plan(e, F, "Pop", fired, settings, {w.id: w}, NOW)
    assert planned.destination == "fans" and planned.alert.id.startswith("fans:")
    assert planned.hold.why == "quiet" and planned.hold.until > NOW
    assert planned.alert.story_keys and planned.alert.feed_title == "Pop"


def test_a_host_asking_to_slow_down_is_no_failure_of_the_feed():
    state = FeedState(F.id, F.url, polls=3, failures=2, failing_since=NOW - 60)
    for kind in ("throttled", "paced"):
        decided = pipeline.absorb_failure(F, state, FeedError(kind, "wait", retry_after=90.0), NOW, POLL,
                                          random.Random(1))
        assert decided.state.next_due == NOW + 90.0 and decided.state.failures == 2 and decided.stopped is None
        assert decided.state.last_error.endswith("wait")
