"""Discord webhook delivery: the same embed as the bot sends, POSTed to a webhook URL
from the config with wait=true, no bot needed. 429 is honoured (retry_after in the body,
X-RateLimit-Reset-After in the headers); 404 means the webhook was deleted: the
destination is deactivated and never retried."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import aiohttp
import orjson
import yarl

from bot.adapters.base import Delivered, Gone, Limits, Rejected, RetryAfter, SendResult
from bot.adapters.http import HttpSession
from bot.http_answers import status_text
from bot.model import Alert, Destination, Digest, Source, Told
from bot.render.discord import alert_payload, digest_payload, split_digest


def _message_url(url: str, message_id: str) -> yarl.URL:
    """The webhook's message (its query, a thread_id, kept)."""
    u = yarl.URL(url)
    return u.with_path(u.path.rstrip("/") + f"/messages/{message_id}")


UNKNOWN_MESSAGE = 10008  # Discord's JSON error code for a message that is not there (deleted)


def _retry_after(body: Any, headers: Any) -> float | None:
    if isinstance(body, dict) and isinstance(body.get("retry_after"), (int, float)):
        return float(body["retry_after"])
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        value = headers.get(name)
        try:
            return float(value) if value is not None else None
        except ValueError:
            continue
    return None


class DiscordWebhookAdapter(HttpSession):
    kinds: tuple[str, ...] = ("discord_webhook",)
    limits = Limits(message_chars=2000, messages_per_chat_second=5 / 2)  # 5 per 2 s per webhook

    async def send(self, destination: Destination, alert: Alert) -> SendResult:
        return await self._post(destination, alert_payload(alert))

    async def update(self, destination: Destination, told: Told, new: tuple[Source, ...]) -> SendResult:
        """Edit the webhook's message (PATCH .../messages/{id}) to name every outlet so far."""
        if told.in_digest or not told.receipt.isdigit():
            return Rejected("the alert went out in a digest: it has no message of its own to edit")
        sent = datetime.fromtimestamp(told.sent_at, timezone.utc)
        return await self._post(destination, alert_payload(told.alert, sent), edit=told.receipt)

    def split_digest(self, digest: Digest) -> list[Digest]:
        return split_digest(digest)

    async def send_digest(self, destination: Destination, digest: Digest) -> SendResult:
        return await self._post(destination, digest_payload(digest))

    async def notify(self, destination: Destination, text: str) -> SendResult:
        return await self._post(destination, {"content": text[:2000], "allowed_mentions": {"parse": []}})

    async def _post(self, destination: Destination, payload: dict[str, Any], edit: str = "") -> SendResult:
        session = await self.session()
        url = str(destination.option("url"))
        data = orjson.dumps(payload)
        try:
            sending = (session.patch(_message_url(url, edit), data=data) if edit
                       else session.post(url, params={"wait": "true"}, data=data))
            async with sending as resp:
                body = await resp.json(content_type=None) if resp.content_length != 0 else None
                if resp.status in (200, 204):
                    return Delivered(str(body.get("id", "")) if isinstance(body, dict) else "")
                if resp.status == 429:
                    return RetryAfter(_retry_after(body, resp.headers), "Discord webhook rate limited")
                if edit and resp.status == 404 and isinstance(body, dict) and body.get("code") == UNKNOWN_MESSAGE:
                    return Rejected("Discord: the message was deleted")
                if resp.status in (401, 403, 404):
                    return Gone(f"the Discord webhook answered {status_text(resp.status)}: "
                                f"{body.get('message', '') if isinstance(body, dict) else ''}".rstrip(": "))
                if resp.status == 400:
                    return Rejected(f"Discord refused the message: {orjson.dumps(body).decode()[:300]}")
                return RetryAfter(None, status_text(resp.status))
        except asyncio.TimeoutError:
            return RetryAfter(None, f"no answer within {self.timeout:g}s")
        except (aiohttp.ClientError, ValueError) as exc:
            return RetryAfter(None, f"{type(exc).__name__}")
