"""Polite to hosts: request budgets per host, and a host that says "slow down" holds
every feed on it (pure parts, then through the fetcher against a local server)."""

from __future__ import annotations

import pytest

from bot.config import FetchSettings, load_settings, parse_rate
from bot.config.settings import ConfigError
from bot.feeds.errors import FeedError
from bot.feeds.fetch import Fetcher
from bot.feeds.hosts import BIG_HOSTS, HostLimits
from bot.model import Feed
from tests.factories import item, rss
from tests.fakes.feed_server import Served


@pytest.mark.parametrize("text, rate", [("1/2s", (1, 2.0)), ("30/1m", (30, 60.0)), ("5/s", (5, 1.0)),
                                        (" 2 / 0.5s ", (2, 0.5))])
def test_rates_are_written_requests_per_period(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["fast", "0/1s", "1/2", "-1/2s", ""])
def test_a_bad_rate_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="requests/period"):
        parse_rate(text)


def test_a_budget_spaces_requests_and_a_429_holds_the_whole_host():
    limits = HostLimits(default=(2, 10.0))
    assert limits.wait("a.example", 0.0) == 0.0
    limits.spend("a.example", 0.0)
    limits.spend("a.example", 1.0)
    assert limits.wait("a.example", 2.0) == 8.0 and limits.wait("b.example", 2.0) == 0.0  # hosts apart
    assert limits.rate("news.google.com") == BIG_HOSTS["news.google.com"]  # the big hosts keep their own
    assert limits.slow_down("A.example", 5.0, 30.0) == 30.0
    assert limits.cooling("a.example", 6.0) == 29.0 and limits.cooling("b.example", 6.0) == 0.0
    assert limits.slow_down("c.example", 5.0, None) == 60.0  # a 429 that does not say: a minute
    assert limits.cooling("a.example", 40.0) == 0.0


def test_config_takes_a_default_budget_and_per_host_ones():
    s = load_settings(None, text='[fetch]\nhost_rate = "2/1s"\n[fetch.host_rates]\n"feeds.example" = "1/30s"\n')
    assert s.fetch.host_rate == (2, 1.0) and s.fetch.host_rates == {"feeds.example": (1, 30.0)}
    with pytest.raises(ConfigError, match=r"fetch.host_rate: \"quick\" is not a request rate"):
        load_settings(None, text='[fetch]\nhost_rate = "quick"\n')


def feed(url: str) -> Feed:
    return Feed("f" + str(abs(hash(url))), url, 60, trusted=True)


async def test_a_429_on_one_feed_holds_every_feed_on_that_host(feed_server):
    feed_server.serve("/a", Served(b"", status=429, headers={"Retry-After": "120"}))
    other = feed_server.serve("/b", rss([item("x")]))
    async with Fetcher(FetchSettings(timeout=5.0)) as fetcher:
        with pytest.raises(FeedError) as first:
            await fetcher.fetch(feed(feed_server.url("/a")))
        assert first.value.kind == "http" and first.value.retry_after == 120
        with pytest.raises(FeedError) as held:
            await fetcher.fetch(feed(other))
    assert held.value.kind == "throttled" and "127.0.0.1 answered 429" in held.value.message
    assert 115 < held.value.retry_after <= 120
    assert feed_server.hits("/b") == []  # not even asked


async def test_a_spent_budget_reschedules_instead_of_waiting(feed_server):
    url = feed_server.serve("/a", rss([item("x")]))
    async with Fetcher(FetchSettings(timeout=5.0, host_rate=(1, 30.0))) as fetcher:
        assert (await fetcher.fetch(feed(url))).status == 200
        with pytest.raises(FeedError) as paced:
            await fetcher.fetch(feed(url + "?again"))
    assert paced.value.kind == "paced" and 25 < paced.value.retry_after <= 30
    assert "at most 1 request per 30s to 127.0.0.1" in paced.value.message
    assert len(feed_server.hits("/a")) == 1
