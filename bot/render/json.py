"""Alert → the JSON body a generic webhook receives. Pure."""

from __future__ import annotations

from typing import Any

from bot import __version__
from bot.model import Alert, Source


def alert_json(alert: Alert) -> dict[str, Any]:
    body = alert.to_dict()
    body.pop("story_keys", None)
    for w in body["watches"]:
        w["hits"] = [{"field": f, "start": s, "end": e} for f, s, e in w["hits"]]
        w.pop("owned", None)  # tipoff's own bookkeeping (whether alert buttons apply)
    return {"tipoff": __version__, "event": "alert", **body}


def update_json(alert: Alert, new: tuple[Source, ...], at: str) -> dict[str, Any]:
    """An alert's story grew: the story (its id, the alert it updates, every source so
    far, first first) and the sources this update adds."""
    return {"tipoff": __version__, "event": "update", "id": update_id(alert), "destination": alert.destination,
            "created_at": at,
            "story": {"id": alert.story, "alert_id": alert.id, "title": alert.entry.title,
                      "url": alert.entry.link or alert.entry.url, "sources": [s.to_dict() for s in alert.sources]},
            "new_sources": [s.to_dict() for s in new]}


def update_id(alert: Alert) -> str:
    """The same for every delivery of one update (a receiver drops retries by it)."""
    return f"{alert.id}:update:{len(alert.sources)}"
