"""FeedError: what went wrong with a feed, in words a chat user understands."""

from __future__ import annotations

from bot.i18n import N_, _

# kind → a short explanation shown before the detail (in the language spoken where it is shown).
KINDS = {
    "dns": N_("the feed's host name was not found"),
    "refused": N_("the server refused the connection"),
    "timeout": N_("the server took too long to answer"),
    "tls": N_("the server's TLS certificate could not be verified"),
    "network": N_("the server could not be reached"),
    "http": N_("the server answered with an error"),
    "too_large": N_("the feed is larger than the size limit"),
    "redirects": N_("the feed redirects too many times"),
    "not_a_feed": N_("this is not a feed"),
    "malformed": N_("the feed is malformed"),
    "forbidden": N_("this address may not be fetched"),
    "gone": N_("the feed is gone for good"),
    "throttled": N_("the host asked tipoff to slow down"),
    "paced": N_("tipoff keeps to its request budget for this host"),
}


class FeedError(Exception):
    def __init__(self, kind: str, detail: str = "", *, retry_after: float | None = None) -> None:
        assert kind in KINDS, kind
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def message(self) -> str:
        head = _(KINDS[self.kind])
        return f"{head}: {self.detail}" if self.detail else head
