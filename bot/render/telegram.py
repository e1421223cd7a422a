"""Alert → the parameters of a Telegram sendMessage call, in HTML parse mode. Pure.

Every piece of feed text is escaped, so the result is always markup Telegram's HTML
parser accepts, and every part is capped, so it can never pass 4,096 characters."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html import escape, unescape
from typing import Any

from bot.i18n import _
from bot.model import Alert, Button, Digest, alert_buttons
from bot.render import digest as digests
from bot.render.text import ago, also_reported, excerpt, excerpt_pieces, summary_and_spans

MAX_TEXT = 4096  # Telegram's limit, in UTF-16 code units of the text after parsing
TITLE_MAX = 300
EXCERPT_MAX = 700
FEED_MAX = 100
RULE_MAX = 300
WATCHES_SHOWN = 5  # more fired watches are summarised as "+N more"
_TAG = re.compile(r"<[^>]+>")


def _link(url: str) -> str | None:
    return url if url.startswith(("http://", "https://")) else None


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def alert_html(alert: Alert, now: datetime | None = None, excerpt_max: int = EXCERPT_MAX) -> str:
    now = now or datetime.now(timezone.utc)
    e = alert.entry
    title = escape(excerpt(e.title or _("(untitled)"), TITLE_MAX), quote=False)
    link = _link(e.link or e.url)
    head = f'<b><a href="{escape(link, quote=True)}">{title}</a></b>' if link else f"<b>{title}</b>"
    source = escape(excerpt(alert.feed_title or alert.feed_url, FEED_MAX), quote=False)
    when = e.published or e.updated
    meta = f"{source} · {ago(when, now)}" if when else source
    lines = [head, meta]
    text, spans = summary_and_spans(alert)
    body = "".join(f"<b>{escape(p, quote=False)}</b>" if hot else escape(p, quote=False)
                   for p, hot in excerpt_pieces(text, spans, excerpt_max))
    if body:
        lines += ["", body]
    for w in alert.watches[:WATCHES_SHOWN]:
        name = escape(excerpt(w.label or w.rule, RULE_MAX), quote=False)
        terms = escape(excerpt(", ".join(w.terms), RULE_MAX), quote=False)
        matched = " — " + _("matched: {terms}").format(terms=f"<i>{terms}</i>") if terms else ""
        lines.append(f"\n🔔 {name}{matched}")
    if len(alert.watches) > WATCHES_SHOWN:
        lines.append(_("(+{count} more watches)").format(count=len(alert.watches) - WATCHES_SHOWN))
    if also := also_reported(alert):
        lines.append(f"\n📰 <i>{escape(also, quote=False)}</i>")
    return "\n".join(lines)


def alert_message(alert: Alert, chat_id: int | str, thread_id: int | None = None,
                  now: datetime | None = None) -> dict[str, Any]:
    """The exact sendMessage parameters for an alert."""
    text = alert_html(alert, now)
    budget = EXCERPT_MAX
    while utf16_len(visible_text(text)) > MAX_TEXT and budget > 0:  # only with absurd watch counts
        budget //= 2
        text = alert_html(alert, now, budget)
    params: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
    if thread_id:
        params["message_thread_id"] = thread_id
    link = _link(alert.entry.link or alert.entry.url)
    params["link_preview_options"] = {"url": link} if link else {"is_disabled": True}
    buttons = alert_buttons(alert)
    if buttons:
        params["reply_markup"] = inline_keyboard(buttons)
    return params


def inline_keyboard(buttons: tuple[Button, ...]) -> dict[str, Any]:
    """Buttons side by side, one row; Telegram's callback data is at most 64 bytes."""
    return {"inline_keyboard": [[{"text": b.label, "callback_data": b.action.encode()[:64].decode(errors="ignore")}
                                 for b in buttons]]}


def visible_text(html_text: str) -> str:
    """The text Telegram will show: tags removed, entities decoded."""
    return unescape(_TAG.sub("", html_text))


def digest_fits(digest: Digest) -> bool:
    return utf16_len(visible_text(digests.digest_html(digest))) <= MAX_TEXT


def split_digest(digest: Digest) -> list[Digest]:
    return digests.split(digest, digest_fits)


def digest_message(digest: Digest, chat_id: int | str, thread_id: int | None = None,
                   now: datetime | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"chat_id": chat_id, "text": digests.digest_html(digest, now), "parse_mode": "HTML",
                              "link_preview_options": {"is_disabled": True}}
    if thread_id:
        params["message_thread_id"] = thread_id
    return params
