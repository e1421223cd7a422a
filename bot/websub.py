"""WebSub (PubSubHubbub) subscriber: near-real-time pushes for feeds that advertise a
hub. Pure parts (hub discovery, signature checks, the push-aware poll interval) are
plain functions; `WebSub` does the I/O: subscribing with a secret, answering the hub's
intent verification, taking signed content, renewing leases.

Pushed content is treated exactly like a polled body (the engine absorbs it through the
same path). Polling never stops: while pushes arrive the feed is polled at the long
`[websub] poll_every` interval as a safety net, and once push has been quiet for
`quiet_after` the feed's normal interval applies again."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Coroutine, Protocol
from urllib.parse import urlsplit

from bot.config import WebSubSettings
from bot.feeds.errors import FeedError
from bot.feeds.fetch import Fetcher
from bot.model import Feed, FeedId
from bot.store.base import Store


class PushTarget(Protocol):
    """What WebSub needs of the engine it feeds (the engine has it; neither imports the
    other): its feeds, absorbing a pushed body like a polled one, a store write soon, and
    the two hooks WebSub sets: every polled body is shown to it, and push-aware polling."""

    feeds: tuple[Feed, ...]
    on_body: list[Callable[[Feed, bytes, str | None], None]]
    push: WebSubSettings | None

    async def absorb_pushed(self, feed: Feed, body: bytes) -> object: ...
    def flush_soon(self) -> None: ...

log = logging.getLogger("tipoff.websub")

_LINK_TAG = re.compile(rb"<(?:atom:)?link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""\b(rel|href)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_FIRST_ENTRY = re.compile(rb"<(?:\w+:)?(?:item|entry)\b", re.IGNORECASE)
_HEADER_LINK = re.compile(r'<([^>]+)>\s*;\s*rel\s*=\s*"?([^";,]+)"?')
RENEW_BEFORE = 0.2  # renew when this share of the lease is left
RETRY_SUBSCRIBE = 3600.0  # after a failed subscription request


@dataclass(frozen=True, slots=True)
class HubLink:
    hub: str
    topic: str  # the feed's self URL: what the hub knows it by


def discover(body: bytes, feed_url: str, link_header: str | None = None) -> HubLink | None:
    """The hub and topic a feed advertises (`<link rel="hub">` / `<atom:link rel="hub">`
    in the feed's head, or an HTTP Link header); the topic is its rel="self" link, else
    the URL it was fetched from. Only http(s) hubs count."""
    links: dict[str, str] = {}
    if link_header:
        for href, rel in _HEADER_LINK.findall(link_header):
            links.setdefault(rel.strip().lower(), href.strip())
    first = _FIRST_ENTRY.search(body)
    head = body[:first.start()] if first else body[:65536]
    for tag in _LINK_TAG.findall(head):
        attrs = {m.group(1).lower(): (m.group(2) or m.group(3) or b"") for m in _ATTR.finditer(tag)}
        rel, href = attrs.get(b"rel", b"").decode(errors="replace").lower(), attrs.get(b"href", b"").decode(
            errors="replace").strip()
        if rel in ("hub", "self") and href:
            links.setdefault(rel, href)
    hub = links.get("hub", "")
    if urlsplit(hub).scheme not in ("http", "https"):
        return None
    topic = links.get("self") or feed_url
    return HubLink(hub, topic if urlsplit(topic).scheme in ("http", "https") else feed_url)


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """The X-Hub-Signature check: `method=hexdigest`, HMAC of the raw body with the
    subscription's secret (sha1, sha256, sha384 or sha512), compared in constant time."""
    if not header or "=" not in header:
        return False
    method, _, given = header.partition("=")
    if method.lower() not in ("sha1", "sha256", "sha384", "sha512"):
        return False
    expected = hmac.new(secret.encode(), body, method.lower()).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


class WebSub:
    """Subscriptions of one tipoff process. The web server routes the hub's requests to
    `verify` and `receive`; the engine shows `consider` every polled body."""

    def __init__(self, settings: WebSubSettings, engine: PushTarget, store: Store, fetcher: Fetcher,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.engine = engine
        self.store = store
        self.fetcher = fetcher
        engine.on_body.append(self.consider)
        engine.push = settings
        self.clock = clock
        self._pending: dict[FeedId, tuple[str, str, float]] = {}  # feed → (topic, secret, asked at)
        self._tasks: set[asyncio.Task[None]] = set()
        self._renewer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._renewer = asyncio.ensure_future(self._renew_loop())

    async def close(self) -> None:
        for task in [*self._tasks, *([self._renewer] if self._renewer else [])]:
            task.cancel()
        for task in [*self._tasks, *([self._renewer] if self._renewer else [])]:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()

    # -- subscribing -------------------------------------------------------------------

    def consider(self, feed: Feed, body: bytes, link_header: str | None = None) -> None:
        """A feed's body was fetched: subscribe when it advertises a hub and we hold no
        live (or pending) subscription for it."""
        state = self.store.feed_state(feed.id)
        now = self.clock()
        if state is None or feed.id in self._pending:
            return
        if state.push_until and state.push_until - now > RENEW_BEFORE * self.settings.lease:
            return
        if state.hub_retry_at and state.hub_retry_at > now:
            return
        link = discover(body, feed.url, link_header)
        if link is None:
            return
        self._spawn(self.subscribe(feed, link))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def subscribe(self, feed: Feed, link: HubLink) -> None:
        secret = secrets.token_hex(24)
        self._pending[feed.id] = (link.topic, secret, self.clock())
        form = {"hub.mode": "subscribe", "hub.topic": link.topic, "hub.secret": secret,
                "hub.callback": f"{(self.settings.callback or '').rstrip('/')}/{feed.id}",
                "hub.lease_seconds": str(int(self.settings.lease))}
        try:
            # the hub's address comes from the feed's content (the open web), whoever named the feed
            status = await self.fetcher.post_form(link.hub, form, trusted=False)
            if status not in (202, 204):
                raise FeedError("http", f"the hub answered {status}")
        except FeedError as exc:
            self._pending.pop(feed.id, None)
            log.warning("websub: subscribing %s at %s failed: %s; polling as usual", feed.url, link.hub, exc.message)
            state = self.store.feed_state(feed.id)
            if state is not None:
                self.store.put_feed_state(replace(state, hub=link.hub, hub_retry_at=self.clock() + RETRY_SUBSCRIBE))
            return
        state = self.store.feed_state(feed.id)
        if state is not None:
            self.store.put_feed_state(replace(state, hub=link.hub, push_topic=link.topic, push_secret=secret))
        log.info("websub: asked %s to push %s", link.hub, link.topic)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(min(3600.0, self.settings.lease * RENEW_BEFORE / 2))
            self.renew_due()

    def renew_due(self) -> int:
        """Re-subscribe every live subscription whose lease is nearly over (also when
        its feed has not been polled lately); returns how many were asked."""
        now = self.clock()
        asked = 0
        for feed in self.engine.feeds:
            state = self.store.feed_state(feed.id)
            if (state and state.hub and state.push_topic and state.push_until and feed.id not in self._pending
                    and state.push_until - now < RENEW_BEFORE * self.settings.lease):
                self._spawn(self.subscribe(feed, HubLink(state.hub, state.push_topic)))
                asked += 1
        return asked

    # -- the hub's requests ----------------------------------------------------------------

    def verify(self, token: str, mode: str, topic: str, challenge: str, lease: str | None) -> str | None:
        """The hub's intent verification (GET): the challenge to echo, or None (404)
        when we did not ask for this."""
        feed_id = FeedId(token)
        pending = self._pending.get(feed_id)
        state = self.store.feed_state(feed_id)
        if mode == "subscribe" and pending is not None and pending[0] == topic and challenge:
            seconds = float(lease) if lease and lease.isdigit() else self.settings.lease
            now = self.clock()
            if state is not None:
                self.store.put_feed_state(replace(state, push_until=now + seconds, last_push=now,
                                                  push_secret=pending[1], push_topic=topic))
            self._pending.pop(feed_id, None)
            self.engine.flush_soon()
            log.info("websub: %s confirmed for %.0f days", topic, seconds / 86400)
            return challenge
        if mode == "unsubscribe" and state is not None and state.push_topic == topic and not state.push_until:
            return challenge
        return None

    async def receive(self, token: str, body: bytes, signature: str | None) -> bool:
        """A push (POST). Returns whether it was taken; a bad signature is ignored (the
        hub still gets a 2xx, as WebSub requires) and logged."""
        feed_id = FeedId(token)
        state = self.store.feed_state(feed_id)
        feed = next((f for f in self.engine.feeds if f.id == feed_id), None)
        if feed is None or state is None or not state.push_secret:
            log.warning("websub: a push for an unknown subscription (%s) was ignored", token[:40])
            return False
        if not signature_ok(state.push_secret, body, signature):
            log.warning("websub: a push for %s had a missing or wrong signature and was ignored", feed.url)
            return False
        self.store.put_feed_state(replace(state, last_push=self.clock()))
        await self.engine.absorb_pushed(feed, body)
        return True

