"""What every fake server shares: an aiohttp app on 127.0.0.1 on a free port."""

from __future__ import annotations

from aiohttp import web


class LocalServer:
    port = 0
    _runner: web.AppRunner | None = None

    async def serve_app(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
