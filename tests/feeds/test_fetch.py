import asyncio

import pytest
from aiohttp import web

from bot.config import FetchSettings
from bot.feeds.errors import FeedError
from bot.feeds.fetch import DEFAULT_USER_AGENT, Fetcher, Validators
from bot.http_answers import retry_after_seconds
from bot.model import Feed
from tests.factories import feed, rss, item
from tests.fakes.feed_server import Served

BODY = rss([item("hello")])


async def fetch(url, validators=Validators(), trusted=True, **settings):
    async with Fetcher(FetchSettings(**{"timeout": 5.0, **settings})) as f:
        return await f.fetch(Feed("f", url, 60, trusted=trusted), validators)


async def test_plain_get_names_tipoff(feed_server):
    url = feed_server.serve("/feed", BODY, etag='"v1"', last_modified="Tue, 24 Nov 2026 18:30:00 GMT")
    result = await fetch(url)
    assert (result.status, result.body, result.etag) == (200, BODY, '"v1"')
    assert feed_server.hits("/feed")[0]["User-Agent"] == DEFAULT_USER_AGENT


async def test_conditional_get_sends_validators_and_gets_304(feed_server):
    url = feed_server.serve("/feed", BODY, etag='"v1"', last_modified="Tue, 24 Nov 2026 18:30:00 GMT")
    result = await fetch(url, Validators('"v1"', "Tue, 24 Nov 2026 18:30:00 GMT"))
    sent = feed_server.hits("/feed")[0]
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Tue, 24 Nov 2026 18:30:00 GMT"
    assert result.not_modified and result.body == b""


async def test_body_over_cap_is_refused_while_streaming(feed_server):
    async def endless(request):
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"x" * 65536)
        return resp
    url = feed_server.serve("/big", endless)
    with pytest.raises(FeedError) as err:
        await fetch(url, max_bytes=200_000)
    assert err.value.kind == "too_large"


async def test_declared_length_over_cap_is_refused_before_reading(feed_server):
    url = feed_server.serve("/big", b"x" * 300_000)
    with pytest.raises(FeedError, match="declared"):
        await fetch(url, max_bytes=100_000)


async def test_cap_applies_after_decompression(feed_server):
    url = feed_server.serve("/bomb", Served(b"<" * 5_000_000, gzip=True))  # ~5 KB on the wire
    with pytest.raises(FeedError) as err:
        await fetch(url, max_bytes=1_000_000)
    assert err.value.kind == "too_large"


async def test_gzip_body_is_decoded(feed_server):
    url = feed_server.serve("/gz", Served(BODY, gzip=True))
    assert (await fetch(url)).body == BODY


async def test_slow_server_times_out(feed_server):
    url = feed_server.serve("/slow", Served(BODY, delay=3))
    with pytest.raises(FeedError) as err:
        await fetch(url, timeout=0.5)
    assert err.value.kind == "timeout"


async def test_trickling_body_stops_at_the_total_timeout(feed_server):
    async def trickle(request):
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"<")
            await asyncio.sleep(0.1)
        return resp
    url = feed_server.serve("/trickle", trickle)
    with pytest.raises(FeedError) as err:
        await fetch(url, timeout=0.6)
    assert err.value.kind == "timeout"


async def test_redirects_are_followed_up_to_the_limit(feed_server):
    feed_server.serve("/final", BODY)
    for i in range(5):
        target = "/final" if i == 4 else f"/r{i + 1}"
        feed_server.serve(f"/r{i}", Served(b"", status=302, headers={"Location": target}))
    result = await fetch(feed_server.url("/r0"))
    assert result.body == BODY and result.url.endswith("/final")
    assert result.permanent_url is None


async def test_too_many_redirects(feed_server):
    for i in range(7):
        feed_server.serve(f"/r{i}", Served(b"", status=302, headers={"Location": f"/r{i + 1}"}))
    with pytest.raises(FeedError) as err:
        await fetch(feed_server.url("/r0"))
    assert err.value.kind == "redirects"


async def test_permanent_redirect_is_reported(feed_server):
    feed_server.serve("/new", BODY)
    feed_server.serve("/old", Served(b"", status=301, headers={"Location": "/new"}))
    assert (await fetch(feed_server.url("/old"))).permanent_url == feed_server.url("/new")


@pytest.mark.parametrize("status, kind, text", [
    (404, "http", "HTTP 404 Not Found"),
    (500, "http", "HTTP 500 Internal Server Error"),
    (410, "gone", "HTTP 410 Gone"),
])
async def test_http_errors_say_what_happened(feed_server, status, kind, text):
    url = feed_server.serve("/err", Served(b"nope", status=status))
    with pytest.raises(FeedError) as err:
        await fetch(url)
    assert err.value.kind == kind and text in err.value.message


async def test_429_carries_retry_after(feed_server):
    url = feed_server.serve("/busy", Served(b"", status=429, headers={"Retry-After": "120"}))
    with pytest.raises(FeedError) as err:
        await fetch(url)
    assert err.value.retry_after == 120


async def test_connection_refused(unused_tcp_port):
    with pytest.raises(FeedError) as err:
        await fetch(f"http://127.0.0.1:{unused_tcp_port}/feed")
    assert err.value.kind == "refused"


async def test_file_urls_only_for_trusted_feeds(tmp_path):
    path = tmp_path / "f.xml"
    path.write_bytes(BODY)
    assert (await fetch(path.as_uri())).body == BODY
    with pytest.raises(FeedError) as err:
        await fetch(path.as_uri(), trusted=False)
    assert err.value.kind == "forbidden"


async def test_per_host_limit_is_respected(feed_server):
    active = peak = 0

    async def counted(request):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return web.Response(body=BODY)
    feed_server.serve("/c", counted)
    async with Fetcher(FetchSettings(per_host=2, timeout=5.0)) as f:
        await asyncio.gather(*(f.fetch(feed(feed_server.url("/c") + f"?n={i}")) for i in range(8)))
    assert peak == 2


def test_retry_after_parses_seconds_and_dates():
    assert retry_after_seconds("30") == 30
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert retry_after_seconds("soon") is None


async def test_a_bad_tls_certificate_is_named(tmp_path):
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    async def serve_feed(request):
        return web.Response(body=BODY)
    app = web.Application()
    app.router.add_get("/feed", serve_feed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(FeedError) as err:
            await fetch(f"https://127.0.0.1:{port}/feed")
        assert err.value.kind == "tls" and "certificate" in err.value.message.lower()
    finally:
        await runner.cleanup()
