"""Alert → what an Apprise service is sent: a title and an HTML body (Apprise turns it
into plain text or Markdown for services that take those). Feed text is escaped,
matched terms are bold, the link comes first. Pure."""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape

from bot.i18n import _
from bot.model import Alert, Digest
from bot.render import digest as digests
from bot.render.text import ago, also_reported, excerpt, excerpt_pieces, summary_and_spans

TITLE_MAX = 200
EXCERPT_MAX = 600


def alert_title(alert: Alert) -> str:
    return excerpt(" ".join((alert.entry.title or _("(untitled)")).split()), TITLE_MAX)


def alert_html(alert: Alert, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    e = alert.entry
    link = e.link or e.url
    lines = []
    if link.startswith(("http://", "https://")):  # the address shown too: a text-only service keeps it
        lines.append(f'<a href="{escape(link, quote=True)}">{escape(alert_title(alert), quote=False)}</a>')
        lines.append(f'<a href="{escape(link, quote=True)}">{escape(excerpt(link, 300), quote=False)}</a>')
    when = e.published or e.updated
    source = escape(excerpt(alert.feed_title or alert.feed_url, 100), quote=False)
    lines.append(f"{source} · {ago(when, now)}" if when else source)
    text, spans = summary_and_spans(alert)
    body = "".join(f"<b>{escape(p, quote=False)}</b>" if hot else escape(p, quote=False)
                   for p, hot in excerpt_pieces(text, spans, EXCERPT_MAX))
    if body:
        lines += ["", body]
    for w in alert.watches[:5]:
        terms = ", ".join(w.terms)
        matched = _("matched: {terms}").format(terms=f"<b>{escape(excerpt(terms, 200), quote=False)}</b>")
        lines.append(f"🔔 {escape(excerpt(w.label or w.rule, 200), quote=False)}" + (f" — {matched}" if terms else ""))
    if also := also_reported(alert):
        lines.append(f"📰 {escape(also, quote=False)}")
    return "<br>\n".join(lines)


def update_title(alert: Alert) -> str:
    return excerpt(_("Update: {title}").format(title=alert_title(alert)), TITLE_MAX)


def update_html(alert: Alert) -> str:
    """A short follow-up for a service that cannot edit what it was sent."""
    link = alert.entry.link or alert.entry.url
    head = (f'<a href="{escape(link, quote=True)}">{escape(alert_title(alert), quote=False)}</a>'
            if link.startswith(("http://", "https://")) else escape(alert_title(alert), quote=False))
    return f"{head}<br>\n📰 {escape(also_reported(alert, 5), quote=False)}"


def digest_title(digest: Digest) -> str:
    return digests.heading(digest)


def digest_html(digest: Digest, now: datetime | None = None) -> str:
    return digests.digest_html(digest, now).replace("\n", "<br>\n")
