"""Alert → the JSON body a generic webhook receives. Pure."""

from __future__ import annotations

from typing import Any

from bot import __version__
from bot.model import Alert


def alert_json(alert: Alert) -> dict[str, Any]:
    body = alert.to_dict()
    body.pop("story_keys", None)
    for w in body["watches"]:
        w["hits"] = [{"field": f, "start": s, "end": e} for f, s, e in w["hits"]]
        w.pop("owned", None)  # tipoff's own bookkeeping (whether alert buttons apply)
    return {"tipoff": __version__, "event": "alert", **body}  # "update" events will say how a story grew
