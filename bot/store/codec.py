"""Alert ↔ plain JSON-able dict: the form alerts take in the outbox and in webhook
bodies. One definition, so what is stored is exactly what can be sent again."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from bot.model import Alert, DestinationName, Entry, FeedId, FiredWatch, Subscription, Watch, WatchId
from bot.store.base import OutboxItem


def _time(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    e = alert.entry
    return {
        "id": alert.id,
        "destination": alert.destination,
        "created_at": _time(alert.created_at),
        "feed": {"id": e.feed_id, "title": alert.feed_title, "url": alert.feed_url},
        "entry": {
            "id": e.id, "url": e.url, "link": e.link, "title": e.title, "summary": e.summary,
            "content": e.content, "authors": list(e.authors), "tags": list(e.tags),
            "published": _time(e.published), "updated": _time(e.updated), "image": e.image,
        },
        "watches": [{"id": w.watch_id, "rule": w.rule, "label": w.label, "terms": list(w.terms),
                     "hits": [list(h) for h in w.hits], "mention": w.mention, "owned": w.owned}
                    for w in alert.watches],
        "story_keys": list(alert.story_keys),
    }


def alert_from_dict(d: Mapping[str, Any]) -> Alert:
    e, f = d["entry"], d["feed"]
    entry = Entry(
        feed_id=FeedId(f["id"]), id=e["id"], url=e.get("url", ""), link=e.get("link", ""),
        title=e.get("title", ""), summary=e.get("summary", ""), content=e.get("content", ""),
        authors=tuple(e.get("authors") or ()), tags=tuple(e.get("tags") or ()),
        published=_parse_time(e.get("published")), updated=_parse_time(e.get("updated")), image=e.get("image"),
    )
    watches = tuple(FiredWatch(WatchId(w["id"]), w["rule"], tuple(w.get("terms") or ()), w.get("label", ""),
                               tuple((str(f), int(s), int(e)) for f, s, e in w.get("hits") or ()),
                               str(w.get("mention") or ""), bool(w.get("owned")))
                    for w in d.get("watches") or ())
    created = _parse_time(d.get("created_at"))
    assert created is not None
    return Alert(d["id"], DestinationName(d["destination"]), entry, f.get("title", ""), f.get("url", ""),
                 watches, created, tuple(d.get("story_keys") or ()))


def watch_to_dict(w: Watch) -> dict[str, Any]:
    return {"id": w.id, "rule": w.rule, "notify": list(w.notify), "created_at": _time(w.created_at),
            "label": w.label, "owner": w.owner, "mention": w.mention, "group": w.group,
            "snoozed_until": w.snoozed_until, "digest": w.digest}


def watch_from_dict(d: Mapping[str, Any]) -> Watch:
    created = _parse_time(d.get("created_at"))
    assert created is not None
    owner = d.get("owner")
    return Watch(WatchId(d["id"]), d["rule"], tuple(DestinationName(n) for n in d.get("notify") or ()), created,
                 d.get("label", ""), DestinationName(owner) if owner else None, str(d.get("mention") or ""),
                 str(d.get("group") or ""), float(d.get("snoozed_until") or 0.0), str(d.get("digest") or ""))


def subscription_to_dict(s: Subscription) -> dict[str, Any]:
    return {"id": s.id, "dest": s.destination, "url": s.url, "every": s.every,
            "added_at": _time(s.added_at), "added_by": s.added_by, "group": s.group}


def subscription_from_dict(d: Mapping[str, Any]) -> Subscription:
    added = _parse_time(d.get("added_at"))
    assert added is not None
    return Subscription(d["id"], DestinationName(d["dest"]), d["url"], float(d["every"]), added,
                        d.get("added_by", ""), str(d.get("group") or ""))


def outbox_doc(item: OutboxItem) -> dict[str, Any]:
    """An outbox item as both stores write it."""
    return {"id": item.id, "seq": item.seq, "dest": item.destination, "alert": item.alert,
            "attempts": item.attempts, "next_try": item.next_try, "last_error": item.last_error}
