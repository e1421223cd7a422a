"""Generic JSON webhook: POST the alert as JSON. 2xx delivered; 429/503 retried after
Retry-After; 410 gone for good; anything else (other statuses, network errors,
timeouts) retried with backoff. How tipoff is wired into ntfy, n8n, Home Assistant."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timezone
from typing import Any

import aiohttp
import orjson

from bot import __version__
from bot.adapters.base import Delivered, Gone, Limits, RetryAfter, SendResult
from bot.adapters.http import HttpSession
from bot.http_answers import describe_client_error, retry_after_seconds, status_text
from bot.model import Alert, Destination, Digest, Source, Told
from bot.render.digest import digest_json
from bot.render.json import alert_json, update_id, update_json


def hash_key(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class WebhookAdapter(HttpSession):
    kinds: tuple[str, ...] = ("webhook",)
    limits = Limits()  # one JSON POST per alert, any size; pacing is the receiver's 429

    async def send(self, destination: Destination, alert: Alert) -> SendResult:
        # a timed-out POST may have arrived: the key lets the receiver drop the retry
        return await self._post(destination, alert_json(alert), {"Idempotency-Key": alert.id})

    async def update(self, destination: Destination, told: Told, new: tuple[Source, ...]) -> SendResult:
        at = datetime.now(timezone.utc).isoformat()
        return await self._post(destination, update_json(told.alert, new, at), {"Idempotency-Key": update_id(told.alert)})

    def split_digest(self, digest: Digest) -> list[Digest]:
        return [digest]

    async def send_digest(self, destination: Destination, digest: Digest) -> SendResult:
        key = "digest:" + ",".join(a.id for a in digest.alerts)
        return await self._post(destination, {"tipoff": __version__, **digest_json(digest, alert_json)},
                                {"Idempotency-Key": f"{destination.name}:{hash_key(key)}"})

    async def notify(self, destination: Destination, text: str) -> SendResult:
        return await self._post(destination, {"tipoff": __version__, "destination": destination.name, "notice": text})

    async def _post(self, destination: Destination, payload: dict[str, Any],
                    headers: dict[str, str] | None = None) -> SendResult:
        session = await self.session()
        url = str(destination.option("url"))
        body = orjson.dumps(payload)
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                if 200 <= resp.status < 300:
                    return Delivered(resp.headers.get("X-Request-Id", ""))
                if resp.status == 410:
                    return Gone(f"the webhook answered {status_text(410)}")
                if resp.status in (429, 503):
                    wait = retry_after_seconds(resp.headers.get("Retry-After"))
                    return RetryAfter(wait, status_text(resp.status))
                return RetryAfter(None, status_text(resp.status))
        except asyncio.TimeoutError:
            return RetryAfter(None, f"no answer within {self.timeout:g}s")
        except aiohttp.ClientError as exc:
            return RetryAfter(None, describe_client_error(exc))
