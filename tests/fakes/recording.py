"""A test adapter that records what it is asked to send and answers from a script."""

from __future__ import annotations

from bot.adapters.base import Delivered, SendResult
from bot.model import Alert, Destination


class RecordingAdapter:
    kinds = ("console",)

    def __init__(self, script: list[SendResult] | None = None) -> None:
        self.script = list(script or [])
        self.attempts: list[tuple[str, Alert]] = []
        self.delivered: list[tuple[str, Alert]] = []
        self.notices: list[tuple[str, str]] = []

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

    async def close(self) -> None:
        pass

    def titles(self) -> list[str]:
        return [a.entry.title for _, a in self.delivered]
