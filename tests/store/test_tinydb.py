import json
import os
import subprocess
import sys

import pytest

from bot.store.atomic import AtomicSpool

from bot.store import tinydb as tinydb_module
from bot.store.base import FeedState, StoreError
from bot.store.lock import DataDirLock, DataDirLocked
from bot.store.tinydb import TinyDBStore
from tests.factories import note

DAY = 86400.0


async def opened(path):
    store = TinyDBStore(path)
    await store.open()
    return store


async def test_state_survives_a_restart(tmp_path):
    store = await opened(tmp_path)
    store.put_feed_state(FeedState("f1", "https://a.example/feed", etag='"x"', polls=3))
    store.remember_entries("f1", ["k1", "k2"], 1000.0)
    assert store.claim_story("fans", ["u1", "t1"], 1000.0)
    store.enqueue("fans", note(1), "a1")
    store.enqueue("fans", note(2), "a2")
    await store.flush()
    store.delivered("a1")
    await store.close()

    again = await opened(tmp_path)
    assert again.feed_state("f1").etag == '"x"'
    assert set(again.known_entries("f1")) == {"k1", "k2"}
    assert not again.claim_story("fans", ["u1"], 2000.0)
    assert [i.id for i in again.pending()] == ["a2"]


async def test_nothing_is_written_until_flush(tmp_path):
    store = await opened(tmp_path)
    await store.flush()
    before = (tmp_path / "tipoff.json").read_bytes()
    store.remember_entries("f1", ["k"], 1.0)
    assert (tmp_path / "tipoff.json").read_bytes() == before
    await store.flush()
    assert (tmp_path / "tipoff.json").read_bytes() != before


async def test_one_flush_is_one_file_write(tmp_path, monkeypatch):
    writes = []
    real = AtomicSpool.commit

    async def commit(spool):
        writes.append(spool.path)
        await real(spool)
    monkeypatch.setattr(AtomicSpool, "commit", commit)
    store = await opened(tmp_path)
    for i in range(200):
        store.remember_entries(f"f{i}", [f"k{i}"], 1.0)
        store.claim_story("fans", [f"u{i}"], 1.0)
        store.enqueue("fans", note(i), f"a{i}")
    await store.flush()
    assert len(writes) == 1


async def test_crash_between_temp_file_and_replace_keeps_the_old_database(tmp_path, monkeypatch):
    store = await opened(tmp_path)
    store.remember_entries("f1", ["old"], 1.0)
    await store.flush()

    def crash(src, dst):
        raise OSError("simulated failure")
    monkeypatch.setattr(tinydb_module.os, "replace", crash)
    store.remember_entries("f1", ["new"], 2.0)
    with pytest.raises(StoreError, match="simulated failure"):
        await store.flush()
    monkeypatch.undo()
    assert not list(tmp_path.glob(".tipoff.json.*.tmp"))  # a failed write removes its temp file

    again = await opened(tmp_path)
    assert set(again.known_entries("f1")) == {"old"}
    assert not list(tmp_path.glob(".tipoff.json.*.tmp"))  # and cleaned up on open


def test_process_killed_mid_write_leaves_a_loadable_database(tmp_path):
    # A real process, killed hard after writing the temp file and before os.replace.
    script = f"""
import asyncio, os, signal
from bot.store import tinydb as t
async def main():
    s = t.TinyDBStore({str(tmp_path)!r}); await s.open()
    s.remember_entries("f1", ["old"], 1.0); await s.flush()
    t.os.replace = lambda a, b: os.kill(os.getpid(), signal.SIGKILL)
    s.remember_entries("f1", ["new"], 2.0); await s.flush()
asyncio.run(main())
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd())
    assert proc.returncode == -9
    data = json.loads((tmp_path / "tipoff.json").read_text())
    assert list(data["feeds"].values())[0]["known"] == {"old": 1}


async def test_a_corrupt_database_is_reported_not_overwritten(tmp_path):
    (tmp_path / "tipoff.json").write_text("{not json")
    with pytest.raises(StoreError, match="cannot read the database"):
        await opened(tmp_path)
    assert (tmp_path / "tipoff.json").read_text() == "{not json"


async def test_a_newer_schema_is_refused(tmp_path):
    (tmp_path / "tipoff.json").write_text(json.dumps({"meta": {"1": {"schema": 99}}}))
    with pytest.raises(StoreError, match="newer tipoff"):
        await opened(tmp_path)


async def test_migrations_run_in_order(tmp_path, monkeypatch):
    (tmp_path / "tipoff.json").write_text(json.dumps({"meta": {"1": {"schema": 1}}}))
    ran = []
    monkeypatch.setattr(tinydb_module, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(tinydb_module, "MIGRATIONS", {1: lambda db: ran.append(1), 2: lambda db: ran.append(2)})
    store = await opened(tmp_path)
    await store.flush()
    assert ran == [1, 2]
    assert json.loads((tmp_path / "tipoff.json").read_text())["meta"]["1"]["schema"] == 3


async def test_prune_forgets_old_keys_but_not_entries_still_in_the_feed(tmp_path):
    store = await opened(tmp_path)
    now = 1000 * DAY
    store.remember_entries("f1", ["gone"], now - 100 * DAY)
    store.remember_entries("f1", ["still-there"], now - 95 * DAY)
    store.put_feed_state(FeedState("f1", "u", last_changed=now - 95 * DAY))  # body unchanged since
    store.claim_story("fans", ["uold", "tnew"], now - 100 * DAY)
    store.claim_story("fans", ["urecent"], now - 1 * DAY)
    store.claim_story("fans", ["theadline"], now - 4 * DAY)  # headline keys only count 3 days
    removed = store.prune(now, retention=90 * DAY)
    assert set(store.known_entries("f1")) == {"still-there"}
    assert store.claim_story("fans", ["uold"], now)
    assert not store.claim_story("fans", ["urecent"], now)
    assert removed == 4


async def test_outbox_keeps_order_and_retry_state(tmp_path):
    store = await opened(tmp_path)
    for i in range(5):
        store.enqueue("fans", note(i), f"a{i}")
    store.enqueue("fans", note(0), "a0")  # same alert again: ignored
    store.postpone("a0", 5000.0, "HTTP 503")
    await store.close()
    again = await opened(tmp_path)
    items = again.pending("fans")
    assert [i.id for i in items] == [f"a{i}" for i in range(5)]
    assert (items[0].attempts, items[0].next_try, items[0].last_error) == (1, 5000.0, "HTTP 503")


def test_second_lock_on_a_data_dir_names_the_holder(tmp_path):
    first = DataDirLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(DataDirLocked) as err:
            DataDirLock(tmp_path).acquire()
        assert f"pid {os.getpid()}" in str(err.value)
    finally:
        first.release()
    second = DataDirLock(tmp_path)
    second.acquire()  # free again once released
    second.release()


async def test_an_acknowledged_alert_stays_delivered_after_a_crash_before_any_write(tmp_path):
    store = await opened(tmp_path)
    for i in range(3):
        store.enqueue("fans", note(i), f"a{i}")
    await store.flush()
    await store.acknowledge("a0")  # journaled and fsynced, database not rewritten: then "crash"
    again = await opened(tmp_path)
    assert [i.id for i in again.pending()] == ["a1", "a2"]


async def test_the_ack_journal_is_folded_into_the_database_and_removed(tmp_path):
    store = await opened(tmp_path)
    store.enqueue("fans", note(""), "a0")
    store.enqueue("fans", note(""), "a1")
    await store.flush()
    await store.acknowledge("a0")
    await store.flush()
    assert not list(tmp_path.glob("tipoff.acks*"))
    await store.acknowledge("a1")
    assert list(tmp_path.glob("tipoff.acks*"))
    again = await opened(tmp_path)
    assert again.pending() == []


async def test_an_alert_is_offered_for_delivery_only_once_it_is_durable(tmp_path):
    store = await opened(tmp_path)
    store.claim_story("fans", ["u1"], 1.0)
    store.enqueue("fans", note(1), "a1")
    assert store.pending() == []  # its claim is not on disk yet: sending now could repeat it after a crash
    await store.flush()
    assert [i.id for i in store.pending()] == ["a1"]


async def test_a_flush_yields_to_the_loop_and_writes_the_state_as_captured(tmp_path):
    """The write is serialised in chunks with the loop free in between; what changes
    meanwhile (a new key for a captured feed, a claim, an alert) is not in this file,
    and nothing captured is changed under the serialiser: the file is one instant."""
    import asyncio

    store = await opened(tmp_path)
    n = 3 * tinydb_module.WRITE_CHUNK
    for i in range(n):
        store.remember_entries(f"f{i}", [f"k{i}"], 1000.0)
    assert store.claim_story("fans", ["u-old"], 1000.0)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    running = asyncio.ensure_future(ticker())
    flushing = asyncio.ensure_future(store.flush())
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the flush has captured and is between chunks
    assert not flushing.done()
    store.remember_entries("f0", ["late"], 2000.0)
    assert store.claim_story("fans", ["u-late"], 2000.0)
    store.enqueue("fans", note(1), "late-alert")
    store.put_feed_state(FeedState("f1", "https://moved.example/", polls=9))
    await flushing
    running.cancel()
    assert ticks >= 3  # the loop ran between the chunks

    data = json.loads((tmp_path / "tipoff.json").read_text())
    feeds = {d["id"]: d for d in data["feeds"].values()}
    assert len(feeds) == n and set(feeds["f0"]["known"]) == {"k0"}  # "late" came after the capture
    assert feeds["f1"]["state"]["url"] == ""
    assert [d["keys"] for d in data["announced"].values()] == [{"u-old": 1000}]
    assert data["outbox"] == {} and data["meta"] == {"1": {"schema": 1}}
    assert store.pending() == []  # the alert is not offered for delivery before it is on disk

    await store.flush()
    again = await opened(tmp_path)
    assert set(again.known_entries("f0")) == {"k0", "late"}
    assert again.feed_state("f1").url == "https://moved.example/"
    assert not again.claim_story("fans", ["u-late"], 2001.0)
    assert [i.id for i in again.pending()] == ["late-alert"]


def test_destination_settings_written_before_they_were_typed_read_the_same():
    """Databases keep a destination's settings under "extra", as before they were typed
    fields: a file from an older tipoff reads unchanged, and is written back the same way."""
    from bot.store.codec import destination_from_dict, destination_to_dict

    old = {"name": "telegram:-1", "active": True, "reason": None, "since": None,
           "extra": {"quiet": "23:00-07:00 UTC", "paused": True, "sent_today": 3, "day": "2026-11-26",
                     "last_error": "HTTP 429", "last_error_at": 5.0, "unknown": "kept out"}}
    state = destination_from_dict(old)
    assert (state.quiet, state.paused, state.sent_today, state.last_error) == ("23:00-07:00 UTC", True, 3, "HTTP 429")
    again = destination_to_dict(state)
    assert again["extra"] == {k: v for k, v in old["extra"].items() if k != "unknown"}
