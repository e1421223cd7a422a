"""`bsky:HANDLE` → the public RSS feed of a Bluesky profile. A bare name gets the
default `.bsky.social` domain."""

from __future__ import annotations

import re

from bot.i18n import N_, _
from bot.sources.base import Source, SourceError, SourceSettings

DESCRIPTION = N_("`bsky:HANDLE` → the public RSS feed of a Bluesky profile.")
PREFIX = "bsky"
EXAMPLES = ("bsky:ladygaga.bsky.social", "bsky:did:plc:z72i7hdynmk6r22z27h6tvur")
_HANDLE = re.compile(r"^(?=.{3,253}$)[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_DID = re.compile(r"^did:(plc|web):[A-Za-z0-9._:%-]+$")


def expand(spec: str, settings: SourceSettings) -> Source:
    text = spec.strip().lstrip("@")
    if text and "." not in text and not text.startswith("did:"):
        text += ".bsky.social"
    if not (_HANDLE.match(text) or _DID.match(text)):
        raise SourceError(_("bsky: needs a Bluesky handle, e.g. bsky:ladygaga.bsky.social"))
    return Source(f"https://bsky.app/profile/{text.lower() if not text.startswith('did:') else text}/rss",
                  f"Bluesky @{text}")
