"""How the stores write records as plain JSON-able dicts: outbox items (an alert in
the form webhooks receive, so what is stored is exactly what can be sent again), chats'
watches and feeds. Only the stores use it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Mapping

from bot.model import Alert, Coverage, DestinationName, Outgoing, Source, Subscription, Watch, WatchId
from bot.store.base import DestinationState, OutboxItem


def _time(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def watch_to_dict(w: Watch) -> dict[str, Any]:
    return {"id": w.id, "rule": w.rule, "notify": list(w.notify), "created_at": _time(w.created_at),
            "label": w.label, "owner": w.owner, "mention": w.mention, "group": w.group,
            "snoozed_until": w.snoozed_until, "digest": w.digest, "min_sources": w.min_sources, "within": w.within}


def watch_from_dict(d: Mapping[str, Any]) -> Watch:
    created = _parse_time(d.get("created_at"))
    assert created is not None
    owner = d.get("owner")
    return Watch(WatchId(d["id"]), d["rule"], tuple(DestinationName(n) for n in d.get("notify") or ()), created,
                 d.get("label", ""), DestinationName(owner) if owner else None, str(d.get("mention") or ""),
                 str(d.get("group") or ""), float(d.get("snoozed_until") or 0.0), str(d.get("digest") or ""),
                 int(d.get("min_sources") or 0), float(d.get("within") or 0.0))


def subscription_to_dict(s: Subscription) -> dict[str, Any]:
    return {"id": s.id, "dest": s.destination, "url": s.url, "every": s.every,
            "added_at": _time(s.added_at), "added_by": s.added_by, "group": s.group, "full": s.full_text}


def subscription_from_dict(d: Mapping[str, Any]) -> Subscription:
    added = _parse_time(d.get("added_at"))
    assert added is not None
    return Subscription(d["id"], DestinationName(d["dest"]), d["url"], float(d["every"]), added,
                        d.get("added_by", ""), str(d.get("group") or ""), bool(d.get("full")))


def outgoing_to_dict(message: Outgoing) -> dict[str, Any]:
    """An alert as its plain form (with "hold" while held), {"kind": "notice", "text"},
    or {"kind": "coverage", "story", "source"}."""
    body: dict[str, Any]
    if message.coverage is not None:
        body = {"kind": "coverage", "story": message.coverage.story, "source": message.coverage.source.to_dict()}
    elif message.alert is None:
        body = {"kind": "notice", "text": message.notice}
    else:
        body = message.alert.to_dict()
    if message.hold:
        body["hold"] = message.hold
    return body


def outgoing_from_dict(d: Mapping[str, Any]) -> Outgoing:
    hold = str(d.get("hold") or "")
    if d.get("kind") == "notice":
        return Outgoing(notice=str(d.get("text", "")), hold=hold)
    if d.get("kind") == "coverage":
        return Outgoing(coverage=Coverage(str(d.get("story") or ""), Source.from_dict(d.get("source") or {})),
                        hold=hold)
    return Outgoing(Alert.from_dict(d), hold=hold)


def outbox_doc(item: OutboxItem) -> dict[str, Any]:
    """An outbox item as both stores write it."""
    return {"id": item.id, "seq": item.seq, "dest": item.destination, "alert": outgoing_to_dict(item.message),
            "attempts": item.attempts, "next_try": item.next_try, "last_error": item.last_error}


def outbox_item(d: Mapping[str, Any]) -> OutboxItem:
    """An outbox item as both stores read it back."""
    return OutboxItem(d["id"], d["seq"], DestinationName(d["dest"]), outgoing_from_dict(d["alert"]),
                      d.get("attempts", 0), d.get("next_try", 0.0), d.get("last_error"))


# What a destination's state keeps besides whether it can be reached: stored under "extra",
# as before these were typed (existing databases read unchanged).
_SETTINGS = ("digest", "quiet", "paused", "sent_today", "day", "last_sent", "last_error", "last_error_at", "language",
             "locale")


def destination_to_dict(state: DestinationState) -> dict[str, Any]:
    defaults = DestinationState(state.name)
    extra = {k: getattr(state, k) for k in _SETTINGS if getattr(state, k) != getattr(defaults, k)}
    return {"name": state.name, "active": state.active, "reason": state.reason, "since": state.since, "extra": extra}


def destination_from_dict(d: Mapping[str, Any]) -> DestinationState:
    extra = d.get("extra") or {}
    state = DestinationState(DestinationName(d["name"]), bool(d.get("active", True)), d.get("reason"), d.get("since"))
    kinds = {"digest": str, "quiet": str, "paused": bool, "sent_today": int, "day": str, "last_sent": float,
             "last_error": str, "last_error_at": float, "language": str, "locale": str}
    return replace(state, **{k: kinds[k](extra[k]) for k in _SETTINGS if extra.get(k) is not None})
