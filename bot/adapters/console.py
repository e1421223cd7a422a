"""Console adapter: alerts as readable blocks on standard output."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.adapters.base import Delivered, Limits, SendResult
from bot.model import Alert, Destination, Digest, Source, Told
from bot.render.digest import digest_text
from bot.render.text import alert_block, update_line


class ConsoleAdapter:
    kinds: tuple[str, ...] = ("console",)
    limits = Limits()  # a terminal takes anything

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def start(self) -> None:
        pass

    async def send(self, destination: Destination, alert: Alert) -> SendResult:
        out = self.stream or sys.stdout
        out.write(alert_block(alert) + "\n\n")
        out.flush()
        return Delivered()

    async def notify(self, destination: Destination, text: str) -> SendResult:
        out = self.stream or sys.stdout
        out.write(f"━━ tipoff notice {'━' * 43}\n{text}\n\n")
        out.flush()
        return Delivered()

    async def update(self, destination: Destination, told: Told, new: tuple[Source, ...]) -> SendResult:
        out = self.stream or sys.stdout
        out.write(update_line(told.alert) + "\n\n")
        out.flush()
        return Delivered()

    def split_digest(self, digest: Digest) -> list[Digest]:
        return [digest]  # a terminal has no message limit

    async def send_digest(self, destination: Destination, digest: Digest) -> SendResult:
        out = self.stream or sys.stdout
        out.write(digest_text(digest) + "\n\n")
        out.flush()
        return Delivered()

    async def close(self) -> None:
        pass
