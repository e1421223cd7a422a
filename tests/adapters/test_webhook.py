from datetime import datetime, timezone

import pytest
from aiohttp import web

from bot.adapters.base import Delivered, Gone, RetryAfter
from bot.adapters.webhook import WebhookAdapter
from bot.model import Alert, Destination, FiredWatch
from tests.factories import entry
from tests.fakes.feed_server import Served

ALERT = Alert("fans:1", "fans", entry("Gaga and Britney duet", url="https://pop.example/1"), "PopWire",
              "https://pop.example/feed", (FiredWatch("w1", "duet", ("duet",), "label"),),
              datetime(2026, 11, 25, tzinfo=timezone.utc), ("k",))


async def send(feed_server, route):
    url = feed_server.serve("/hook", route)
    adapter = WebhookAdapter(timeout=2)
    try:
        return await adapter.send(Destination("fans", "webhook", (("url", url),)), ALERT)
    finally:
        await adapter.close()


async def test_posts_the_alert_as_json(feed_server):
    received = []

    async def hook(request):
        received.append((request.headers["Content-Type"], await request.json()))
        assert request.headers["Idempotency-Key"] == "fans:1"
        return web.Response(status=204)
    assert isinstance(await send(feed_server, hook), Delivered)
    ctype, body = received[0]
    assert ctype == "application/json"
    assert body["entry"]["title"] == "Gaga and Britney duet"
    assert body["feed"] == {"id": "f1", "title": "PopWire", "url": "https://pop.example/feed"}
    assert body["watches"] == [{"id": "w1", "rule": "duet", "label": "label", "terms": ["duet"], "hits": [],
                              "mention": ""}]
    assert "story_keys" not in body and body["tipoff"] and body["event"] == "alert"
    assert body["entry"]["source"] == ""  # an aggregator's item names its outlet here


@pytest.mark.parametrize("served, expected", [
    (Served(b"", status=429, headers={"Retry-After": "7"}), RetryAfter(7.0, "HTTP 429 Too Many Requests")),
    (Served(b"", status=503, headers={"Retry-After": "60"}), RetryAfter(60.0, "HTTP 503 Service Unavailable")),
    (Served(b"", status=500), RetryAfter(None, "HTTP 500 Internal Server Error")),
    (Served(b"", status=404), RetryAfter(None, "HTTP 404 Not Found")),
    (Served(b"", status=410), Gone("the webhook answered HTTP 410 Gone")),
])
async def test_status_codes_map_to_results(feed_server, served, expected):
    assert await send(feed_server, served) == expected


async def test_timeout_is_retried(feed_server):
    result = await send(feed_server, Served(b"", delay=5))
    assert isinstance(result, RetryAfter) and "no answer" in result.reason


async def test_unreachable_is_retried(unused_tcp_port):
    adapter = WebhookAdapter(timeout=2)
    dest = Destination("fans", "webhook", (("url", f"http://127.0.0.1:{unused_tcp_port}/hook"),))
    try:
        assert isinstance(await adapter.send(dest, ALERT), RetryAfter)
    finally:
        await adapter.close()
