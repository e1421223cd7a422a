"""The HTTP session lifecycle every webhook-style adapter shares."""

from __future__ import annotations

import aiohttp

from bot import __version__


class HttpSession:
    """Opens one aiohttp session on first use, with tipoff's User-Agent and a total
    timeout, and closes it with the adapter."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        await self.session()

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": f"tipoff/{__version__}", "Content-Type": "application/json"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
