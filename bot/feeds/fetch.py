"""HTTP for feeds: one shared aiohttp session, conditional GET, a size cap enforced while
streaming (after decompression too), connect and total timeouts, redirects followed by
hand (each hop is visible, so the intake issue can check every address), a global and
a per-host concurrency limit, and a User-Agent that names tipoff.

Errors come out as FeedError with a kind a chat user can understand."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from bot import __version__
from bot.config import FetchSettings
from bot.feeds.address import AddressPolicy, AddressRefused
from bot.feeds.errors import FeedError
from bot.feeds.hosts import BIG_HOSTS, HostLimits
from bot.i18n import _, ngettext
from bot.http_answers import cache_max_age, retry_after_seconds, status_text
from bot.model import Feed

log = logging.getLogger("tipoff.fetch")
BUDGET_WAIT = 2.0  # a request a host's budget lets go within this long waits; a later one is rescheduled

DEFAULT_USER_AGENT = f"tipoff/{__version__} (self-hosted feed watcher; +https://pypi.org/project/tipoff/)"
_REDIRECTS = (301, 302, 303, 307, 308)
_PERMANENT = (301, 308)


@dataclass(frozen=True, slots=True)
class Validators:
    """What a previous fetch said, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str  # where the body finally came from
    status: int
    body: bytes  # b"" when not modified
    etag: str | None
    last_modified: str | None
    content_type: str
    permanent_url: str | None = None  # set when a 301/308 moved the feed
    max_age: float | None = None  # Cache-Control max-age, when the server gave one
    link_header: str | None = None  # the HTTP Link header (WebSub hubs may be named there)
    body_hash: str = field(init=False)  # a body identical to the last one is not parsed again

    def __post_init__(self) -> None:
        # once per body; SHA-256 (CPU instructions on most x86 and ARM) hashed 73 KB bodies
        # in half BLAKE2b's time here
        object.__setattr__(self, "body_hash", hashlib.sha256(self.body).hexdigest()[:32])

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp does, then refuses the whole host if any address it
    resolves to is forbidden. aiohttp connects to exactly the addresses returned here,
    so what was checked is what is connected to: no DNS-rebinding window. Addresses of
    hosts the operator allowed by name are noted for the socket check."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.allowed_by_name: set[str] = set()
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            refused = self.policy.refusal(host, result["host"])
            if refused is not None:
                raise refused
        if self.policy.host_allowed(host):
            self.allowed_by_name.update(r["host"] for r in results)
        return results

    async def close(self) -> None:
        await self._inner.close()


def guarded_socket(policy: AddressPolicy, resolver: GuardedResolver) -> Callable[[Any], socket.socket]:
    """The last check, where every connection of an untrusted session is made: the
    exact address the socket is about to connect to. Whatever a URL parser made of a
    host (full-width digits, other digit scripts, ideographic dots, IDNA forms: yarl
    folds them into an IP literal, and aiohttp skips the resolver for IP literals), a
    forbidden address is never connected to."""
    def create(addr_info: Any) -> socket.socket:
        family, type_, proto, _name, sockaddr = addr_info
        address = str(sockaddr[0])
        if address not in resolver.allowed_by_name:
            refused = policy.refusal(address, address)
            if refused is not None:
                raise refused
        return socket.socket(family=family, type=type_, proto=proto)
    return create


@functools.lru_cache(maxsize=16384)  # asked for every poll of every feed; a pure function of the address
def url_host(url: str) -> str:
    """The host of a URL exactly as the HTTP client (aiohttp, through yarl) reads it:
    IDNA-folded, so "１２７.０.０.１" is 127.0.0.1. FeedError for an invalid one."""
    try:
        parsed = URL(url)
        host, raw = parsed.host, parsed.raw_host
    except (ValueError, UnicodeError) as exc:
        raise FeedError("forbidden", _("not a valid address: {problem}").format(problem=str(exc)[:100])) from None
    if not host or not raw:
        raise FeedError("forbidden", _("not a valid address: no host"))
    if ":" not in raw and (len(raw) > 253 or any(not 0 < len(label) <= 63 for label in raw.rstrip(".").split("."))):
        raise FeedError("forbidden", _("not a valid address: a host name has at most 253 characters, "
                                       "63 between dots"))
    return host


class Fetcher:
    """Fetches feeds. Trusted feeds (the operator's) use a plain session; the others
    go through the address policy, checked for every resolved address of every hop."""

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self.policy = AddressPolicy.from_allow(settings.allow)
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        self._socks: dict[str, aiohttp.ClientSession] = {}  # a session per SOCKS proxy (the operator's feeds)
        self._global = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self.host_limits = HostLimits(settings.host_rate, {**BIG_HOSTS, **settings.host_rates})

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _session(self, trusted: bool) -> aiohttp.ClientSession:
        session = self._sessions.get(trusted)
        if session is None or session.closed:
            guards: dict[str, Any] = {}
            if not trusted:
                resolver = GuardedResolver(self.policy)
                guards = {"resolver": resolver, "socket_factory": guarded_socket(self.policy, resolver)}
            session = self._sessions[trusted] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.settings.concurrency, ttl_dns_cache=300, **guards),
                headers={"User-Agent": self.settings.user_agent or DEFAULT_USER_AGENT,
                         "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                                   "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"},
                auto_decompress=True,
            )
        return session

    def _socks_session(self, proxy: str) -> aiohttp.ClientSession:
        """The operator's feeds through a SOCKS proxy: its own connector (aiohttp_socks)."""
        session = self._socks.get(proxy)
        if session is None or session.closed:
            from aiohttp_socks import ProxyConnector

            session = self._socks[proxy] = aiohttp.ClientSession(
                connector=ProxyConnector.from_url(proxy, limit=self.settings.concurrency, rdns=proxy.startswith(
                    "socks5h")),
                headers=self._session(True).headers, auto_decompress=True)
        return session

    async def close(self) -> None:
        for session in self._socks.values():
            await session.close()
        self._socks.clear()
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    async def fetch(self, feed: Feed, validators: Validators = Validators()) -> FetchResult:
        url = feed.url
        if url.startswith("file:"):
            if not feed.trusted:
                raise FeedError("forbidden", _("file: URLs are only allowed in the config file"))
            return await asyncio.to_thread(self._read_file, url)
        if not url.startswith(("http://", "https://")):
            raise FeedError("forbidden", _("only http and https feeds can be fetched, not {scheme}:").format(
                scheme=url.split(":", 1)[0]))
        host = url_host(url)
        limits = self.host_limits
        loop = asyncio.get_running_loop()
        if (cooling := limits.cooling(host, loop.time())) > 0:  # no request at all while the host says wait
            raise FeedError("throttled", _("{host} answered 429; every feed there waits {seconds}s more").format(
                host=host, seconds=f"{cooling:.0f}"), retry_after=cooling)
        per_host = self._hosts.setdefault(host, asyncio.Semaphore(self.settings.per_host))
        async with per_host:
            wait = limits.wait(host, loop.time())
            if wait > BUDGET_WAIT:  # the host's request budget is spent for a while: come back then
                rate = limits.rate(host) or (1, 1.0)
                raise FeedError("paced", ngettext("at most {count} request per {span}s to {host}; next try in {wait}s",
                                                  "at most {count} requests per {span}s to {host}; next try in {wait}s",
                                                  rate[0]).format(count=rate[0], span=f"{rate[1]:g}", host=host,
                                                                  wait=f"{wait:.0f}"), retry_after=wait)
            if wait > 0:
                await asyncio.sleep(wait)
            limits.spend(host, loop.time())
            async with self._global:
                return await self._fetch_now(host, url, validators, feed.trusted, feed)

    async def _fetch_now(self, host: str, url: str, validators: Validators, trusted: bool,
                         feed: Feed | None = None) -> FetchResult:
        """One request, within the timeout; a host that answers 429 (or 503 with
        Retry-After) holds every feed on it for that long."""
        try:
            async with asyncio.timeout(self.settings.timeout):  # no extra task per request, as wait_for makes
                if feed is not None and trusted and (feed.headers or feed.proxy):
                    return await self._get(url, validators, trusted, feed.headers, feed.proxy)
                return await self._get(url, validators, trusted)
        except TimeoutError:
            raise FeedError("timeout", _("no complete answer within {seconds}s").format(
                seconds=f"{self.settings.timeout:g}")) from None
        except FeedError as exc:
            if exc.kind == "http" and (exc.detail.startswith("HTTP 429") or
                                       (exc.detail.startswith("HTTP 503") and exc.retry_after)):
                held = self.host_limits.slow_down(host, asyncio.get_running_loop().time(), exc.retry_after)
                log.warning("%s is throttling tipoff (%s): every feed on it waits %.0fs", host, exc.detail, held)
            raise

    async def post_form(self, url: str, form: dict[str, str], *, trusted: bool) -> int:
        """POST a form (a WebSub subscription request) under the same address policy as
        fetching; no redirects followed. Returns the status; FeedError when unreachable."""
        if not url.startswith(("http://", "https://")):
            raise FeedError("forbidden", _("only http and https hubs can be used"))
        if not trusted:
            self._check_literal(url)
        try:
            async with self._session(trusted).post(url, data=form, allow_redirects=False,
                                                   timeout=aiohttp.ClientTimeout(total=self.settings.timeout)) as r:
                await r.read()
                return r.status
        except asyncio.TimeoutError:
            raise FeedError("timeout", _("no answer within {seconds}s").format(
                seconds=f"{self.settings.timeout:g}")) from None
        except aiohttp.ClientError as exc:
            raise FeedError("network", f"{type(exc).__name__}: {exc}"[:200]) from None

    def refusal(self, url: str) -> str | None:
        """Why a chat may not add this address, as far as can be told without a
        request ("not a valid address", a forbidden IP literal); None when it may be
        tried (a name that resolves somewhere forbidden is refused when fetched)."""
        try:
            self._check_literal(url)
        except FeedError as exc:
            return exc.message
        return None

    def _check_literal(self, url: str) -> None:
        """IP-literal hosts bypass resolvers, so they are checked here, on every hop, as
        the client reads the host (the socket check is the backstop)."""
        host = url_host(url)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return
        refused = self.policy.refusal(host, host)
        if refused is not None:
            raise FeedError("forbidden", str(refused))

    async def _get(self, url: str, validators: Validators, trusted: bool,
                   extra: tuple[tuple[str, str], ...] = (), proxy: str = "") -> FetchResult:
        """GET with redirects followed by hand. `extra` headers (the operator's feed's
        login) go only to the feed's own host: a redirect elsewhere drops them, as
        browsers drop credentials. `proxy`: the operator's feed's proxy."""
        socks = proxy.startswith("socks")
        session = self._socks_session(proxy) if socks else self._session(trusted)
        via = proxy if proxy and not socks else None
        origin = url_host(url)
        headers: dict[str, str] = dict(extra)
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        permanent: str | None = None
        all_permanent = True
        timeout = aiohttp.ClientTimeout(total=None, connect=self.settings.connect_timeout,
                                        sock_connect=self.settings.connect_timeout)
        for hop in range(self.settings.max_redirects + 1):
            if not trusted:
                self._check_literal(url)
            try:
                if extra and url_host(url) != origin:  # credentials stay with the host they were given for
                    headers = {k: v for k, v in headers.items() if (k, v) not in extra}
                async with session.get(url, headers=headers, allow_redirects=False, timeout=timeout,
                                       proxy=via) as resp:
                    if resp.status in _REDIRECTS and "Location" in resp.headers:
                        if hop == self.settings.max_redirects:
                            raise FeedError("redirects", _("more than {count} redirects").format(
                                count=self.settings.max_redirects))
                        target = urljoin(url, resp.headers["Location"])
                        if not target.startswith(("http://", "https://")):
                            raise FeedError("forbidden", _("redirected to a non-http address"))
                        all_permanent = all_permanent and resp.status in _PERMANENT
                        if all_permanent:
                            permanent = target
                        url = target
                        continue
                    return await self._result(resp, url, permanent)
            except FeedError:
                raise
            except aiohttp.ClientConnectorDNSError as exc:
                if isinstance(exc.os_error, AddressRefused):
                    raise FeedError("forbidden", exc.os_error.said()) from None
                raise FeedError("dns", f"{urlsplit(url).hostname}") from exc
            except aiohttp.ClientConnectorCertificateError as exc:
                raise FeedError("tls", str(exc.certificate_error)[:200]) from exc
            except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
                raise FeedError("tls", str(exc)[:200]) from exc
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, AddressRefused):
                    raise FeedError("forbidden", exc.os_error.said()) from None
                if "feeds added from a chat may not" in str(exc):
                    raise FeedError("forbidden", str(exc.os_error)) from None
                if isinstance(exc.os_error, ConnectionRefusedError):
                    raise FeedError("refused", f"{exc.host}:{exc.port}") from exc
                raise FeedError("network", str(exc.os_error or exc)[:200]) from exc
            except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                raise FeedError("network", _("the connection broke: {problem}").format(
                    problem=type(exc).__name__)) from exc
            except aiohttp.InvalidURL as exc:
                raise FeedError("forbidden", f"invalid URL: {exc}") from exc
            except UnicodeError:  # a host name the resolver cannot encode
                raise FeedError("forbidden", _("not a valid address")) from None
            except aiohttp.ClientError as exc:
                raise FeedError("network", f"{type(exc).__name__}: {exc}"[:200]) from exc
        raise FeedError("redirects", _("more than {count} redirects").format(count=self.settings.max_redirects))

    async def _result(self, resp: aiohttp.ClientResponse, url: str, permanent: str | None) -> FetchResult:
        etag = resp.headers.get("ETag")
        last_modified = resp.headers.get("Last-Modified")
        max_age = cache_max_age(resp.headers.get("Cache-Control"))
        if resp.status == 304:
            return FetchResult(url, 304, b"", etag, last_modified, "", permanent, max_age)
        if resp.status == 410:
            raise FeedError("gone", status_text(410))
        if resp.status >= 400:
            retry = retry_after_seconds(resp.headers.get("Retry-After")) if resp.status in (429, 503) else None
            raise FeedError("http", status_text(resp.status), retry_after=retry)
        if resp.status != 200:
            raise FeedError("http", _("{status} (expected 200 with a feed)").format(status=status_text(resp.status)))
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.settings.max_bytes:
            raise FeedError("too_large", _("{size} bytes declared, limit {limit}").format(
                size=f"{int(declared):,}", limit=f"{self.settings.max_bytes:,}"))
        body = await self._read_capped(resp.content)
        return FetchResult(url, 200, body, etag, last_modified, resp.headers.get("Content-Type", ""), permanent,
                           max_age, resp.headers.get("Link"))

    async def _read_capped(self, stream: aiohttp.StreamReader) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in stream.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.settings.max_bytes:
                raise FeedError("too_large", _("more than {limit} bytes").format(limit=f"{self.settings.max_bytes:,}"))
            chunks.append(chunk)
        return b"".join(chunks)

    def _read_file(self, url: str) -> FetchResult:
        path = Path(unquote(urlsplit(url).path))
        try:
            size = path.stat().st_size
            if size > self.settings.max_bytes:
                raise FeedError("too_large", f"{size:,} bytes, limit {self.settings.max_bytes:,}")
            body = path.read_bytes()
        except FileNotFoundError:
            raise FeedError("http", f"no such file: {path}") from None
        except OSError as exc:
            raise FeedError("network", f"cannot read {path}: {exc.strerror}") from None
        return FetchResult(url, 200, body, None, None, "", None)
