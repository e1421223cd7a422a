"""Names of the destinations chats create. A configured destination has the name the
operator gave it; a chat is named after its platform and ids ("telegram:-1001234",
"telegram:-1001234/7" for a forum topic, "discord:5678"), so any part of tipoff can
turn a name back into a Destination without a lookup."""

from __future__ import annotations

from typing import Mapping

from bot.model import Destination, DestinationName


def telegram(chat_id: int, thread_id: int | None = None) -> Destination:
    name = f"telegram:{chat_id}" + (f"/{thread_id}" if thread_id else "")
    options: tuple[tuple[str, str | int], ...] = (("chat_id", chat_id),)
    if thread_id:
        options += (("thread_id", thread_id),)
    return Destination(DestinationName(name), "telegram", options)


def discord(channel_id: int) -> Destination:
    return Destination(DestinationName(f"discord:{channel_id}"), "discord", (("channel_id", channel_id),))


def resolve(name: str, configured: Mapping[DestinationName, Destination]) -> Destination | None:
    """The Destination a name stands for: a configured one, or a chat's."""
    found = configured.get(DestinationName(name))
    if found is not None:
        return found
    platform, _, ids = name.partition(":")
    try:
        if platform == "telegram":
            chat, _, thread = ids.partition("/")
            return telegram(int(chat), int(thread) if thread else None)
        if platform == "discord":
            return discord(int(ids))
    except ValueError:
        return None
    return None
