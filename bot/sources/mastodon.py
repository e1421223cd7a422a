"""`mastodon:#tag@instance` (a hashtag's public posts on one instance) and
`mastodon:@user@instance` (one account) → Mastodon's RSS feeds."""

from __future__ import annotations

import re
from urllib.parse import quote

from bot.i18n import N_, _
from bot.sources.base import Source, SourceError, SourceSettings

DESCRIPTION = N_("`mastodon:#tag@instance` (a hashtag's public posts on one instance) and "
                 "`mastodon:@user@instance` (one account) → Mastodon's RSS feeds.")
PREFIX = "mastodon"
EXAMPLES = ("mastodon:#popmusic@mastodon.social", "mastodon:@Gargron@mastodon.social")
_INSTANCE = r"([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
_TAG = re.compile(r"^#(\w{1,100})@" + _INSTANCE + "$")
_USER = re.compile(r"^@?([A-Za-z0-9_]{1,30})@" + _INSTANCE + "$")


def expand(spec: str, settings: SourceSettings) -> Source:
    text = spec.strip()
    m = _TAG.match(text)
    if m:
        tag, instance = m.groups()
        return Source(f"https://{instance.lower()}/tags/{quote(tag)}.rss", f"#{tag} on {instance}")
    m = _USER.match(text)
    if m:
        user, instance = m.groups()
        return Source(f"https://{instance.lower()}/@{user}.rss", f"@{user}@{instance}")
    raise SourceError(_("mastodon: needs #tag@instance or @user@instance, e.g. "
                        "mastodon:#popmusic@mastodon.social"))
