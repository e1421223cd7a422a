"""The operator's HTTP endpoint, in the same process (aiohttp web; off unless
`[http] listen` is set): /healthz for load balancers and orchestrators, /metrics in
Prometheus text format through the official prometheus_client, and the receiving ends
of WebSub pushes and of Telegram's webhook."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Callable, Iterator, Protocol

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.dashboard.app import Dashboard
from bot.engine import Engine
from bot.store.base import Store
from bot.websub import WebSub

log = logging.getLogger("tipoff.web")
STALLED_AFTER = 3  # rounds of the loop missed before it counts as stalled (a poll cycle reports per feed)


def health(engine: Engine, store: Store, now: float) -> tuple[bool, str]:
    """(healthy, why): the poll loop runs and went round recently, and the store takes
    writes."""
    stats = engine.stats
    if not stats.started_at:
        return False, "not polling"
    if now - stats.alive_at > STALLED_AFTER * stats.goes_round_every:
        return False, f"the poll loop has not moved for {now - stats.alive_at:.0f}s"
    problem = store.problem()
    if problem:
        return False, problem
    return True, "ok"


class EngineCollector(Collector):
    """Reads the engine's counts at scrape time, so /metrics is always current."""

    def __init__(self, engine: Engine, store: Store) -> None:
        self.engine = engine
        self.store = store

    def collect(self) -> Iterator[Metric]:
        s = self.engine.stats
        feeds = GaugeMetricFamily("tipoff_feeds", "Feeds by polling state", labels=["state"])
        for state, n in sorted(self._feed_states().items()):
            feeds.add_metric([state], n)
        yield feeds
        yield CounterMetricFamily("tipoff_polls", "Feed polls completed", value=s.polls)
        errors = CounterMetricFamily("tipoff_poll_errors", "Failed polls by kind of error", labels=["kind"])
        for kind, n in sorted(s.errors.items()):
            errors.add_metric([kind], n)
        yield errors
        yield CounterMetricFamily("tipoff_entries_parsed", "Feed entries parsed", value=s.entries_parsed)
        yield CounterMetricFamily("tipoff_entries_reused", "Feed entries not read again: unchanged since the last body",
                                  value=s.entries_reused)
        yield CounterMetricFamily("tipoff_hits", "Alerts queued (watch hits after dedupe)", value=s.hits)
        sent = CounterMetricFamily("tipoff_alerts_sent", "Alerts the platform accepted", labels=["platform"])
        for platform, n in sorted(s.sent.items()):
            sent.add_metric([platform], n)
        yield sent
        updated = CounterMetricFamily("tipoff_alerts_updated", "Alerts edited to name more outlets of their story",
                                      labels=["platform"])
        for platform, n in sorted(s.updated.items()):
            updated.add_metric([platform], n)
        yield updated
        yield GaugeMetricFamily("tipoff_outbox_depth", "Alerts waiting for delivery", value=len(self.store.pending()))
        yield HistogramMetricFamily("tipoff_poll_cycle_seconds", "Duration of poll cycles",
                                    buckets=s.cumulative_buckets(), sum_value=s.cycle_sum)

    def _feed_states(self) -> Counter[str]:
        states: Counter[str] = Counter({"active": 0, "failing": 0, "stopped": 0})
        for feed in self.engine.feeds:
            st = self.store.feed_state(feed.id)
            states["stopped" if st and st.stopped else "failing" if st and st.failures else "active"] += 1
        return states


class WebhookReceiver(Protocol):
    """A chat platform that takes updates by webhook (Telegram's adapter)."""

    @property
    def webhook_path(self) -> str: ...
    async def receive(self, secret: str | None, body: bytes) -> int: ...


MAX_UPDATE_BYTES = 1024 * 1024  # Telegram's updates are small; anything bigger is not one


async def read_body(request: web.Request, cap: int) -> bytes | None:
    """The whole body, however it arrives (in one write or many), or None when it is
    larger than `cap` bytes (said up front, or found while reading)."""
    declared = request.content_length
    if declared is not None and declared > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class QuietBadRequests(logging.Filter):
    """aiohttp logs every malformed request at ERROR with a traceback: anyone who can
    reach the port could fill the log. Those become one INFO line a minute, counted."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self.quiet = 0
        self.next_line = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        self.quiet += 1
        now = self.clock()
        if now < self.next_line:
            return False
        self.next_line = now + 60.0
        record.msg, record.args = "http: %d malformed requests refused with 400 (the last: %s)", (
            self.quiet, str(exc.message if hasattr(exc, "message") else exc).splitlines()[0][:120])
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
        self.quiet = 0
        return True


_QUIET = QuietBadRequests()


class WebServer:
    def __init__(self, host: str, port: int, engine: Engine, store: Store,
                 clock: Callable[[], float] = time.time, websub: WebSub | None = None,
                 dashboard: Dashboard | None = None) -> None:
        self.host, self.port = host, port
        self.websub = websub
        self.telegram: WebhookReceiver | None = None  # set when Telegram updates come by webhook
        self.engine, self.store, self.clock = engine, store, clock
        self.registry = CollectorRegistry()
        self.registry.register(EngineCollector(engine, store))
        self.app = web.Application(client_max_size=4 * 1024 * 1024)  # a dashboard OPML upload (2 MB) fits
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/metrics", self._metrics)
        self.app.router.add_get("/websub/{token}", self._websub_verify)  # 404 unless WebSub is on
        self.app.router.add_post("/websub/{token}", self._websub_push)
        self.app.router.add_post("/telegram/{bot}", self._telegram_update)  # 404 unless in webhook mode
        if dashboard is not None:
            dashboard.routes(self.app)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        server_log = logging.getLogger("aiohttp.server")
        if _QUIET not in server_log.filters:
            server_log.addFilter(_QUIET)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        log.info("http: /healthz and /metrics on %s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, why = health(self.engine, self.store, self.clock())
        return web.Response(status=200 if ok else 503, text=why + "\n")

    async def _websub_verify(self, request: web.Request) -> web.Response:
        if self.websub is None:
            raise web.HTTPNotFound()
        q = request.query
        challenge = self.websub.verify(request.match_info["token"], q.get("hub.mode", ""), q.get("hub.topic", ""),
                                       q.get("hub.challenge", ""), q.get("hub.lease_seconds"))
        if challenge is None:
            return web.Response(status=404, text="no such subscription request\n")
        return web.Response(text=challenge)

    async def _websub_push(self, request: web.Request) -> web.Response:
        if self.websub is None:
            raise web.HTTPNotFound()
        body = await read_body(request, self.engine.settings.fetch.max_bytes)
        if body is None:
            return web.Response(status=413, text="too large\n")
        await self.websub.receive(request.match_info["token"], body, request.headers.get("X-Hub-Signature"))
        return web.Response(status=202)  # also for a bad signature: WebSub says ignore it, quietly

    async def _telegram_update(self, request: web.Request) -> web.Response:
        if self.telegram is None or request.path != self.telegram.webhook_path:
            raise web.HTTPNotFound()
        body = await read_body(request, MAX_UPDATE_BYTES)
        if body is None:
            return web.Response(status=413, text="too large\n")
        status = await self.telegram.receive(request.headers.get("X-Telegram-Bot-Api-Secret-Token"), body)
        return web.Response(status=status)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
