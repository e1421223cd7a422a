"""A WebSub hub on 127.0.0.1, as the W3C recommendation describes one: it takes
subscription requests (202), verifies the subscriber's intent with a GET carrying a
challenge that must be echoed, and distributes content by POST with an
X-Hub-Signature HMAC of the body made with the subscriber's secret."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from tests.fakes.server import LocalServer


@dataclass
class Subscription:
    topic: str
    callback: str
    secret: str
    lease: int
    verified: bool = False


class FakeHub(LocalServer):
    def __init__(self, *, lease: int | None = None) -> None:
        self.requests: list[dict[str, str]] = []
        self.subscriptions: dict[str, Subscription] = {}  # topic → the verified one
        self.lease_override = lease  # the hub may grant a different lease than asked
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hub"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hub", self._hub)
        await self.serve_app(app)

    async def _hub(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append(form)
        if form.get("hub.mode") != "subscribe" or not form.get("hub.callback") or not form.get("hub.topic"):
            return web.Response(status=400, text="bad request")
        lease = self.lease_override or int(form.get("hub.lease_seconds") or 864000)
        sub = Subscription(form["hub.topic"], form["hub.callback"], form.get("hub.secret", ""), lease)
        task = asyncio.ensure_future(self._verify(sub))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _verify(self, sub: Subscription) -> None:
        await asyncio.sleep(0.05)
        challenge = secrets.token_hex(16)
        params = {"hub.mode": "subscribe", "hub.topic": sub.topic, "hub.challenge": challenge,
                  "hub.lease_seconds": str(sub.lease)}
        async with aiohttp.ClientSession() as s, s.get(sub.callback, params=params) as r:
            sub.verified = r.status == 200 and (await r.text()) == challenge
        if sub.verified:
            self.subscriptions[sub.topic] = sub

    async def publish(self, topic: str, body: bytes, *, secret: str | None = None, method: str = "sha256") -> int:
        """Distribute new content to the topic's subscriber; `secret` overrides the
        subscriber's (a forged push)."""
        sub = self.subscriptions[topic]
        key = (sub.secret if secret is None else secret).encode()
        signature = f"{method}={hmac.new(key, body, getattr(hashlib, method)).hexdigest()}"
        async with aiohttp.ClientSession() as s, s.post(sub.callback, data=body, headers={
                "Content-Type": "application/rss+xml", "X-Hub-Signature": signature}) as r:
            return r.status
