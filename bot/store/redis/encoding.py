"""How the Redis store's records look in Redis: JSON of feed states, destination
settings and outbox items, stream entries, and the overlay of a worker's uncommitted
changes on what another worker wrote. Pure."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable, Iterable, Mapping, TypeVar, cast

import orjson

from bot.store.base import DestinationState, FeedState, OutboxItem
from bot.store.codec import destination_from_dict, outbox_doc, outbox_item

_STATE_FIELDS = {f.name for f in fields(FeedState)}
CHAT_TABLES = ("destinations", "subscriptions", "watches")


def item_json(item: OutboxItem) -> bytes:
    return orjson.dumps(outbox_doc(item))


def state_from(raw: bytes) -> FeedState:
    d = orjson.loads(raw)
    return FeedState(**{k: v for k, v in d.items() if k in _STATE_FIELDS})


def destination_from(raw: bytes) -> DestinationState:
    d = orjson.loads(raw)
    return destination_from_dict(d)


K = TypeVar("K", bound=str)
V = TypeVar("V")


def keep_uncommitted(fresh: dict[K, V], mine: Mapping[K, V], dirty: set[str]) -> dict[K, V]:
    """Another worker's view of a table, with this worker's changes not yet committed
    (records in `dirty`: changed, added or removed here) laid over it."""
    out = dict(fresh)
    for key in cast(set[K], dirty):
        if key in mine:
            out[key] = mine[key]
        elif key in out:
            del out[key]
    return out


def write_records(pipe: Any, key: str, ids: Iterable[str], records: Mapping[Any, V],
                  encode: Callable[[V], Any]) -> None:
    """Queue the changed records of one table on a pipeline: each as JSON in the hash
    `key`, or deleted from it when the record is gone."""
    for rid in ids:
        record = records.get(rid)
        if record is None:
            pipe.hdel(key, rid)
        else:
            pipe.hset(key, rid, orjson.dumps(encode(record)))


def decode_entries(entries: Iterable[tuple[bytes, Mapping[bytes, bytes]]]) -> list[tuple[str, str, str]]:
    """Outbox stream entries as read → (entry, item id, destination); deleted ones dropped."""
    return [(e.decode(), data[b"id"].decode(), data[b"dest"].decode()) for e, data in entries if data]


def stream_order(entry: str) -> int:
    """A stream entry id ("ms-n") as a number that sorts as Redis ordered the entries."""
    ms, _, n = entry.partition("-")
    return int(ms) * 1_000_000 + int(n or 0)


def item_from(raw: bytes) -> OutboxItem:
    return outbox_item(orjson.loads(raw))
