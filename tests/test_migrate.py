"""`tipoff migrate --to redis://…` against a real redis-server: everything copied,
counts compared and printed, and a Redis store opened on the copy carries on where the
TinyDB store stopped."""

from __future__ import annotations

from datetime import datetime, timezone

from bot import cli
from bot.model import Alert, DestinationName, Reported, Subscription, Told, Watch, WatchId
from bot.store.base import DestinationState, FeedState
from bot.store.redis import RedisStore
from bot.store.tinydb import TinyDBStore
from tests.factories import entry, note, redis_prefix

T0 = datetime(2026, 11, 25, tzinfo=timezone.utc)


async def test_migrate_copies_everything_and_prints_matching_counts(tmp_path, redis_url, capsys):
    import time
    now = time.time()
    data = tmp_path / "data"
    src = TinyDBStore(data)
    await src.open()
    for i in range(30):
        src.put_feed_state(FeedState(f"f{i}", f"https://feeds.example/{i}", etag=f'"{i}"', polls=4))
        src.remember_entries(f"f{i}", [f"k{i}-{j}" for j in range(5)], now)
    chat = DestinationName("telegram:-100")
    assert src.claim_and_queue(chat, ["i:story", "u:https://pop.example/a", "t:gaga britney duet"], now, note(1), "a1")
    assert src.claim_story(chat, ["i:old"], now - 100 * 86400)  # past the 90-day retention: not copied
    src.put_destination_state(DestinationState(chat, digest="hourly"))
    src.put_subscription(Subscription("f9", chat, "https://feeds.example/9", 600.0, T0))
    src.put_watch(Watch(WatchId("w1"), "duet", (chat,), T0, owner=chat))
    src.remember_headline(Reported("h1", now - 60, "Lady Gaga and Britney Spears preparing a duet"), now - 86400)
    alert = Alert("telegram:-100:a0", chat, entry("Duet"), "Pop", "https://pop.example/f", (), T0, (), "h1")
    src.remember_told(Told(chat, "h1", alert, "77", now - 60))
    await src.close()
    (tmp_path / "empty.toml").write_text("")
    prefix = redis_prefix()

    code = await cli.cmd_migrate(cli.load_settings(tmp_path / "empty.toml", data_dir=data), redis_url, prefix)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "feeds                   30        30" in out
    assert "known_entries          150       150" in out
    assert "stories                  3         3" in out
    assert "outbox                   1         1" in out
    assert "headlines                1         1" in out and "told                     1         1" in out
    assert "MISMATCH" not in out and "every count matches" in out

    store = RedisStore(redis_url, prefix=prefix)
    await store.open()
    assert store.feed_state("f7").etag == '"7"' and len(store.known_entries("f7")) == 5
    assert [i.id for i in store.pending(chat)] == ["a1"]  # the workers get the waiting alert
    assert store.destination_state(chat).digest == "hourly"
    assert [w.id for w in store.watches(chat)] == ["w1"] and [s.id for s in store.subscriptions(chat)] == ["f9"]
    store.claim_and_queue(chat, ["u:https://pop.example/a"], now, note(2), "again")
    await store.flush()
    assert [i.id for i in store.pending(chat)] == ["a1"]  # the announced story stays announced
    assert [r.key for r in await store.recent_headlines(0)] == ["h1"]  # the story index reads it back
    assert (await store.told(chat, "h1")).receipt == "77"  # a later report still edits the right message
    await store.close()

    code = await cli.cmd_migrate(cli.load_settings(tmp_path / "empty.toml", data_dir=data), redis_url, prefix)
    assert code == 1 and "already has keys" in capsys.readouterr().err  # never over an existing store
