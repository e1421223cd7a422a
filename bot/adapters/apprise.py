"""Apprise destinations (`kind = "apprise"`): email, Slack, Matrix, ntfy, Pushover,
Teams and the 80-odd services Apprise reaches, each named by an Apprise URL. The alert
is sent as HTML (Apprise converts it for services that take text or Markdown), long
ones split by Apprise to the service's limit. Apprise answers only "sent" or "not": a
failure is retried with backoff (the outbox keeps it), so a service down for an hour
loses nothing. Services cannot be edited through Apprise: a story's update is a short
follow-up. Apprise is synchronous; each send runs in a thread."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.adapters.base import Delivered, Limits, RetryAfter, SendResult
from bot.model import Alert, Destination, Digest, Source, Told
from bot.render import apprise as render

log = logging.getLogger("tipoff.apprise")


def prepared_url(url: str) -> str:
    """The URL with Apprise told to split what is too long for the service (unless the
    operator chose how)."""
    if "overflow=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "overflow=split"


def understood(url: str) -> bool:
    """Whether Apprise knows the service a URL names (checked when the config loads)."""
    import apprise

    return bool(apprise.Apprise().add(url))


class AppriseAdapter:
    kinds: tuple[str, ...] = ("apprise",)
    limits = Limits()  # each service's own limit is Apprise's to honour (overflow=split)

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._services: dict[str, Any] = {}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self._services.clear()

    def _service(self, destination: Destination) -> Any:
        import apprise

        url = str(destination.option("url") or "")
        found = self._services.get(url)
        if found is None:
            found = apprise.Apprise()
            found.add(prepared_url(url))
            self._services[url] = found
        return found

    async def _notify(self, destination: Destination, title: str, body: str) -> SendResult:
        import apprise

        service = self._service(destination)
        try:
            sent = await asyncio.wait_for(asyncio.to_thread(
                service.notify, body=body, title=title, body_format=apprise.NotifyFormat.HTML), self.timeout)
        except asyncio.TimeoutError:
            return RetryAfter(None, f"no answer within {self.timeout:g}s")
        if not sent:  # Apprise logged the service's answer (with the URL's secrets hidden)
            return RetryAfter(None, "the service did not take the notification")
        return Delivered()

    async def send(self, destination: Destination, alert: Alert) -> SendResult:
        return await self._notify(destination, render.alert_title(alert), render.alert_html(alert))

    async def notify(self, destination: Destination, text: str) -> SendResult:
        from html import escape

        return await self._notify(destination, "tipoff", escape(text, quote=False))

    async def update(self, destination: Destination, told: Told, new: tuple[Source, ...]) -> SendResult:
        return await self._notify(destination, render.update_title(told.alert), render.update_html(told.alert))

    def split_digest(self, digest: Digest) -> list[Digest]:
        return [digest]  # Apprise splits a body too long for the service

    async def send_digest(self, destination: Destination, digest: Digest) -> SendResult:
        return await self._notify(destination, render.digest_title(digest), render.digest_html(digest))
