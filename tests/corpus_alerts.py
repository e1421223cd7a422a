"""Every entry of a corpus folder as an alert, with matches spread over its summary:
the input the renderers must turn into valid messages."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from bot.feeds.errors import FeedError
from bot.feeds.parse import parse_feed
from bot.model import Alert, FiredWatch

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def corpus_alerts(folder: Path, rule: str, terms: tuple[str, ...], step: int) -> Iterator[tuple[Path, Alert]]:
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            feed = parse_feed(path.read_bytes(), "f", "https://example.org/")
        except FeedError:
            continue
        for e in feed.entries:
            spans = tuple(("summary", i, i + step // 2) for i in range(0, min(len(e.summary), 10 * step), step))
            yield path, Alert("a", "chat", e, feed.title, "https://pop.example/feed",
                              (FiredWatch("w", rule, terms, "", spans),), NOW)
