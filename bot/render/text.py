"""Alert → a readable plain-text block, for the console. Pure."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.i18n import N_, _
from bot.model import Alert

EXCERPT = 240
OUTLETS_SHOWN = 2  # "Also reported by Billboard, Variety and 4 more"
OUTLET_MAX = 60


def when(dt: datetime | None, now: datetime | None = None) -> str:
    """'2026-11-24 18:30 UTC (3 h ago)'."""
    if dt is None:
        return "unknown"
    now = now or datetime.now(timezone.utc)
    return f"{dt.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC ({ago(dt, now)})"


def ago(dt: datetime, now: datetime) -> str:
    seconds = (now - dt).total_seconds()
    if seconds < 0:
        return _("in the future")
    for said, size in ((N_("{count} d ago"), 86400), (N_("{count} h ago"), 3600), (N_("{count} min ago"), 60)):
        if seconds >= size:
            return _(said).format(count=int(seconds // size))
    return _("just now")


def excerpt(text: str, limit: int = EXCERPT) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace():  # do not end on half a word
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def split_lines(text: str, size: int) -> list[str]:
    """Split at line ends into pieces of at most `size` characters (a longer line is
    cut): a reply too long for one chat message, as several."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if current and len(current) + len(line) > size:
            chunks.append(current)
            current = ""
        while len(line) > size:
            chunks.append(line[:size])
            line = line[size:]
        current += line
    if current:
        chunks.append(current)
    return chunks or [""]


def also_outlets(alert: Alert) -> list[str]:
    """The other outlets that reported the alert's story, once each (by name, case
    folded), without the alert's own."""
    own = alert.source.outlet.casefold() if alert.source else ""
    seen = {own} if own else set()
    names = []
    for s in alert.also:
        name = " ".join(s.outlet.split())
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(excerpt(name, OUTLET_MAX))
    return names


def also_reported(alert: Alert, shown: int = OUTLETS_SHOWN) -> str:
    """'Also reported by Billboard, Variety and 4 more' ("" when nobody else did)."""
    names = also_outlets(alert)
    if not names:
        return ""
    if len(names) == 1:
        return _("Also reported by {outlet}").format(outlet=names[0])
    if len(names) <= shown + 1:
        return _("Also reported by {outlets} and {last}").format(outlets=", ".join(names[:-1]), last=names[-1])
    return _("Also reported by {outlets} and {count} more").format(outlets=", ".join(names[:shown]),
                                                                  count=len(names) - shown)


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
    if also := also_reported(alert):
        lines.append(f"story:     {also}")
    return "\n".join(lines)


def update_line(alert: Alert) -> str:
    """The console's one line for an alert's story growing."""
    return f"  ↳ story update: {excerpt(alert.entry.title or '(untitled)', 80)} · {also_reported(alert, 5)}"


def excerpt_pieces(text: str, spans: list[tuple[int, int]], limit: int) -> list[tuple[str, bool]]:
    """An excerpt of at most `limit` characters (plus ellipses) as (piece, highlighted)
    pairs: it starts near the first highlighted span, cuts at spaces, and carries the
    highlights that fall inside it. Renderers escape and mark up each piece."""
    if not text:
        return []
    spans = sorted((max(0, s), min(len(text), e)) for s, e in spans if e > s)
    start = 0
    if spans and spans[0][0] > limit // 2:
        start = text.rfind(" ", 0, max(spans[0][0] - limit // 4, 0)) + 1
    end = min(len(text), start + limit)
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    pieces: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    pos = start
    for s, e in spans:
        s, e = max(s, pos), min(e, end)
        if s >= e:
            continue
        if s > pos:
            pieces.append((text[pos:s], False))
        pieces.append((text[s:e], True))
        pos = e
    if pos < end:
        pieces.append((text[pos:end], False))
    if end < len(text):
        pieces.append(("…", False))
    return pieces


def summary_and_spans(alert: Alert) -> tuple[str, list[tuple[int, int]]]:
    """The text to excerpt under an alert's title (summary, else content) and the
    spans where its watches matched in it."""
    e = alert.entry
    field, text = ("summary", e.summary) if e.summary else ("content", e.content)
    spans = [(s, end) for w in alert.watches for f, s, end in w.hits if f == field]
    return text, spans


def stopped_notice(name: str, url: str, why: str, error: str) -> str:
    """What a chat is told once when tipoff stops polling a feed it added."""
    return _("I stopped checking {name} ({url}): {why}. Last error: {error}. Use the resume command here to try "
             "it again, or remove the feed.").format(name=name, url=url, why=why, error=error)
