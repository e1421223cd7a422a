"""The embedded default store: TinyDB documents in one JSON file, made safe.

TinyDB's own JSONStorage rewrites the file in place on every insert (a crash can
corrupt it, and it blocks the loop for tens of milliseconds per write at 10k
documents). Here TinyDB loads the file (and runs schema migrations) at open; from then
on the store's in-memory maps are the truth, and `flush()` writes them in TinyDB's own
format, once per cycle, atomically: a temp file in the same directory, fsync,
os.replace, fsync of the directory. The serialisation runs in small chunks with the
event loop free between them (see `_flush`). Lookups use in-memory indexes, never table
scans."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage

from bot import dedupe
from bot.model import DestinationName, FeedId, Outgoing, RecentEntry, Reported, Told, WatchId
from bot.store.base import (
    SCHEMA_VERSION,
    FeedState,
    OutboxItem,
    StoreError,
)
from bot.store.atomic import AtomicSpool, write_atomically
from bot.store.records import COUNT_DAYS, Records, told_key
from bot.store.codec import destination_from_dict, destination_to_dict, outbox_doc, outbox_item, subscription_from_dict, subscription_to_dict, watch_from_dict, watch_to_dict

log = logging.getLogger("tipoff.store")

DB_NAME = "tipoff.json"
ACKS_NAME = "tipoff.acks"  # alerts the platform accepted since the last database write
RECENT_NAME = "recent.jsonl"  # new entries of the last [store] recent, one JSON line each, appended
RECENT_WINDOW = 7 * 86400.0

# schema version n → function upgrading a database from n to n+1, in place.
MIGRATIONS: dict[int, Callable[[TinyDB], None]] = {}


class AtomicJSONStorage(Storage):
    """The storage TinyDB loads the database through (and runs migrations on): it reads
    the file once and keeps what TinyDB writes in memory; the file itself is written
    only by TinyDBStore's flush, in TinyDB's own format."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._data: dict[str, dict[str, Any]] | None = None
        self._dirty = False

    def read(self) -> dict[str, dict[str, Any]] | None:
        if self._data is None and self.path.exists():
            try:
                self._data = orjson.loads(self.path.read_bytes())
            except (orjson.JSONDecodeError, OSError) as exc:
                raise StoreError(f"cannot read the database {self.path}: {exc}") from None
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._data = data
        self._dirty = True

    def close(self) -> None:
        pass


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")


class TinyDBStore(Records):
    def __init__(self, data_dir: Path, *, story_window: float = dedupe.TITLE_WINDOW.total_seconds(),
                 recent_window: float = RECENT_WINDOW) -> None:
        super().__init__()
        self.story_window = story_window  # how long a headline's or a story thread's claim counts
        self.recent_window = recent_window  # how long new entries are kept for /why, /backtest and the tester
        self._recent_lines = 0  # lines in the recent file (it is rewritten when mostly expired)
        self._recent_rewrite = False  # entries expired: the next flush rewrites the file with what is left
        self.path = Path(data_dir) / DB_NAME
        self._open = False
        self._must_write = False
        self._shared_known: set[FeedId] = set()  # captured by a flush being written: copy before changing
        self._shared_announced: set[DestinationName] = set()
        self._announced: dict[DestinationName, dict[str, float]] = {}
        self._dirty["announced"] = set()
        self._flush_lock = asyncio.Lock()  # one file write at a time, in order
        self._acks = self.path.with_name(ACKS_NAME)
        self._ack_lock = threading.Lock()
        self._rotations = 0
        self.write_error: str | None = None  # the last database write failed, and why

    # -- lifecycle ---------------------------------------------------------

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for stale in self.path.parent.glob(f".{DB_NAME}.*.tmp"):
            stale.unlink(missing_ok=True)  # a crash before os.replace: the old file is intact
        self._must_write = not self.path.exists()  # a new database: the first flush creates the file
        db = TinyDB(self.path, storage=AtomicJSONStorage)  # TinyDB reads the file and runs migrations
        if self._migrate(db):
            self._must_write = True  # the next flush writes the new schema
        self._load(db)
        db.close()  # from here on the store's own maps are the truth; flush writes them
        self._load_recent()
        self._open = True
        self._replay_acks()

    def _replay_acks(self) -> None:
        """Alerts acknowledged after the last database write are delivered, not pending."""
        for journal in sorted(self.path.parent.glob(ACKS_NAME + "*")):
            for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.strip():
                    self.delivered(line.strip())

    def _migrate(self, db: TinyDB) -> bool:
        """Bring an older database up to this schema; True when anything changed."""
        meta = db.table("meta")
        docs = meta.all()
        if not docs:
            return False
        version = int(docs[0].get("schema", 1))
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer tipoff (schema {version}, this one knows {SCHEMA_VERSION})"
            )
        migrated = version < SCHEMA_VERSION
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](db)
            version += 1
            meta.update({"schema": version}, doc_ids=[docs[0].doc_id])
        return migrated

    def _load(self, db: TinyDB) -> None:
        for doc in db.table("feeds").all():
            fid = FeedId(doc["id"])
            self._feeds[fid] = FeedState(feed_id=fid, **{k: v for k, v in doc["state"].items() if k != "feed_id"})
            self._known[fid] = doc.get("known") or {}
        for doc in db.table("announced").all():
            self._announced[doc["dest"]] = doc.get("keys") or {}
        for doc in sorted(db.table("outbox").all(), key=lambda d: d["seq"]):
            item = outbox_item(doc)
            self._outbox[item.id] = item
            self._next_seq = max(self._next_seq, item.seq + 1)
        for doc in db.table("subscriptions").all():
            self._subs[doc["id"]] = subscription_from_dict(doc)
        for doc in db.table("watches").all():
            self._watches[WatchId(doc["id"])] = watch_from_dict(doc)
        for doc in db.table("destinations").all():
            state = destination_from_dict(doc)
            self._dests[state.name] = state
        for doc in sorted(db.table("headlines").all(), key=lambda d: d.get("seen_at") or 0):
            reported = Reported.from_dict(doc)
            self._reported[reported.key] = reported
        for doc in db.table("counts").all():
            self._counts[str(doc["key"])] = int(doc["n"])
        for doc in db.table("spent").all():
            self._spent[str(doc["id"])] = float(doc["until"])
        for doc in db.table("told").all():
            told = Told.from_dict(doc)
            self._told[told_key(told.destination, told.story)] = told

    def _load_recent(self) -> None:
        """The recent entries still within their window (a line that does not read, a
        write cut short by a crash, is skipped)."""
        path = self.path.with_name(RECENT_NAME)
        if not path.exists():
            return
        cutoff = time.time() - self.recent_window
        with open(path, "rb") as lines:
            for line in lines:
                self._recent_lines += 1
                try:
                    entry = RecentEntry.from_dict(orjson.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue
                if entry.seen_at >= cutoff:
                    self._recent.pop(entry.key, None)
                    self._recent[entry.key] = entry

    def _write_recent(self, entries: list[RecentEntry], whole: bool) -> None:
        """Append new entries to the recent file, or rewrite it with `entries` (whole)."""
        path = self.path.with_name(RECENT_NAME)
        data = [orjson.dumps(e.to_dict()) + b"\n" for e in entries]
        if whole:
            write_atomically(path, data)
            return
        with open(path, "ab") as out:
            out.writelines(data)

    async def flush(self) -> None:
        """Make every staged change durable in one atomic write."""
        async with self._flush_lock:
            await self._flush()

    async def _flush(self) -> None:
        """Capture the whole state on the loop (references only: every record is
        immutable, and the two kinds of mutable key maps are copied on their next write
        while captured), then serialise it in chunks, yielding to the loop between
        them, and write the file in a thread. The file is exactly the state at the
        capture, and no step holds the loop for more than a chunk (~a few ms)."""
        self._require()
        rotated = self._rotate_acks()  # before the capture: every ack in it is in memory already
        if not self._must_write and not any(self._dirty.values()):
            for journal in rotated:
                journal.unlink(missing_ok=True)
            await self._flush_recent()
            return
        self._must_write = False
        for names in self._dirty.values():
            names.clear()
        landing = set(self._unflushed)
        tables = self._capture()
        # shielded: a caller that is cancelled (a stopping engine) must not leave a
        # capture half-written and its changes marked clean
        await asyncio.shield(self._write(tables))
        self._unflushed -= landing
        for journal in rotated:
            journal.unlink(missing_ok=True)
        await self._flush_recent()

    async def _flush_recent(self) -> None:
        """Append the new recent entries (rewriting the file instead once most of it has
        expired). Losing some to a full disk loses no alert: they are kept to be asked about."""
        fresh, self._recent_new = self._recent_new, []
        whole = self._recent_rewrite or self._recent_lines > 2 * len(self._recent) + 1000
        rows = list(self._recent.values()) if whole else fresh
        if not rows and not whole:
            return
        try:
            await asyncio.to_thread(self._write_recent, rows, whole)
        except OSError as exc:
            log.warning("cannot write the recent entries to %s (%s)", self.path.with_name(RECENT_NAME), exc)
            return
        self._recent_lines = len(rows) if whole else self._recent_lines + len(rows)
        self._recent_rewrite = self._recent_rewrite and not whole

    def _capture(self) -> list[tuple[str, list[Any], Callable[[Any], Any]]]:
        """(table, rows, row → document) for every table, in file order."""
        self._shared_known = set(self._known)
        self._shared_announced = set(self._announced)
        known = self._known
        empty: dict[str, float] = {}
        return [
            ("meta", [SCHEMA_VERSION], lambda v: {"schema": v}),
            # FeedState goes in as is: orjson writes the dataclass as an object
            ("feeds", [(fid, st, known.get(fid, empty)) for fid, st in self._feeds.items()],
             lambda r: {"id": r[0], "state": r[1], "known": r[2]}),
            ("announced", list(self._announced.items()), lambda r: {"dest": r[0], "keys": r[1]}),
            ("destinations", list(self._dests.values()),
             destination_to_dict),
            ("outbox", sorted(self._outbox.values(), key=lambda i: i.seq), outbox_doc),
            ("subscriptions", list(self._subs.values()), subscription_to_dict),
            ("watches", list(self._watches.values()), watch_to_dict),
            ("headlines", list(self._reported.values()), Reported.to_dict),
            ("told", list(self._told.values()), Told.to_dict),
            ("spent", list(self._spent.items()), lambda r: {"id": r[0], "until": r[1]}),
            ("counts", list(self._counts.items()), lambda r: {"key": r[0], "n": r[1]}),
        ]

    async def _write(self, tables: list[tuple[str, list[Any], Callable[[Any], Any]]]) -> None:
        spool = AtomicSpool(self.path)  # the file goes out as it is serialised, never whole in memory
        try:
            try:
                await spool.add(b"{")
                for t, (name, rows, doc) in enumerate(tables):
                    await spool.add(b'%s"%s":{' % (b"," if t else b"", name.encode()))
                    first = True
                    for start in range(0, len(rows), WRITE_CHUNK):
                        chunk = orjson.dumps({str(start + i + 1): doc(row)
                                              for i, row in enumerate(rows[start:start + WRITE_CHUNK])})
                        await spool.add(chunk[1:-1] if first else b"," + chunk[1:-1])
                        first = False
                        await asyncio.sleep(0)  # let the loop run between chunks
                    await spool.add(b"}")
                await spool.add(b"}")
            finally:
                self._shared_known.clear()  # the capture is serialised: in-place writes are safe again
                self._shared_announced.clear()
            await spool.commit()
        except OSError as exc:
            await spool.discard()
            self.write_error = f"cannot write {self.path}: {exc.strerror or exc}"
            self._must_write = True  # the marks of what changed are gone: write everything next time
            raise StoreError(self.write_error) from None
        except BaseException:
            await asyncio.shield(spool.discard())
            raise
        self.write_error = None

    def problem(self) -> str | None:
        """Why the store cannot take writes now, or None."""
        if not self._open:
            return "the store is not open"
        return self.write_error

    def _rotate_acks(self) -> list[Path]:
        with self._ack_lock:
            if not self._acks.exists():
                return []
            self._rotations += 1
            rotated = self._acks.with_name(f"{ACKS_NAME}.{os.getpid()}.{self._rotations}")
            os.replace(self._acks, rotated)
        return [rotated]

    async def acknowledge(self, item_id: str) -> None:
        """The platform accepted this alert: forget it, durably, before the next send,
        so that a crash can only ever repeat an alert that was in flight."""
        self.delivered(item_id)
        try:
            await asyncio.shield(asyncio.to_thread(self._append_ack, item_id))
        except OSError as exc:  # a full disk: the next database write records it instead
            self.write_error = f"cannot write {self._acks}: {exc.strerror or exc}"
            self._must_write = True
            log.error("could not record that %s was delivered (%s); it is kept in memory until the database "
                      "can be written (a crash before then would send it again)", item_id, exc.strerror or exc)

    def _append_ack(self, item_id: str) -> None:
        with self._ack_lock, open(self._acks, "a", encoding="utf-8") as journal:
            journal.write(item_id + "\n")
            journal.flush()
            os.fsync(journal.fileno())

    async def close(self) -> None:
        if self._open:
            try:
                await self.flush()
            except StoreError as exc:
                log.error("stopping without writing the last changes: %s (the database keeps its last good "
                          "state; alerts not yet written are found again at the next start)", exc)
            self._open = False

    def _require(self) -> None:
        if not self._open:
            raise StoreError("the store is not open")

    # -- feeds -------------------------------------------------------------

    def _writable_known(self, feed_id: FeedId) -> dict[str, float]:
        known = self._known.setdefault(feed_id, {})
        if feed_id in self._shared_known:  # a flush is serialising this one: change a copy
            self._shared_known.discard(feed_id)
            known = self._known[feed_id] = dict(known)
        return known

    def _writable_announced(self, destination: DestinationName) -> dict[str, float]:
        announced = self._announced.setdefault(destination, {})
        if destination in self._shared_announced:
            self._shared_announced.discard(destination)
            announced = self._announced[destination] = dict(announced)
        return announced

    def remember_entries(self, feed_id: FeedId, keys: Iterable[str], now: float) -> None:
        known = self._writable_known(feed_id)
        stamp = int(now)
        for key in keys:
            known[key] = stamp
        self._dirty["feeds"].add(feed_id)
        if feed_id not in self._feeds:
            self._feeds[feed_id] = FeedState(feed_id=feed_id, url="")

    # -- dedupe ------------------------------------------------------------

    def claim_story(self, destination: DestinationName, keys: Iterable[str], now: float) -> bool:
        keys = tuple(keys)
        if dedupe.is_repeat(keys, self._announced.get(destination, {}), datetime.fromtimestamp(now, timezone.utc),
                            timedelta(seconds=self.story_window)):
            return False
        announced = self._writable_announced(destination)
        stamp = int(now)
        for key in keys:
            announced[key] = stamp
        self._dirty["announced"].add(destination)
        return True

    # -- outbox ------------------------------------------------------------

    def claim_and_queue(self, destination: DestinationName, keys: Iterable[str], now: float,
                        message: Outgoing, item_id: str, not_before: float = 0.0) -> bool:
        """Claim the story for the destination and queue its alert; both land in the same
        database write (the claim is final here: one process owns the file)."""
        if not self.claim_story(destination, keys, now):
            return False
        self.enqueue(destination, message, item_id, not_before)
        return True

    def enqueue(self, destination: DestinationName, message: Outgoing, item_id: str,
                not_before: float = 0.0) -> None:
        if self._queue(destination, message, item_id, not_before):
            self._dirty["outbox"].add(item_id)

    def pending(self, destination: DestinationName | None = None) -> list[OutboxItem]:
        """Alerts waiting for delivery. Only those already in the database file: an
        alert sent before its claim was durable could be claimed and sent again after
        a crash."""
        return [i for i in self._outbox.values()
                if (destination is None or i.destination == destination) and i.id not in self._unflushed]

    async def ready_to_send(self, item_id: str) -> bool:
        """One process owns this store (the data directory's lock): every pending alert is its to send."""
        return item_id in self._outbox

    # -- destinations --------------------------------------------------------

    def rename_destination(self, old: DestinationName, new: DestinationName) -> None:
        """Move everything a destination has to a new name, its announced stories too."""
        self._move_records(old, new)
        for name in [n for n in self._announced if n == old or n.startswith(old + "/")]:
            target = DestinationName(new + name[len(old):])
            self._writable_announced(target).update(self._announced.pop(name))
            self._shared_announced.discard(name)
            self._dirty["announced"].update({name, target})

    # -- housekeeping --------------------------------------------------------

    def prune(self, now: float, retention: float) -> int:
        """Forget keys older than the retention window, except entries still in their
        feed (those were refreshed at the feed's last change), and headline keys once
        they are past the window in which they count."""
        cutoff = now - retention
        title_cutoff = now - self.story_window
        removed = 0
        for fid, stale in self._stale_known(now, retention).items():
            known = self._writable_known(fid)
            for k in stale:
                del known[k]
            removed += len(stale)
            self._dirty["feeds"].add(fid)
        for dest, announced in list(self._announced.items()):
            stale = [k for k, ts in announced.items()
                     if ts < cutoff or (dedupe.is_title_key(k) and ts < title_cutoff)]
            if stale:
                announced = self._writable_announced(dest)
            for k in stale:
                del announced[k]
            if stale:
                removed += len(stale)
                self._dirty["announced"].add(dest)
        removed += self._forget_spent(now)
        removed += self._forget_counts(_day(now - COUNT_DAYS * 86400))
        expired = self._forget_recent(now - self.recent_window)
        self._recent_rewrite = self._recent_rewrite or expired > 0  # the file keeps only what is left
        return removed + self._forget_told(title_cutoff) + expired

    # -- introspection for tools and tests ------------------------------------

    def dump(self) -> dict[str, Any]:
        """Everything the store holds, as records (for `tipoff migrate`)."""
        return {"schema": SCHEMA_VERSION, "feeds": list(self._feeds.values()), "known": self._known,
                "announced": self._announced, "outbox": sorted(self._outbox.values(), key=lambda i: i.seq),
                "destinations": list(self._dests.values()), "subscriptions": list(self._subs.values()),
                "watches": list(self._watches.values()), "headlines": list(self._reported.values()),
                "told": list(self._told.values())}

WRITE_CHUNK = 500  # documents serialised per step of a flush, between yields to the loop

