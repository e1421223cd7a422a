"""How workers share out Discord's gateway shards: plain arithmetic, no I/O (the
election that acts on it is bot.adapters.discord.shards.share_shards).

Each shard is one gateway connection, held by one worker at a time through a Redis lock.
A worker holds at most its fair share, ceil(shards / live workers): when a worker joins,
those above their share let one go per round for it to take; when one stops or dies,
the others' shares grow and they take its shards once its locks have run out."""

from __future__ import annotations

import hashlib


def fair_share(shards: int, alive: int) -> int:
    """The most shards one worker should hold."""
    return -(-shards // max(1, alive))


def moves(shards: int, held: int, alive: int) -> int:
    """How many shards to take (positive) or let go (negative) this round. Letting go
    is one at a time, so that a worker that joins or a count that is briefly off (a
    worker's heartbeat not yet expired) never empties a worker at once."""
    gap = fair_share(shards, alive) - held
    return gap if gap >= 0 else -1


def preference(shards: int, worker: str) -> list[int]:
    """The order in which a worker tries free shards: every shard, starting at a place
    of its own, so workers starting together do not all reach for shard 0 first."""
    start = int.from_bytes(hashlib.blake2b(worker.encode(), digest_size=4).digest(), "big") % max(1, shards)
    return [(start + i) % shards for i in range(shards)]


def retry_delay(failures: int) -> float:
    """How long a worker leaves a shard alone after its connection failed that many
    times in a row: a minute, doubling, at most an hour. Every attempt is an IDENTIFY,
    and Discord allows 1,000 a day before it resets the bot's token."""
    return min(3600.0, 60.0 * 2.0 ** max(0, failures - 1))


def lock_ttl(store_lease: float) -> float:
    """How long an election's lock lasts without renewal (renewed every third of it):
    `[store] lease`, between 3 and 30 s (30 s when the lease is left to its default)."""
    return max(3.0, min(30.0, store_lease or 30.0))
