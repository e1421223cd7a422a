"""Feeds behind logins and proxies: the operator's feeds carry request headers and
cookies (from the config or the environment) to their own host only, and go through an
HTTP or SOCKS5 proxy, each a real server on 127.0.0.1; none of it is logged, and chats'
feeds can set none of it."""

from __future__ import annotations

import asyncio
import logging
import struct
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.config import ConfigError, FetchSettings, load_settings, secrets_of
from bot.feeds.fetch import Fetcher
from bot.model import Feed
from tests.factories import item, rss
from tests.fakes.feed_server import Served

BODY = rss([item("members only")])


def config(text: str, **env: str):
    return load_settings(Path("t.toml"), text=text, env=env)


async def fetch(feed: Feed):
    async with Fetcher(FetchSettings(timeout=5.0)) as f:
        return await f.fetch(feed)


async def test_headers_and_cookies_from_the_environment_go_to_the_feeds_host_only(feed_server):
    url = feed_server.serve("/private", BODY)
    elsewhere = feed_server.serve("/elsewhere", BODY).replace("127.0.0.1", "localhost")
    settings = config(f'[[feeds]]\nurl = "{url}"\nheaders = {{ "X-Team" = "fans" }}\n'
                      'headers_env = "FEED_HEADERS"\ncookies_env = "FEED_COOKIES"\n',
                      FEED_HEADERS='{"Authorization": "Bearer s3cr3t-token"}', FEED_COOKIES="session=abc123")
    [feed] = settings.feeds
    assert (await fetch(feed)).body == BODY
    [hit] = feed_server.hits("/private")
    assert hit["Authorization"] == "Bearer s3cr3t-token" and hit["Cookie"] == "session=abc123"
    assert hit["X-Team"] == "fans"
    assert {"Bearer s3cr3t-token", "session=abc123"} <= set(secrets_of(settings))  # redacted in every log line
    assert "s3cr3t" not in repr(feed)
    feed_server.serve("/moved", Served(b"", status=302, headers={"Location": elsewhere}))
    moved = Feed(feed.id, url.replace("/private", "/moved"), 60, trusted=True, headers=feed.headers)
    assert (await fetch(moved)).body == BODY
    [followed] = feed_server.hits("/elsewhere")
    assert "Authorization" not in followed and "Cookie" not in followed  # another host: no credentials


def test_bad_headers_and_proxies_are_refused_at_load():
    with pytest.raises(ConfigError, match="FEED_HEADERS must hold a JSON object"):
        config('[[feeds]]\nurl = "https://a.example/f"\nheaders_env = "FEED_HEADERS"\n', FEED_HEADERS="Bearer x")
    with pytest.raises(ConfigError, match="one-line text value"):
        config('[[feeds]]\nurl = "https://a.example/f"\nheaders = { "X-A" = "a\\r\\nHost: evil" }\n')
    with pytest.raises(ConfigError, match="Host is set by tipoff itself"):
        config('[[feeds]]\nurl = "https://a.example/f"\nheaders = { "Host" = "b.example" }\n')
    with pytest.raises(ConfigError, match="must be a proxy address"):
        config('[fetch]\nproxy = "ftp://proxy.example"\n')
    s = config('[fetch]\nproxy = "http://user:pw@proxy.example:3128"\n[[feeds]]\nurl = "https://a.example/f"\n'
               '[[feeds]]\nurl = "https://b.example/f"\nproxy = "socks5://127.0.0.1:1080"\n')
    assert [f.proxy for f in s.feeds] == ["http://user:pw@proxy.example:3128", "socks5://127.0.0.1:1080"]
    assert "http://user:pw@proxy.example:3128" in secrets_of(s)


async def test_an_http_proxy_carries_the_operators_feed(feed_server, unused_tcp_port, caplog):
    url = feed_server.serve("/f", BODY)
    seen = []

    async def forward(request: web.Request) -> web.Response:  # a forward proxy: absolute-form requests
        seen.append((str(request.url), request.headers.get("Proxy-Authorization", "")))
        async with aiohttp.ClientSession() as http, http.get(str(request.url)) as resp:
            return web.Response(body=await resp.read(), status=resp.status)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        with caplog.at_level(logging.DEBUG):
            result = await fetch(Feed("f", url, 60, trusted=True, proxy=f"http://me:pr0xy-pw@127.0.0.1:{unused_tcp_port}"))
    finally:
        await runner.cleanup()
    assert result.body == BODY and seen[0][0] == url and seen[0][1].startswith("Basic ")
    assert "pr0xy-pw" not in caplog.text


async def test_a_socks5_proxy_carries_the_operators_feed(feed_server, unused_tcp_port):
    url = feed_server.serve("/f", BODY)
    connects = []

    async def socks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:  # RFC 1928, no auth
        n = (await reader.readexactly(2))[1]
        await reader.readexactly(n)
        writer.write(b"\x05\x00")
        _, cmd, _, kind = await reader.readexactly(4)
        if kind == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        else:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        port = struct.unpack("!H", await reader.readexactly(2))[0]
        connects.append((host, port))
        up_reader, up_writer = await asyncio.open_connection(host, port)
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)
    server = await asyncio.start_server(socks, "127.0.0.1", unused_tcp_port)
    try:
        result = await fetch(Feed("f", url, 60, trusted=True, proxy=f"socks5://127.0.0.1:{unused_tcp_port}"))
    finally:
        server.close()
    assert result.body == BODY and connects and connects[0][1] == int(url.split(":")[2].split("/")[0])


async def test_a_chats_feed_carries_no_headers_and_takes_no_proxy(feed_server):
    url = feed_server.serve("/f", BODY)
    chat_feed = Feed("f", url, 60, trusted=False, headers=(("Authorization", "Bearer stolen"),),
                     proxy="http://127.0.0.1:9")
    async with Fetcher(FetchSettings(timeout=5.0, allow=("127.0.0.0/8",))) as f:
        assert (await f.fetch(chat_feed)).body == BODY  # directly, without what only the operator may set
    assert "Authorization" not in feed_server.hits("/f")[0]
