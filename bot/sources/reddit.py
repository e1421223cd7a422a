"""`reddit:r/NAME` (newest posts of a subreddit), `reddit:u/NAME` (a user's posts) and
`reddit:QUERY` (newest posts matching a search) → Reddit's public RSS (Atom) feeds."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from bot.i18n import N_, _
from bot.sources.base import Source, SourceError, SourceSettings, unquote_spec

DESCRIPTION = N_("`reddit:r/NAME` (newest posts of a subreddit), `reddit:u/NAME` (a user's posts) and "
                 "`reddit:QUERY` (newest posts matching a search) → Reddit's public RSS feeds.")
PREFIX = "reddit"
EXAMPLES = ("reddit:r/popheads", 'reddit:"britney spears"')
_NAME = re.compile(r"^(?:/?(r|u|user)/)([A-Za-z0-9_-]{2,32})/?$")


def expand(spec: str, settings: SourceSettings) -> Source:
    text = unquote_spec(spec)
    if not text:
        raise SourceError(_("reddit: needs a subreddit (reddit:r/popheads) or search words"))
    m = _NAME.match(text)
    if m:
        kind, name = m.groups()
        if kind == "r":
            return Source(f"https://www.reddit.com/r/{name}/new/.rss", f"r/{name}")
        return Source(f"https://www.reddit.com/user/{quote(name)}/submitted/.rss", f"u/{name}")
    if text.startswith(("r/", "u/", "/r/", "/u/")):
        raise SourceError(_("{name} is not a subreddit or user name (letters, digits, _ and -)").format(
            name=repr(text)))
    return Source("https://www.reddit.com/search.rss?" + urlencode({"q": text, "sort": "new"}),
                  f"Reddit search: {text}")
