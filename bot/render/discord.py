"""Alert → a Discord message payload: one embed, within every Discord limit, feed text
markdown-escaped, and allowed_mentions that let nothing in a feed ping anyone. The
only possible ping is the role a watch asked for. Pure."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Any

from bot.i18n import _
from bot.model import Alert, Digest
from bot.render import digest as digests
from bot.render.text import also_reported, excerpt, excerpt_pieces, summary_and_spans

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
AUTHOR_MAX = 256
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
URL_MAX = 2000
EXCERPT_MAX = 1500
FIELD_MAX = 1024
_MARKDOWN = re.compile(r"([\\*_~`|>\[\]()#<:@-])")
_ROLE_ID = re.compile(r"^[0-9]{15,21}$")


def escape_markdown(text: str) -> str:
    """Backslash every character Discord's markdown (or its mention syntax) reacts to."""
    return _MARKDOWN.sub(r"\\\1", text)


def _url(url: str | None) -> str | None:
    if url and url.startswith(("http://", "https://")) and len(url) <= URL_MAX and " " not in url:
        return url
    return None


def colour_for(watch_id: str) -> int:
    """A stable colour per watch, so a channel's watches are told apart at a glance."""
    return int.from_bytes(hashlib.blake2b(watch_id.encode(), digest_size=3).digest(), "big")


def _capped(text: str, limit: int) -> str:
    """Escaped text within `limit` characters (escaping is counted)."""
    out = escape_markdown(text)
    while len(out) > limit:
        text = excerpt(text, max(1, len(text) - (len(out) - limit) - 1))
        out = escape_markdown(text)
    return out


def alert_payload(alert: Alert, now: datetime | None = None) -> dict[str, Any]:
    """The exact JSON body of POST /channels/{id}/messages (or a webhook execute)."""
    e = alert.entry
    text, spans = summary_and_spans(alert)
    description = "".join(f"**{escape_markdown(p)}**" if hot else escape_markdown(p)
                          for p, hot in excerpt_pieces(text, spans, EXCERPT_MAX))
    first = alert.watches[0] if alert.watches else None
    footer = " · ".join(f"🔔 {w.label or w.rule}" + (f" — {', '.join(w.terms)}" if w.terms else "")
                        for w in alert.watches[:3])
    embed: dict[str, Any] = {
        "type": "rich",
        "title": _capped(e.title or _("(untitled)"), TITLE_MAX),
        "author": {"name": _capped(alert.feed_title or alert.feed_url or "feed", AUTHOR_MAX)},
        "color": colour_for(first.watch_id if first else "tipoff"),
    }
    if description:
        embed["description"] = description[:DESCRIPTION_MAX]
    if footer:
        embed["footer"] = {"text": _capped(footer, FOOTER_MAX)}
    link = _url(e.link or e.url)
    if link:
        embed["url"] = link
    when = e.published or e.updated
    if when:
        embed["timestamp"] = when.astimezone(timezone.utc).isoformat()
    image = _url(e.image)
    if image:
        embed["thumbnail"] = {"url": image}
    if also := also_reported(alert):
        embed["fields"] = [{"name": "📰 " + _("Story"), "value": _capped(also, FIELD_MAX), "inline": False}]
    _fit(embed)
    roles = list(dict.fromkeys(w.mention for w in alert.watches if _ROLE_ID.match(w.mention or "")))
    return {
        "content": " ".join(f"<@&{r}>" for r in roles),
        "embeds": [embed],
        "allowed_mentions": {"parse": [], "roles": roles},
    }


def embed_length(embed: dict[str, Any]) -> int:
    """What Discord counts toward its 6,000-character limit."""
    return (len(embed.get("title", "")) + len(embed.get("description", ""))
            + len(embed.get("author", {}).get("name", "")) + len(embed.get("footer", {}).get("text", ""))
            + sum(len(f.get("name", "")) + len(f.get("value", "")) for f in embed.get("fields", [])))


def _fit(embed: dict[str, Any]) -> None:
    over = embed_length(embed) - EMBED_TOTAL_MAX
    if over > 0 and "description" in embed:
        embed["description"] = embed["description"][: max(0, len(embed["description"]) - over - 1)] + "…"


def digest_payload(digest: Digest, now: datetime | None = None) -> dict[str, Any]:
    """One embed listing the digest's alerts, grouped by watch; roles of its watches
    mentioned once."""
    embed: dict[str, Any] = {
        "type": "rich",
        "title": digests.heading(digest),
        "description": digests.digest_markdown(digest, escape_markdown, now)[:DESCRIPTION_MAX],
        "color": colour_for("digest"),
    }
    roles = list(dict.fromkeys(w.mention for a in digest.alerts for w in a.watches if _ROLE_ID.match(w.mention or "")))
    return {"content": " ".join(f"<@&{r}>" for r in roles), "embeds": [embed],
            "allowed_mentions": {"parse": [], "roles": roles}}


def digest_fits(digest: Digest) -> bool:
    return len(digests.digest_markdown(digest, escape_markdown)) <= DESCRIPTION_MAX


def split_digest(digest: Digest) -> list[Digest]:
    return digests.split(digest, digest_fits)
