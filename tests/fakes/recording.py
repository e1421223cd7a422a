"""A test adapter that records what it is asked to send and answers from a script."""

from __future__ import annotations

from bot.adapters.base import Delivered, SendResult
from bot.model import Alert, Destination, Digest, Source, Told
from bot.render.digest import split


class RecordingAdapter:
    kinds = ("console",)

    def __init__(self, script: list[SendResult] | None = None) -> None:
        self.script = list(script or [])
        self.attempts: list[tuple[str, Alert]] = []
        self.delivered: list[tuple[str, Alert]] = []
        self.notices: list[tuple[str, str]] = []
        self.digests: list[tuple[str, Digest]] = []
        self.updates: list[tuple[str, Told, tuple[Source, ...]]] = []  # updates made: the alert as edited, what it adds
        self.update_script: list[SendResult] = []
        self.digest_size = 1000  # alerts per digest message, to test splitting

    async def start(self) -> None:
        pass

    async def send(self, destination: Destination, alert: Alert) -> SendResult:
        self.attempts.append((destination.name, alert))
        result = self.script.pop(0) if self.script else Delivered()
        if isinstance(result, Delivered):
            self.delivered.append((destination.name, alert))
        return result

    async def notify(self, destination: Destination, text: str) -> SendResult:
        self.notices.append((destination.name, text))
        return Delivered()

    async def update(self, destination: Destination, told: Told, new: tuple[Source, ...]) -> SendResult:
        result = self.update_script.pop(0) if self.update_script else Delivered()
        if isinstance(result, Delivered):
            self.updates.append((destination.name, told, new))
        return result

    def split_digest(self, digest: Digest) -> list[Digest]:
        return split(digest, lambda d: len(d.alerts) <= self.digest_size)

    async def send_digest(self, destination: Destination, digest: Digest) -> SendResult:
        self.digests.append((destination.name, digest))
        result = self.script.pop(0) if self.script else Delivered()
        if isinstance(result, Delivered):
            self.delivered += [(destination.name, a) for a in digest.alerts]
        return result

    async def close(self) -> None:
        pass

    def titles(self) -> list[str]:
        return [a.entry.title for _, a in self.delivered]
