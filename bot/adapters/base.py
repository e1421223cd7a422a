"""The Adapter protocol: every platform has the same small surface. An adapter turns
an Alert into its platform's payload (through a pure renderer) and sends it, answering
with one of three values instead of raising for the expected cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Union

from bot.model import Alert, Destination, Digest


@dataclass(frozen=True, slots=True)
class Delivered:
    receipt: str = ""  # the platform's message id, when it gives one


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """Try again later: after `seconds` if the platform said so, else with backoff."""

    seconds: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class Gone:
    """The destination will never accept this again (webhook deleted, bot removed)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Moved:
    """The chat lives on under a new id (a Telegram group upgraded to a supergroup):
    move everything of the destination there and send again."""

    to: str  # the new destination name


@dataclass(frozen=True, slots=True)
class Rejected:
    """The platform refuses this one message for good (retrying cannot help); the
    destination itself is fine."""

    reason: str


SendResult = Union[Delivered, RetryAfter, Gone, Moved, Rejected]


class StartError(RuntimeError):
    """An adapter cannot start for a reason retrying will not mend (a rejected token):
    the message says what to fix and holds no secret."""


def describe_client_error(exc: BaseException) -> str:
    """An HTTP client error in words that name no URL (a destination's URL may hold its
    token: a Discord webhook's does): aiohttp's own messages often print the URL."""
    import aiohttp

    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid URL"
    return type(exc).__name__


class Adapter(Protocol):
    kinds: tuple[str, ...]  # destination kinds this adapter delivers to

    async def start(self) -> None: ...
    async def send(self, destination: Destination, alert: Alert) -> SendResult: ...
    async def notify(self, destination: Destination, text: str) -> SendResult: ...  # a plain notice
    def split_digest(self, digest: Digest) -> list[Digest]: ...  # pure: messages within the platform's limits
    async def send_digest(self, destination: Destination, digest: Digest) -> SendResult: ...
    async def close(self) -> None: ...
