"""The Store contract, one suite run against both implementations: TinyDB (the
embedded default) and Redis (a real redis-server on 127.0.0.1)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.model import Alert, Coverage, DestinationName, Fate, FeedId, RecentEntry, Outgoing, Reported, Source, Subscription, Told, Watch, WatchId
from bot.store.base import DestinationState, FeedState
from bot.store.redis import RedisStore
from bot.store.tinydb import TinyDBStore
from tests.factories import entry, note, redis_prefix

DAY = 86400.0
T0 = datetime(2026, 11, 25, tzinfo=timezone.utc)


@pytest.fixture(params=["tinydb", "redis"])
def make(request, tmp_path):
    """make() → a freshly opened store over the same data: calling it again is a restart."""
    opened = []
    if request.param == "tinydb":
        def build(**kw):
            return TinyDBStore(tmp_path, **kw)
    else:
        url = request.getfixturevalue("redis_url")
        prefix = redis_prefix()

        def build(**kw):
            return RedisStore(url, prefix=prefix, retention=90 * DAY, **kw)

    async def factory(**kw):
        if request.param == "redis":
            for earlier in opened:  # still open: the process "crashed" (a restart after close is clean)
                if earlier._r is not None:
                    await died(earlier)
        store = build(**kw)
        await store.open()
        opened.append(store)
        return store
    yield factory


async def died(store):
    """What a killed worker leaves behind once its lease ran out: its name is free, its
    entries stay pending under that name (so a restart under the name finds them)."""
    if store._keeper is not None:
        store._keeper.cancel()
    await store._r.delete(store._k("alive", store.consumer))


async def announces(store, dest, keys, item_id, now=2000.0):
    """Whether a story gets through: claimed, queued and durable. (Redis decides claims
    for good at the flush, atomically with queueing, so a repeat may pass claim_and_queue
    and still be dropped there; either way it is never offered.)"""
    store.claim_and_queue(dest, keys, now, note(item_id), item_id)
    await store.flush()
    return item_id in {i.id for i in store.pending(dest)}


async def restart(store, make):
    await store.close()
    return await make()


async def test_feed_state_and_known_entries_survive_a_restart(make):
    store = await make()
    store.put_feed_state(FeedState("f1", "https://a.example/feed", etag='"x"', polls=3, push_until=5.0))
    store.remember_entries("f1", ["k1", "k2"], 1000.0)
    await store.flush()
    store.remember_entries("f1", ["k3"], 1001.0)  # flushed by close
    again = await restart(store, make)
    assert again.feed_state("f1").etag == '"x"' and again.feed_state("f1").push_until == 5.0
    assert set(again.known_entries("f1")) == {"k1", "k2", "k3"}
    await again.close()


async def test_story_headlines_survive_a_restart_within_their_window(make):
    store = await make()
    for i, at in enumerate((1000.0, 2000.0, 3000.0)):
        store.remember_headline(Reported(f"k{i}", at, f"Headline {i}", source="Billboard", sites=("Variety",)),
                                keep_after=0.0)
    await store.flush()
    again = await restart(store, make)
    assert [r.key for r in await again.recent_headlines(1500.0)] == ["k1", "k2"]
    assert (await again.recent_headlines(0.0))[0] == Reported("k0", 1000.0, "Headline 0", source="Billboard",
                                                               sites=("Variety",))
    again.remember_headline(Reported("k3", 9000.0, "Later"), keep_after=2500.0)  # the older ones are forgotten
    await again.flush()
    third = await restart(again, make)
    assert [r.key for r in await third.recent_headlines(0.0)] == ["k2", "k3"]
    await third.close()


async def test_a_story_is_claimed_once_per_destination(make):
    store = await make()
    assert store.claim_and_queue("fans", ["i:1", "u:a", "t:x"], 1000.0, note(1), "a1")
    assert not store.claim_and_queue("fans", ["u:a"], 1001.0, note(9), "a-repeat")  # the same story by its URL
    assert store.claim_and_queue("others", ["u:a"], 1001.0, note(2), "b1")  # another destination may have it
    await store.flush()
    again = await restart(store, make)
    assert not await announces(again, "fans", ["i:1"], "a1-again")
    assert await announces(again, "fans", ["i:2"], "a2")
    assert [i.id for i in again.pending("fans")] == ["a1", "a2"] and [i.id for i in again.pending("others")] == ["b1"]
    await again.close()


async def test_alerts_are_offered_only_once_durable_and_in_order(make):
    store = await make()
    for n in range(5):
        assert store.claim_and_queue("fans", [f"i:{n}"], 1000.0, note(n), f"a{n}")
    assert store.pending() == []  # not before the write that makes them durable
    await store.flush()
    assert [i.id for i in sorted(store.pending("fans"), key=lambda i: i.seq)] == [f"a{n}" for n in range(5)]
    await store.acknowledge("a0")
    store.postpone("a1", 5000.0, "busy")
    store.delivered("a2")
    await store.flush()
    again = await restart(store, make)
    waiting = {i.id: i for i in again.pending()}
    assert set(waiting) == {"a1", "a3", "a4"}
    assert waiting["a1"].attempts == 1 and waiting["a1"].next_try == 5000.0 and waiting["a1"].last_error == "busy"
    assert waiting["a3"].message == note(3)
    await again.close()


async def test_an_acknowledged_alert_is_gone_even_without_a_flush(make):
    store = await make()
    assert store.claim_and_queue("fans", ["i:1"], 1000.0, note(1), "a1")
    await store.flush()
    await store.acknowledge("a1")
    # a crash right here: no flush, no close
    again = await make()
    assert again.pending() == []
    await again.close()


async def test_held_alerts_keep_their_time(make):
    store = await make()
    assert store.claim_and_queue("fans", ["i:1"], 1000.0, note(1, hold="digest"), "a1", not_before=4600.0)
    again = await restart(store, make)
    [item] = again.pending()
    assert item.next_try == 4600.0 and item.message.hold == "digest"
    await again.close()


async def test_the_alert_told_for_a_story_and_its_coverage_survive_a_restart(make):
    """What a story's later reports update (the alert sent, its message id) is kept; an
    update waiting for its minute keeps its time and counts no failure."""
    store = await make()
    alert = Alert("fans:k-first", DestinationName("fans"), entry("Duet", url="https://pop.example/1"), "Pop Daily",
                  "https://pop.example/feed", (), datetime(2026, 11, 26, tzinfo=timezone.utc), ("sabc",), "k-first",
                  Source("Pop Daily", "Duet", "https://pop.example/1"), (Source("NME"),))
    store.remember_told(Told(DestinationName("fans"), "k-first", alert, "4242", 1000.0))
    store.enqueue("fans", Outgoing(coverage=Coverage("k-first", Source("Variety", "Duet!", "https://v.example/1"))),
                  "fans:c1")
    await store.flush()
    [item] = store.pending("fans")
    store.defer(item.id, 1060.0)
    await store.flush()
    again = await restart(store, make)
    told = await again.told(DestinationName("fans"), "k-first")
    assert told is not None and told.receipt == "4242" and told.alert == alert
    assert await again.told(DestinationName("others"), "k-first") is None
    [item] = again.pending("fans")
    assert item.message.coverage == Coverage("k-first", Source("Variety", "Duet!", "https://v.example/1"))
    assert item.next_try == 1060.0 and item.attempts == 0
    await again.close()


async def test_recent_entries_survive_a_restart_for_their_window(make):
    import time
    now = time.time()
    store = await make(recent_window=3600.0)
    fate = Fate("fans", "alerted", "fans:k1")
    store.remember_recent([RecentEntry("k1", FeedId("f1"), now - 100, "Duet", "Lady Gaga and Britney", "https://a/1",
                                       "https://a/1", now - 200, "Pop Daily", (fate,)),
                           RecentEntry("k2", FeedId("f1"), now - 50, "Tour")])
    await store.close()
    again = await make(recent_window=3600.0)
    got = await again.recent_entries(now - 3600)
    assert [e.key for e in got] == ["k1", "k2"] and got[0].fates == (fate,) and got[0].published == now - 200
    assert [e.key for e in await again.recent_entries(now - 60)] == ["k2"]
    again.prune(now + 3600 - 75, 90 * DAY)  # k1 is past the window now, k2 not yet
    await again.close()
    third = await make(recent_window=3600.0)
    assert [e.key for e in await third.recent_entries(0)] == ["k2"]
    await third.close()


async def test_alerts_a_day_are_counted_by_chat_and_watch_and_kept_a_month(make):
    store = await make()
    store.count_alert("2026-11-25", "fans", ("w1", "w2"))
    store.count_alert("2026-11-26", "fans", ("w1",))
    await store.flush()
    store.count_alert("2026-11-26", "fans", ("w1",))  # not yet written: counted too
    assert sorted(await store.alert_counts("2026-11-26")) == [("2026-11-26", "fans", "w1", 2)]
    again = await restart(store, make)
    assert sorted(await again.alert_counts("2026-01-01")) == [
        ("2026-11-25", "fans", "w1", 1), ("2026-11-25", "fans", "w2", 1), ("2026-11-26", "fans", "w1", 2)]
    await again.close()


async def test_destinations_subscriptions_and_watches(make):
    store = await make()
    store.put_destination_state(DestinationState(DestinationName("telegram:-1"), quiet="23:00-07:00 UTC"))
    store.put_subscription(Subscription("f1", DestinationName("telegram:-1"), "https://a.example/", 600.0, T0))
    store.put_subscription(Subscription("f2", DestinationName("telegram:-1"), "https://b.example/", 600.0, T0))
    store.put_watch(Watch(WatchId("w1"), "duet", (DestinationName("telegram:-1"),), T0,
                          owner=DestinationName("telegram:-1"), snoozed_until=9.0, digest="hourly"))
    assert store.remove_subscription("f2").url == "https://b.example/"
    again = await restart(store, make)
    assert again.destination_state("telegram:-1").quiet == "23:00-07:00 UTC"
    assert [s.id for s in again.subscriptions("telegram:-1")] == ["f1"]
    [w] = again.watches("telegram:-1")
    assert (w.rule, w.snoozed_until, w.digest) == ("duet", 9.0, "hourly")
    assert again.remove_watch("w1") is not None and again.watches() == []
    third = await restart(again, make)
    assert third.watches() == []
    await third.close()


async def test_renaming_a_destination_moves_everything(make):
    store = await make()
    old, new = DestinationName("telegram:-1"), DestinationName("telegram:-1001")
    store.put_subscription(Subscription("f1", old, "https://a.example/", 600.0, T0))
    store.put_watch(Watch(WatchId("w1"), "duet", (old,), T0, owner=old))
    assert store.claim_and_queue(old, ["i:1"], 1000.0, note(1), "a1")
    await store.flush()
    store.rename_destination(old, new)
    again = await restart(store, make)
    assert [s.destination for s in again.subscriptions()] == [new]
    assert again.watches()[0].owner == new
    assert [i.destination for i in again.pending()] == [new]
    assert not await announces(again, new, ["i:1"], "a1-again")  # its announced stories moved too
    await again.close()


async def test_title_fingerprints_only_count_for_three_days(make):
    store = await make()
    assert await announces(store, "fans", ["t:gaga britney duet"], "a1", now=1000.0)
    assert not await announces(store, "fans", ["t:gaga britney duet"], "a2", now=1000.0 + DAY)
    if isinstance(store, RedisStore):  # in Redis the fingerprint expires by itself: age it
        await store._require().expire(store._k("story", "fans", "t:gaga britney duet"), 1)
        import asyncio
        await asyncio.sleep(1.1)
    assert await announces(store, "fans", ["t:gaga britney duet"], "a3", now=1000.0 + 4 * DAY)
    await store.close()


async def test_a_story_thread_counts_for_the_configured_story_window(make):
    store = await make(story_window=DAY)
    assert await announces(store, "fans", ["s:thread-1"], "a1", now=1000.0)
    assert not await announces(store, "fans", ["s:thread-1"], "a2", now=1000.0 + DAY / 2)
    if isinstance(store, RedisStore):  # Redis ages the claim by itself: it was given the window
        key = store._k("story", "fans", "s:thread-1")
        assert DAY - 60 <= await store._require().ttl(key) <= DAY
        await store._require().expire(key, 1)
        import asyncio
        await asyncio.sleep(1.1)
    assert await announces(store, "fans", ["s:thread-1"], "a3", now=1000.0 + 2 * DAY)
    await store.close()


async def test_prune_forgets_old_known_entries(make):
    store = await make()
    store.put_feed_state(FeedState("f1", "u", last_changed=100 * DAY))
    store.remember_entries("f1", ["old"], 1.0)
    store.remember_entries("f1", ["new"], 100 * DAY)
    assert store.prune(100 * DAY, 30 * DAY) == 1
    again = await restart(store, make)
    assert set(again.known_entries("f1")) == {"new"}
    await again.close()


async def workers(redis_url, *names, lease=120.0):
    """Stores of workers sharing one Redis under a fresh prefix, opened."""
    prefix = redis_prefix()
    stores = [RedisStore(redis_url, prefix=prefix, consumer=name, lease=lease) for name in names]
    for store in stores:
        await store.open()
    return stores


async def test_two_workers_never_both_announce_one_story(redis_url):
    """Two processes' stores on one Redis claim the same story in the same cycle: the
    atomic claim-and-queue lets exactly one alert through."""
    a, b = await workers(redis_url, "worker-a", "worker-b")
    for store, item in ((a, "fans:from-a"), (b, "fans:from-b")):
        assert store.claim_and_queue("fans", ["i:story", "u:https://pop.example/duet"], 1000.0, note(1), item)  # tentative
    await a.flush()
    await b.flush()
    queued = [i.id for s in (a, b) for i in s.pending()]
    assert queued == ["fans:from-a"]
    third = RedisStore(redis_url, prefix=a.p, consumer="worker-c")
    await third.open()
    assert third.pending() == []  # a's alert is a's (pending in the group for worker-a)
    for s in (a, b, third):
        await s.close()


async def test_the_whole_pipeline_runs_on_redis(redis_url, feed_server, tmp_path):
    """The engine on the Redis store: no flood on the first poll, one alert for a new
    entry, nothing again after a restart."""
    from bot.engine import Engine
    from bot.feeds.fetch import Fetcher
    from tests.factories import feed, item, rss, settings, watch
    from tests.fakes.recording import RecordingAdapter

    prefix = redis_prefix()
    url = feed_server.serve("/f", rss([item("old news")]))
    s = settings(tmp_path, [feed(url)], [watch('"lady gaga" duet')])
    adapter = RecordingAdapter()

    async def run_once():
        store = RedisStore(redis_url, prefix=prefix)
        await store.open()
        async with Fetcher(s.fetch) as fetcher:
            engine = Engine(s, store, fetcher, {"console": adapter})
            await engine.poll_cycle(engine.feeds)
            await engine.delivery.settle()
            await engine.write_store()
        await store.close()

    await run_once()
    assert adapter.delivered == []
    feed_server.serve("/f", rss([item("Lady Gaga confirms the duet", guid="d1"), item("old news")]))
    await run_once()
    await run_once()
    assert adapter.titles() == ["Lady Gaga confirms the duet"]


async def test_workers_split_due_feeds_with_leases_and_take_over_from_a_dead_one(redis_url):
    import asyncio
    from dataclasses import replace as _replace

    from tests.factories import feed

    feeds = [feed(f"https://feeds.example/{i}") for i in range(10)]
    a, b = await workers(redis_url, "worker-a", "worker-b", lease=1.0)
    now = 1000.0
    mine = await a.claim_due(feeds, now)
    assert len(mine) == 10 and await b.claim_due(feeds, now) == []  # each feed leased to one worker
    for f in mine[:5]:  # a polls five, then dies before the others
        a.put_feed_state(FeedState(f.id, f.url, polls=1, next_due=now + 60))
        a.remember_entries(f.id, [f"seen-by-a-{f.id}"], now)
    assert a.claim_and_queue("fans", ["i:x"], now, note(1), "in-flight")
    await a.flush()  # a took its alert from the stream, and will never acknowledge it
    assert [i.id for i in a.pending()] == ["in-flight"]
    a._keeper.cancel()  # a dies: nothing keeps its entries fresh any more
    assert await b.claim_due(feeds, now + 1) == []  # the five polled are not due; five still leased
    await asyncio.sleep(1.2)  # a's leases run out
    taken = await b.claim_due(feeds, now + 2)
    assert sorted(f.id for f in taken) == sorted(f.id for f in mine[5:])
    assert await b.reclaim_stale() == 1 and [i.id for i in b.pending()] == ["in-flight"]
    later = await b.claim_due(feeds, now + 61)
    assert sorted(f.id for f in later) == sorted(f.id for f in mine[:5])
    assert b.feed_state(mine[0].id).polls == 1  # a's last state, read back from Redis
    assert f"seen-by-a-{mine[0].id}" in b.known_entries(mine[0].id)
    await b.acknowledge("in-flight")
    stopped = mine[1]
    b.put_feed_state(_replace(b.feed_state(stopped.id), stopped="gone", next_due=now + 1))
    await b.flush()
    assert stopped.id not in {f.id for f in await b.claim_due(feeds, now + 10_000)}  # a stopped feed is never due
    a._r, r = None, a._r
    a._keeper = None
    await r.aclose()
    await b.close()


async def test_a_live_worker_keeps_its_alerts(redis_url):
    """Alerts waiting their turn in a live worker (order, retries) are not taken over."""
    import asyncio

    a, b = await workers(redis_url, "worker-a", "worker-b", lease=0.6)
    assert a.claim_and_queue("fans", ["i:x"], 1000.0, note(1), "waiting")
    await a.flush()
    await asyncio.sleep(1.5)  # longer than the lease: a refreshed it meanwhile
    assert await b.reclaim_stale() == 0 and b.pending() == [] and [i.id for i in a.pending()] == ["waiting"]
    await a.close()
    await b.close()


async def test_a_chat_change_on_one_worker_reaches_the_others(redis_url):
    a, b = await workers(redis_url, "worker-a", "worker-b")
    assert not await b.refresh_settings()  # nothing changed yet
    chat = DestinationName("telegram:-1")
    a.put_watch(Watch(WatchId("w1"), "duet", (chat,), T0, owner=chat))
    a.put_subscription(Subscription("f1", chat, "https://a.example/", 600.0, T0))
    a.put_destination_state(DestinationState(chat, quiet="23:00-07:00 UTC"))
    await a.flush()
    b.put_watch(Watch(WatchId("w2"), "gaga", (chat,), T0, owner=chat))  # b's own, not yet committed
    assert await b.refresh_settings()
    assert {w.id for w in b.watches(chat)} == {"w1", "w2"}
    assert [s.id for s in b.subscriptions(chat)] == ["f1"]
    assert b.destination_state(chat).quiet == "23:00-07:00 UTC"
    assert not await b.refresh_settings()
    a.remove_watch(WatchId("w1"))
    await a.flush()
    assert await b.refresh_settings() and {w.id for w in b.watches(chat)} == {"w2"}
    await a.close()
    await b.close()


async def _queue(store, dest, item_id):
    assert store.claim_and_queue(dest, [f"i:{item_id}"], 1000.0, note(item_id), item_id)
    await store.flush()


def _order(store, dest):
    return [i.id for i in sorted(store.pending(dest), key=lambda i: i.seq)]


async def test_one_worker_sends_a_destinations_alerts_in_queueing_order(redis_url):
    """Two workers queue alerts for one chat, interleaved: every one of them ends up with
    the worker that sends for that chat, in the order they were queued (so one retry
    holds back the rest, whoever found them); another chat can go to the other worker."""
    a, b = await workers(redis_url, "worker-a", "worker-b")
    await _queue(a, "fans", "a0")  # a reads it first: a sends for "fans" now
    await _queue(b, "fans", "b0")  # b reads this one, and hands it to a
    await _queue(a, "fans", "a1")
    await _queue(b, "club", "b-club")  # nobody sends for "club" yet: b does
    await _queue(b, "fans", "b1")
    assert b.pending("fans") == [] and _order(b, "club") == ["b-club"]
    assert await a.reclaim_stale() == 2  # the two b handed over
    assert _order(a, "fans") == ["a0", "b0", "a1", "b1"] and a.pending("club") == []
    a.postpone("a0", 5000.0, "429 Too Many Requests")  # a retry at a holds back b's finds too
    await a.flush()
    await _queue(b, "fans", "b2")
    assert await a.reclaim_stale() == 1 and _order(a, "fans") == ["a0", "b0", "a1", "b1", "b2"]
    for s in (a, b):
        await s.close()


async def test_a_dead_senders_chat_moves_to_one_worker_whole_and_in_order(redis_url):
    import asyncio

    a, b, c = await workers(redis_url, "worker-a", "worker-b", "worker-c", lease=0.8)
    await _queue(a, "fans", "a0")
    a._keeper.cancel()  # a dies holding "fans"
    await _queue(b, "fans", "b0")  # handed to a, which is not there to take it
    assert await b.reclaim_stale() == 0 and await c.reclaim_stale() == 0  # a's lease still runs
    await asyncio.sleep(1.0)
    assert await c.reclaim_stale() == 2  # c is first to look: it takes the chat, both alerts
    assert _order(c, "fans") == ["a0", "b0"]
    await _queue(b, "fans", "b1")  # c sends for "fans" now
    assert await b.reclaim_stale() == 0 and await c.reclaim_stale() == 1
    assert _order(c, "fans") == ["a0", "b0", "b1"] and b.pending() == []
    a._r, r = None, a._r
    a._keeper = None
    await r.aclose()
    for s in (b, c):
        await s.close()


async def test_a_worker_that_stops_hands_back_its_chats_and_feeds_at_once(redis_url):
    """A graceful stop (a rolling restart) leaves nothing waiting for its leases (a
    minute here) to run out: the next worker to look takes its chats' alerts, whole and
    in order, and polls the feeds it had claimed but not polled."""
    from tests.factories import feed

    a, b = await workers(redis_url, "worker-a", "worker-b", lease=60.0)
    feeds = [feed(f"https://feeds.example/{i}") for i in range(4)]
    assert len(await a.claim_due(feeds, 1000.0)) == 4
    a.put_feed_state(FeedState(feeds[0].id, feeds[0].url, polls=1, next_due=5000.0))  # polled one
    await _queue(a, "fans", "a0")
    await _queue(b, "fans", "b0")  # handed to a
    await _queue(a, "fans", "a1")
    await a.close()
    assert await b.reclaim_stale() == 3 and _order(b, "fans") == ["a0", "b0", "a1"]
    again = await b.claim_due(feeds, 1001.0)
    assert sorted(f.id for f in again) == sorted(f.id for f in feeds[1:])  # the three a never polled
    await b.close()


async def test_workers_gone_long_and_holding_nothing_are_forgotten(redis_url):
    a, b = await workers(redis_url, "worker-a", "worker-b")
    await _queue(b, "fans", "kept")  # b holds an alert: never forgotten while it does
    r = a._require()
    await r.xgroup_createconsumer(a.p + "outbox", "delivery", "old-container")
    await r.hset(a.p + "seen", mapping={"old-container": 1, "worker-b": 1, "never-read": 1})
    import asyncio

    await asyncio.sleep(0.3)
    assert await a.forget_departed(after=0.2) == ["never-read", "old-container"]
    names = {c["name"].decode() for c in await r.xinfo_consumers(a.p + "outbox", "delivery")}
    assert "old-container" not in names and {"worker-a", "worker-b"} <= names
    assert set((await r.hgetall(a.p + "seen"))) == {b"worker-b"}
    assert await a.forget_departed() == []  # nobody has been gone a day
    for s in (a, b):
        await s.close()


async def test_one_name_one_live_process(redis_url):
    """A worker's name is its consumer in the outbox group: two live processes under one
    name would each read the other's alerts as their own and send them twice (issue 14:
    `tipoff run --once` ×3 on one host, all named after it). The host-name default takes
    the first free of name, name-2…; a chosen name (TIPOFF_WORKER) in use is an error
    once a lease has passed (a killed process frees its name when its lease runs out)."""
    from bot.store.base import StoreError

    prefix = redis_prefix()
    first = RedisStore(redis_url, prefix=prefix, consumer="host", named=False, lease=0.5)
    second = RedisStore(redis_url, prefix=prefix, consumer="host", named=False, lease=0.5)
    await first.open()
    await second.open()
    assert (first.consumer, second.consumer) == ("host", "host-2")
    chosen = RedisStore(redis_url, prefix=prefix, consumer="host", named=True, lease=0.5)
    with pytest.raises(StoreError, match="another live worker is named 'host'.*TIPOFF_WORKER"):
        await chosen.open()
    await died(first)  # its name is free once its lease ran out: a restart takes it back
    again = RedisStore(redis_url, prefix=prefix, consumer="host", named=True, lease=0.5)
    await again.open()
    assert again.consumer == "host"
    for s in (second, again):
        await s.close()


async def test_a_stalled_senders_older_alert_goes_out_before_a_newer_one(redis_url):
    """The ordering window: a's lease lapses while it holds the chat's older alert; c
    then reads a newer one and becomes the sender. Right before sending, c is told the
    older alert exists, takes it and sends it first; a, waking up, sends nothing."""
    import asyncio

    a, c = await workers(redis_url, "worker-a", "worker-c", lease=0.6)
    await _queue(a, "fans", "older")
    a._keeper.cancel()  # a stalls past its lease (name, sender lease and entry all lapse)
    await asyncio.sleep(0.9)
    await _queue(c, "fans", "newer")
    assert _order(c, "fans") == ["newer"]  # a is not alive: c sends for "fans" now
    assert not await c.ready_to_send("newer")  # not yet: an older one is queued
    assert _order(c, "fans") == ["older", "newer"]
    assert await c.ready_to_send("older")
    assert not await a.ready_to_send("older")  # a woke up: not its to send any more
    assert a.pending("fans") == []
    await c.acknowledge("older")
    assert await c.ready_to_send("newer")
    a._r, r = None, a._r
    a._keeper = None
    await r.aclose()
    await c.close()


async def test_a_stopping_worker_hands_its_chats_to_a_live_one(redis_url):
    """A stop hands each chat's alerts to a live worker at once (it becomes the chat's
    sender); one handed alerts meanwhile is told to take them first (--once drains so),
    unless forced."""
    a, b = await workers(redis_url, "worker-a", "worker-b")
    await _queue(a, "fans", "a0")
    await _queue(b, "fans", "b0")  # handed to a
    assert not await a.hand_back()  # b0 waits unread in a's list: a must take it first
    assert await a.reclaim_stale() == 1
    assert await a.hand_back()
    assert a.pending() == []
    assert await b.reclaim_stale() == 2 and _order(b, "fans") == ["a0", "b0"]
    assert await b.ready_to_send("a0")
    for s in (a, b):
        await s.close()
