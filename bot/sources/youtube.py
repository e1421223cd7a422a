"""`youtube:UC…` (a channel id), `youtube:PL…` (a playlist) → YouTube's Atom feeds;
`youtube:@handle` → the channel page, whose HTML names its feed (found by the same
discovery as any page URL)."""

from __future__ import annotations

import re

from bot.i18n import N_, _
from bot.sources.base import Source, SourceError, SourceSettings

DESCRIPTION = N_("`youtube:UC…` (a channel id), `youtube:PL…` (a playlist), `youtube:@handle` (a channel) → "
                 "YouTube's feeds.")
PREFIX = "youtube"
EXAMPLES = ("youtube:@ladygaga", "youtube:UC07Kxew-cMIaykMOkzqHtBQ")
_CHANNEL = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_PLAYLIST = re.compile(r"^(PL|UU|OL|FL)[A-Za-z0-9_-]{10,40}$")
_HANDLE = re.compile(r"^@[A-Za-z0-9._-]{3,30}$")
FEEDS = "https://www.youtube.com/feeds/videos.xml"


def expand(spec: str, settings: SourceSettings) -> Source:
    text = spec.strip()
    if _CHANNEL.match(text):
        return Source(f"{FEEDS}?channel_id={text}", f"YouTube channel {text}")
    if _PLAYLIST.match(text):
        return Source(f"{FEEDS}?playlist_id={text}", f"YouTube playlist {text}")
    if _HANDLE.match(text):
        return Source(f"https://www.youtube.com/{text}", f"YouTube {text}", page=True)
    raise SourceError(_("youtube: needs a @handle or a channel id (UC followed by 22 characters), "
                        "e.g. youtube:@ladygaga"))
