"""The Adapter protocol: every platform has the same small surface. An adapter turns
an Alert into its platform's payload (through a pure renderer) and sends it, answering
with one of three values instead of raising for the expected cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Union

from bot.model import Alert, Destination, Digest, Source, Told


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


@dataclass(frozen=True, slots=True)
class Limits:
    """What a platform takes, declared by each adapter as class data (apprise's style):
    the renderers and the command replies keep within it."""

    message_chars: int | None = None  # the longest message (None: no limit)
    messages_per_second: float | None = None  # overall, by default (Telegram's are configurable)
    messages_per_chat_second: float | None = None
    import_bytes: int = 2 * 1024 * 1024  # the largest OPML file /import reads


class Adapter(Protocol):
    kinds: tuple[str, ...]  # destination kinds this adapter delivers to
    limits: Limits

    async def start(self) -> None: ...
    async def send(self, destination: Destination, alert: Alert) -> SendResult: ...
    async def notify(self, destination: Destination, text: str) -> SendResult: ...  # a plain notice
    def split_digest(self, digest: Digest) -> list[Digest]: ...  # pure: messages within the platform's limits
    async def send_digest(self, destination: Destination, digest: Digest) -> SendResult: ...
    # the story of an alert already sent grew: its message is edited to name every outlet
    # so far (told.alert.also), silently; `new` are the sources this update adds.
    # Rejected when the message cannot be edited (deleted, too old, sent in a digest)
    async def update(self, destination: Destination, told: Told, new: tuple[Source, ...]) -> SendResult: ...
    async def close(self) -> None: ...
