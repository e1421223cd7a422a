"""Alert → a readable plain-text block, for the console. Pure."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.model import Alert

EXCERPT = 240


def when(dt: datetime | None, now: datetime | None = None) -> str:
    """'2026-11-24 18:30 UTC (3 h ago)'."""
    if dt is None:
        return "unknown"
    now = now or datetime.now(timezone.utc)
    return f"{dt.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC ({ago(dt, now)})"


def ago(dt: datetime, now: datetime) -> str:
    seconds = (now - dt).total_seconds()
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def excerpt(text: str, limit: int = EXCERPT) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace():  # do not end on half a word
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def alert_block(alert: Alert, now: datetime | None = None) -> str:
    e = alert.entry
    feed = alert.feed_title or alert.feed_url
    lines = [
        "━━ tipoff " + "━" * 50,
        f"feed:      {feed}",
        f"title:     {e.title or '(untitled)'}",
        f"link:      {e.link or '(none)'}",
        f"published: {when(e.published or e.updated, now)}",
    ]
    for w in alert.watches:
        label = f" [{w.label}]" if w.label else ""
        lines.append(f"watch:     {w.rule}{label}")
        lines.append(f"matched:   {', '.join(w.terms) if w.terms else '-'}")
    summary = e.summary or e.content
    if summary:
        lines.append(f"summary:   {excerpt(summary)}")
    return "\n".join(lines)
