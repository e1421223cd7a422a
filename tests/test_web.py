"""/healthz and /metrics over real HTTP on 127.0.0.1, against a running engine."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.config import ConfigError, load_settings
from bot.web import WebServer
from tests.factories import eventually
from tests.factories import feed, item, rss, watch
from tests.fakes.feed_server import Served
from tests.harness import DUET, STORY


async def get(web: WebServer, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{web.port}{path}") as r:
        return r.status, await r.text()


async def metrics(web: WebServer) -> dict[str, float]:
    status, text = await get(web, "/metrics")
    assert status == 200
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


async def test_health_follows_the_loop_and_the_store_and_metrics_change(feed_server, harness):
    good = feed_server.serve("/good", rss([]))
    bad = feed_server.serve("/bad", Served(b"", status=500))
    h = await harness([feed(good, every=1.0), feed(bad, every=1.0)], [watch(DUET)])
    web = WebServer("127.0.0.1", 0, h.engine, h.store, clock=h.clock)
    await web.start()
    try:
        assert await get(web, "/healthz") == (503, "not polling\n")
        before = await metrics(web)
        assert before["tipoff_polls_total"] == 0 and before["tipoff_feeds{state=active}"] == 2

        stop = asyncio.Event()
        task = asyncio.create_task(h.engine.run(stop))
        await eventually(lambda: h.engine.stats.polls >= 2, what="a poll cycle")
        assert (await get(web, "/healthz"))[0] == 200
        feed_server.serve("/good", rss([item(STORY, guid="s1")]))
        h.clock.advance(2)
        h.engine.feeds_changed()  # wakes the loop
        await eventually(lambda: h.engine.stats.sent, what="the alert")
        after = await metrics(web)
        assert after["tipoff_polls_total"] >= 4
        assert after["tipoff_poll_errors_total{kind=http}"] >= 2
        assert after["tipoff_entries_parsed_total"] >= 1 and after["tipoff_entries_reused_total"] >= 0
        assert after["tipoff_hits_total"] == 1 and after["tipoff_alerts_sent_total{platform=console}"] == 1
        assert after["tipoff_feeds{state=failing}"] == 1
        assert after["tipoff_outbox_depth"] == 0
        assert after["tipoff_poll_cycle_seconds_count"] >= 2 and after["tipoff_poll_cycle_seconds_bucket{le=+Inf}"] >= 2

        h.store.write_error = "cannot write data/tipoff.json: No space left on device"
        assert await get(web, "/healthz") == (503, "cannot write data/tipoff.json: No space left on device\n")
        h.store.write_error = None
        h.clock.advance(10_000)  # the loop has not gone round for hours, as far as the clock can tell
        status, why = await get(web, "/healthz")
        assert status == 503 and "has not moved" in why
        stop.set()
        await asyncio.wait_for(task, 10)
        assert (await get(web, "/healthz"))[0] == 503
    finally:
        await web.close()


def test_http_listen_config():
    assert load_settings(None, text='[http]\nlisten = "127.0.0.1:8787"\n').http.listen == ("127.0.0.1", 8787)
    assert load_settings(None, text="").http.listen is None
    try:
        load_settings(None, text='[http]\nlisten = "8787"\n')
    except ConfigError as exc:
        assert "http.listen" in str(exc) and "HOST:PORT" in str(exc)
    else:
        raise AssertionError("a bad listen address was accepted")


class RecordingPushes:
    """Stands in for WebSub and Telegram's webhook receiver: records what reached it."""

    webhook_path = "/telegram/bot"

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def receive(self, *args):
        self.bodies.append(args[1] if len(args) == 3 else args[-1])
        return 200


async def raw_request(port: int, parts: list[bytes], pause: float = 0.3) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for n, part in enumerate(parts):
        if n:
            await asyncio.sleep(pause)
        writer.write(part)
        await writer.drain()
    answer = await reader.read(1000)
    writer.close()
    return answer


def post(path: str, body: bytes, chunked: bool = False) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/atom+xml\r\n"
    if chunked:
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"".join(
            f"{len(body[i:i + 5000]):x}\r\n".encode() + body[i:i + 5000] + b"\r\n"
            for i in range(0, len(body), 5000)) + b"0\r\n\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def test_push_bodies_are_read_to_the_end_however_they_arrive(feed_server, harness):
    """A push sent in two writes 0.3 s apart, a 481 KB push, a chunked one: each
    reaches WebSub whole (before, one read() took what had arrived so far, and the
    signature check failed on the half). Over the cap: 413, nothing received."""
    h = await harness([feed(feed_server.serve("/f", rss([])))], [watch(DUET)])
    pushes = RecordingPushes()
    web = WebServer("127.0.0.1", 0, h.engine, h.store, clock=h.clock, websub=pushes)
    web.telegram = pushes
    await web.start()
    try:
        body = rss([item(f"entry {n}", summary="x" * 40) for n in range(40)])  # ~5 KB
        request = post("/websub/f1", body)
        cut = len(request) - len(body) // 2
        assert b" 202 " in await raw_request(web.port, [request[:cut], request[cut:]])
        big = rss([item(f"entry {n}", summary="y" * 4000) for n in range(120)])
        assert 450_000 < len(big) < h.settings.fetch.max_bytes
        assert b" 202 " in await raw_request(web.port, [post("/websub/f1", big)])
        assert b" 202 " in await raw_request(web.port, [post("/websub/f1", body, chunked=True)])
        update = b'{"update_id": 1, "message": {"message_id": 1, "text": "/help"}}'
        request = post("/telegram/bot", update)
        assert b" 200 " in await raw_request(web.port, [request[:-20], request[-20:]])
        assert pushes.bodies == [body, big, body, update]
        huge = b"<rss>" + b"z" * (1024 * 1024 + 10) + b"</rss>"
        assert b" 413 " in await raw_request(web.port, [post("/telegram/bot", huge, chunked=True)])
        assert len(pushes.bodies) == 4
    finally:
        await web.close()


async def test_malformed_requests_are_one_quiet_line_not_an_error_with_a_traceback(feed_server, harness, caplog):
    import logging

    h = await harness([feed(feed_server.serve("/f", rss([])))], [watch(DUET)])
    web = WebServer("127.0.0.1", 0, h.engine, h.store, clock=h.clock)
    await web.start()
    try:
        with caplog.at_level(logging.DEBUG):
            for junk in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n") * 5:
                assert b" 400 " in await raw_request(web.port, [junk])
    finally:
        await web.close()
    server = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [r.levelname for r in server] == ["INFO"]
    assert "malformed requests refused" in server[0].getMessage() and server[0].exc_info is None
