"""The Adapter protocol: every platform has the same small surface. An adapter turns
an Alert into its platform's payload (through a pure renderer) and sends it, answering
with one of three values instead of raising for the expected cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Union

from bot.model import Alert, Destination


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


SendResult = Union[Delivered, RetryAfter, Gone]


class Adapter(Protocol):
    kinds: tuple[str, ...]  # destination kinds this adapter delivers to

    async def start(self) -> None: ...
    async def send(self, destination: Destination, alert: Alert) -> SendResult: ...
    async def close(self) -> None: ...
