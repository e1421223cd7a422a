"""The Redis store's key layout, written once: the store, `tipoff migrate` and the
survey all name keys through it. Every key starts with the configured prefix
("tipoff:" by default)."""

from __future__ import annotations

from bot import dedupe

GROUP = "delivery"  # the outbox stream's consumer group
TITLE_TTL = int(dedupe.TITLE_WINDOW.total_seconds())  # how long a headline's story key lasts


class Keys:
    """keys("known", fid) → "tipoff:known:{fid}"."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)
