"""Digests for every platform: grouping held alerts by watch, and splitting them into
as many messages as the platform's limits need. Pure.

`split` is exact rather than estimated: it renders each candidate message with the
platform's own renderer and measures it, so a part never passes the limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from html import escape
from typing import Any, Callable

from bot.i18n import _, ngettext
from bot.model import Alert, Digest
from bot.render.text import ago, also_outlets, excerpt

LINE_TITLE = 200
LINE_FEED = 60
MAX_ALERTS_PER_PART = 40  # a digest readable on a phone; more go in the next message


def split(digest: Digest, fits: Callable[[Digest], bool]) -> list[Digest]:
    """Consecutive parts, each as many alerts as fit (at least one: every renderer caps
    a single alert's line, so one alert always fits)."""
    parts: list[Digest] = []
    current: list[Alert] = []
    for alert in digest.alerts:
        candidate = replace(digest, alerts=(*current, alert))
        if current and (len(current) >= MAX_ALERTS_PER_PART or not fits(candidate)):
            parts.append(replace(digest, alerts=tuple(current)))
            current = []
        current.append(alert)
    if current:
        parts.append(replace(digest, alerts=tuple(current)))
    return parts


def heading(digest: Digest) -> str:
    n = len(digest.alerts)
    if digest.why == "digest":
        return ngettext("Digest: {count} alert", "Digest: {count} alerts", n).format(count=n)
    return ngettext("While it was quiet: {count} alert", "While it was quiet: {count} alerts", n).format(count=n)


def _age(alert: Alert, now: datetime) -> str:
    """The entry's age, and how many other outlets reported its story."""
    when = alert.entry.published or alert.entry.updated
    others = len(also_outlets(alert))
    more = " · " + ngettext("+{count} outlet", "+{count} outlets", others).format(count=others) if others else ""
    return (f" · {ago(when, now)}" if when else "") + more


def digest_text(digest: Digest, now: datetime | None = None) -> str:
    """Plain text, for the console."""
    now = now or datetime.now(timezone.utc)
    lines = [f"== {heading(digest)} =="]
    for label, alerts in digest.sections():
        lines.append(f"\n🔔 {excerpt(label, 200)}")
        for a in alerts:
            source = excerpt(a.feed_title or a.feed_url, LINE_FEED)
            lines.append(f"  • {excerpt(a.entry.title or _('(untitled)'), LINE_TITLE)} ({source}{_age(a, now)})")
            if a.entry.link or a.entry.url:
                lines.append(f"    {a.entry.link or a.entry.url}")
    return "\n".join(lines)


def _http(url: str) -> str | None:
    return url if url.startswith(("http://", "https://")) else None


def digest_html(digest: Digest, now: datetime | None = None) -> str:
    """Telegram HTML: every feed text escaped, every line capped."""
    now = now or datetime.now(timezone.utc)
    lines = [f"<b>📰 {escape(heading(digest), quote=False)}</b>"]
    for label, alerts in digest.sections():
        lines.append(f"\n<b>🔔 {escape(excerpt(label, 200), quote=False)}</b>")
        for a in alerts:
            title = escape(excerpt(a.entry.title or _("(untitled)"), LINE_TITLE), quote=False)
            link = _http(a.entry.link or a.entry.url)
            shown = f'<a href="{escape(link, quote=True)}">{title}</a>' if link else title
            source = escape(excerpt(a.feed_title or a.feed_url, LINE_FEED), quote=False)
            lines.append(f"• {shown} — {source}{escape(_age(a, now), quote=False)}")
    return "\n".join(lines)


def digest_markdown(digest: Digest, escape_md: Callable[[str], str], now: datetime | None = None) -> str:
    """Discord markdown (for an embed description)."""
    now = now or datetime.now(timezone.utc)
    lines: list[str] = []
    for label, alerts in digest.sections():
        lines.append(f"**🔔 {escape_md(excerpt(label, 200))}**")
        for a in alerts:
            title = escape_md(excerpt(a.entry.title or _("(untitled)"), LINE_TITLE))
            link = _http(a.entry.link or a.entry.url)
            shown = f"[{title}]({link.replace(')', '%29')})" if link else title
            source = escape_md(excerpt(a.feed_title or a.feed_url, LINE_FEED))
            lines.append(f"• {shown} — {source}{_age(a, now)}")
        lines.append("")
    return "\n".join(lines).strip()


def digest_json(digest: Digest, alert_json: Callable[[Alert], dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "digest", "why": digest.why, "destination": digest.destination,
            "alerts": [alert_json(a) for a in digest.alerts]}
