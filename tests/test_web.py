"""/healthz and /metrics over real HTTP on 127.0.0.1, against a running engine."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.config import ConfigError, load_settings
from bot.web import WebServer
from tests.adapters.test_telegram import eventually
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
        assert after["tipoff_entries_parsed_total"] >= 1
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
