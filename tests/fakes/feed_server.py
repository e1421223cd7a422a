"""A real HTTP server on 127.0.0.1 that serves feeds the test sets up, speaks
conditional GET, and records every request it receives."""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from aiohttp import web

from tests.fakes.server import LocalServer


@dataclass
class Served:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    gzip: bool = False


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FeedServer(LocalServer):
    def __init__(self) -> None:
        self.routes: dict[str, Served | Handler] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes | Served | Handler, **kwargs: object) -> str:
        self.routes[path] = Served(body, **kwargs) if isinstance(body, bytes) else body  # type: ignore[arg-type]
        return self.url(path)

    def hits(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.requests if p == path]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        await self.serve_app(app)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs if request.query_string else request.path
        self.requests.append((request.path, dict(request.headers)))
        route = self.routes.get(path) or self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found")
        if not isinstance(route, Served):
            return await route(request)
        if route.delay:
            await asyncio.sleep(route.delay)
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        if route.status == 200 and ((route.etag and inm == route.etag) or
                                    (not route.etag and route.last_modified and ims == route.last_modified)):
            return web.Response(status=304, headers=headers)
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Type"] = route.content_type
        return web.Response(status=route.status, body=body, headers=headers)
