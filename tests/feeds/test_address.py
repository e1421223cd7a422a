"""The address policy for feeds added from chats, pure and through the fetcher."""

from __future__ import annotations

import pytest

from bot.config import FetchSettings
from bot.feeds.address import AddressPolicy, forbidden_reason
from bot.feeds.errors import FeedError
from bot.feeds.fetch import Fetcher
from bot.model import Feed
from tests.factories import item, rss
from tests.fakes.feed_server import Served


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "loopback"), ("127.9.9.9", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fd00::1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("240.0.0.1", "private"), ("100.64.0.1", "non-public"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"),  # IPv4-mapped
    ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("93.184.216.34", None), ("2606:2800:220:1:248:1893:25c8:1946", None),
])
def test_forbidden_reason(address, reason):
    assert forbidden_reason(address) == reason


def test_allow_list_takes_hosts_and_networks():
    policy = AddressPolicy.from_allow(["127.0.0.0/8", "feeds.intranet.example"])
    assert policy.refusal("x", "127.0.0.5") is None
    assert policy.refusal("feeds.intranet.example.", "10.0.0.7") is None
    assert "private" in str(policy.refusal("other.example", "10.0.0.7"))
    assert "loopback" in str(AddressPolicy().refusal("localhost", "::1"))


async def fetch(url, allow=(), trusted=False):
    async with Fetcher(FetchSettings(timeout=5.0, allow=tuple(allow))) as f:
        return await f.fetch(Feed("f", url, 60, trusted=trusted))


async def test_a_chat_feed_may_not_reach_loopback(feed_server):
    url = feed_server.serve("/f", rss([item("x")]))
    with pytest.raises(FeedError) as err:
        await fetch(url)
    assert err.value.kind == "forbidden" and "loopback" in err.value.message
    assert feed_server.hits("/f") == []  # refused before connecting
    assert (await fetch(url, allow=["127.0.0.0/8"])).status == 200
    assert (await fetch(url, trusted=True)).status == 200  # the operator's own feeds


async def test_a_hostname_that_resolves_to_loopback_is_refused(feed_server):
    url = feed_server.serve("/f", rss([item("x")])).replace("127.0.0.1", "localhost")
    with pytest.raises(FeedError) as err:
        await fetch(url)
    assert err.value.kind == "forbidden" and "localhost" in err.value.message
    assert (await fetch(url, allow=["localhost"])).status == 200


async def test_a_redirect_to_a_forbidden_address_is_refused_at_that_hop(feed_server):
    target = f"http://127.0.0.2:{feed_server.port}/inside"
    feed_server.serve("/inside", rss([item("secret")]))
    url = feed_server.serve("/out", Served(b"", status=302, headers={"Location": target}))
    with pytest.raises(FeedError) as err:
        await fetch(url, allow=["127.0.0.1/32"])
    assert err.value.kind == "forbidden" and "127.0.0.2" in err.value.message
    assert feed_server.hits("/inside") == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]:9/",
                                 "http://0.0.0.0:9/", "http://[::1]:9/"])
async def test_metadata_and_mapped_addresses_are_refused_without_a_connection(url):
    with pytest.raises(FeedError) as err:
        await fetch(url)
    assert err.value.kind == "forbidden"


async def test_non_http_schemes_are_refused_from_chats(tmp_path):
    path = tmp_path / "f.xml"
    path.write_bytes(rss([]))
    for url in (path.as_uri(), "ftp://example.org/feed", "gopher://example.org/"):
        with pytest.raises(FeedError) as err:
            await fetch(url)
        assert err.value.kind == "forbidden"


# Hosts a URL parser folds into an IP literal (IDNA's NFKC mapping, as yarl does for
# aiohttp): aiohttp then skips the resolver, so the policy must see the host as the
# client reads it, and the socket check sees the address it connects to.
UNICODE_LOOPBACK = [
    "１２７.０.０.１",  # full-width digits
    "127。0。0。1",  # ideographic full stops
    "127．0．0．1",  # full-width full stops
    "127｡0｡0｡1",  # half-width ideographic full stops
    "𝟏𝟐𝟕.𝟎.𝟎.𝟏",  # mathematical bold digits
    "①②⑦.⓪.⓪.①",  # circled digits
    "¹²⁷.⁰.⁰.¹",  # superscripts
    "₁₂₇.₀.₀.₁",  # subscripts
    "１２７。０。０。１",  # both at once
    "[::ｆｆｆｆ:１２７.０.０.１]",  # full-width IPv4-mapped IPv6
]


@pytest.mark.parametrize("host", UNICODE_LOOPBACK)
async def test_unicode_forms_of_loopback_are_refused_before_any_request(feed_server, host):
    feed_server.serve("/internal", rss([item("the internal page")]))
    with pytest.raises(FeedError) as err:
        await fetch(f"http://{host}:{feed_server.port}/internal")
    assert err.value.kind == "forbidden" and "loopback" in err.value.message
    assert feed_server.hits("/internal") == []


@pytest.mark.parametrize("host, reason", [("１６９.２５４.１６９.２５４", "link-local"),
                                          ("１０.０.０.１", "private"), ("１９２。１６８。０。１", "private")])
async def test_unicode_forms_of_private_addresses_are_refused_without_a_connection(host, reason):
    with pytest.raises(FeedError) as err:
        await fetch(f"http://{host}/latest/meta-data/")
    assert err.value.kind == "forbidden" and reason in err.value.message


async def test_a_redirect_to_a_unicode_loopback_is_refused_at_that_hop(feed_server):
    feed_server.serve("/inside", rss([item("secret")]))
    target = f"http://１２７.０.０.２:{feed_server.port}/inside"
    url = feed_server.serve("/out", Served(b"", status=302, headers={"Location": target}))
    with pytest.raises(FeedError) as err:
        await fetch(url, allow=["127.0.0.1/32"])
    assert err.value.kind == "forbidden" and "127.0.0.2" in err.value.message
    assert feed_server.hits("/inside") == []


async def test_the_socket_check_refuses_what_a_parser_let_through(feed_server):
    """The last line: even with the URL-level check out of the way, the connection to a
    forbidden address is never made (the exact address the socket connects to)."""
    feed_server.serve("/internal", rss([item("the internal page")]))
    async with Fetcher(FetchSettings(timeout=5.0)) as f:
        f._check_literal = lambda url: None  # as if a parser had missed the literal
        with pytest.raises(FeedError) as err:
            await f.fetch(Feed("f", f"http://１２７.０.０.１:{feed_server.port}/internal", 60))
    assert err.value.kind == "forbidden" and "loopback" in err.value.message
    assert feed_server.hits("/internal") == []


async def test_a_hub_is_checked_whatever_feed_named_it(feed_server):
    """Hub addresses come from feed content: a POST to one goes under the policy, also
    for the operator's own feeds (WebSub asks with trusted=False)."""
    feed_server.serve("/hub", b"")
    async with Fetcher(FetchSettings(timeout=5.0)) as f:
        for hub in (f"http://127.0.0.1:{feed_server.port}/hub", f"http://１２７.０.０.１:{feed_server.port}/hub"):
            with pytest.raises(FeedError) as err:
                await f.post_form(hub, {"hub.mode": "subscribe"}, trusted=False)
            assert err.value.kind == "forbidden"
    assert feed_server.hits("/hub") == []
