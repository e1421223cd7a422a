"""FeedError: what went wrong with a feed, in words a chat user understands."""

from __future__ import annotations

# kind → a short explanation shown before the detail.
KINDS = {
    "dns": "the feed's host name was not found",
    "refused": "the server refused the connection",
    "timeout": "the server took too long to answer",
    "tls": "the server's TLS certificate could not be verified",
    "network": "the server could not be reached",
    "http": "the server answered with an error",
    "too_large": "the feed is larger than the size limit",
    "redirects": "the feed redirects too many times",
    "not_a_feed": "this is not a feed",
    "malformed": "the feed is malformed",
    "forbidden": "this address may not be fetched",
    "gone": "the feed is gone for good",
    "throttled": "the host asked tipoff to slow down",
    "paced": "tipoff keeps to its request budget for this host",
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
        head = KINDS[self.kind]
        return f"{head}: {self.detail}" if self.detail else head
