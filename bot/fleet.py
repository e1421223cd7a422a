"""`tipoff workers`: what the workers sharing one Redis hold, as a table. The survey
itself (bot.store.redis.survey) reads Redis into a Fleet record (bot.store.base); this
renders it."""

from __future__ import annotations

import re

from bot.store.base import Fleet

_SHARD = re.compile(r"^discord-shard:[0-9a-f]+:(\d+)$")
_POLLER = re.compile(r"^telegram-poller:[0-9a-f]+$")


def ago(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    if seconds < 172800:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def roles(fleet: Fleet, worker: str) -> str:
    shards = sorted(int(m.group(1)) for name, holder in fleet.locks.items()
                    if holder == worker and (m := _SHARD.match(name)))
    out = []
    if any(_POLLER.match(name) and holder == worker for name, holder in fleet.locks.items()):
        out.append("telegram poller")
    if shards:
        word = "shard" if len(shards) == 1 else "shards"
        out.append(f"discord {word} {', '.join(map(str, shards))} of {fleet.shards}")
    return ", ".join(out) or "-"


def render(fleet: Fleet, where: str) -> list[str]:
    """The lines `tipoff workers` prints: totals, then one row per worker, the most
    recently seen first. A worker not seen for a while with alerts still held is one
    that died: its alerts move to others once its leases have run out."""
    workers = sorted(set(fleet.seen) | {w for w, n in fleet.pending.items() if n} | set(fleet.feed_leases)
                     | set(fleet.senders) | set(fleet.locks.values()),
                     key=lambda w: (-fleet.seen.get(w, 0), w))
    lines = [f"store: {where}",
             f"feeds polled: {fleet.feeds:,} ({fleet.due_now:,} due now); alerts waiting: {fleet.outbox:,}"]
    if not workers:
        return [*lines, "no worker has run on this store yet"]
    rows = [("worker", "last seen", "alerts held", "chats sent for", "feeds polling", "roles")]
    for w in workers:
        rows.append((w, ago(max(0, fleet.now - fleet.seen[w])) if w in fleet.seen else "never",
                     f"{fleet.pending.get(w, 0):,}", f"{fleet.senders.get(w, 0):,}",
                     f"{fleet.feed_leases.get(w, 0):,}", roles(fleet, w)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines += ["  ".join(c.ljust(widths[i]) if i < len(widths) else c for i, c in enumerate(r)).rstrip()
              for r in rows]
    return lines
