"""Each source shortcut expands to the real public feed URL, and what those URLs serve
(Reddit's Atom, YouTube's Atom; samples in ../shared/corpus/real) parses into entries."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from bot import sources
from bot.config import ConfigError, load_settings
from bot.feeds.parse import parse_feed
from bot.rules.syntax import parse_rule
from bot.sources import SourceError, SourceSettings
from bot.sources.news import query_for_rule

DEFAULT = SourceSettings()


def expand(text: str, settings: SourceSettings = DEFAULT) -> sources.Source:
    return sources.expand(text, settings)


def test_news_is_a_google_news_search_in_the_configured_language_and_region():
    url = expand('news:"lady gaga"   duet').url
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "news.google.com", "/rss/search")
    assert parse_qs(parts.query) == {"q": ['"lady gaga" duet'], "hl": ["en-US"], "gl": ["US"], "ceid": ["US:en"]}
    german = expand("news:Gaga", SourceSettings("de", "DE")).url
    assert parse_qs(urlsplit(german).query)["ceid"] == ["DE:de"]
    with pytest.raises(SourceError, match="needs search words"):
        expand('news:""')


def test_reddit_subreddit_user_and_search():
    assert expand("reddit:r/popheads").url == "https://www.reddit.com/r/popheads/new/.rss"
    assert expand("reddit:/r/popheads/").url == "https://www.reddit.com/r/popheads/new/.rss"
    assert expand("reddit:u/spez").url == "https://www.reddit.com/user/spez/submitted/.rss"
    search = urlsplit(expand('reddit:"britney spears"').url)
    assert search.path == "/search.rss" and parse_qs(search.query) == {"q": ['"britney spears"'], "sort": ["new"]}
    with pytest.raises(SourceError, match="not a subreddit"):
        expand("reddit:r/no spaces allowed!")


def test_youtube_channel_playlist_and_handle():
    channel = "UC07Kxew-cMIaykMOkzqHtBQ"
    assert expand(f"youtube:{channel}").url == f"https://www.youtube.com/feeds/videos.xml?channel_id={channel}"
    assert expand("youtube:PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI").url.endswith(
        "playlist_id=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI")
    handle = expand("youtube:@ladygaga")
    assert handle.page and handle.url == "https://www.youtube.com/@ladygaga"  # its HTML names the feed
    with pytest.raises(SourceError, match="@handle or a channel id"):
        expand("youtube:lady gaga")


def test_bluesky_and_mastodon():
    assert expand("bsky:ladygaga.bsky.social").url == "https://bsky.app/profile/ladygaga.bsky.social/rss"
    assert expand("bsky:@ladygaga").url == "https://bsky.app/profile/ladygaga.bsky.social/rss"
    assert expand("mastodon:#popmusic@Mastodon.Social").url == "https://mastodon.social/tags/popmusic.rss"
    assert expand("mastodon:@Gargron@mastodon.social").url == "https://mastodon.social/@Gargron.rss"
    with pytest.raises(SourceError, match="#tag@instance"):
        expand("mastodon:popmusic")
    with pytest.raises(SourceError, match="not a source I know"):
        expand("myspace:tom")


def test_every_example_in_the_catalogue_expands():
    for prefix, what, examples in sources.catalogue():
        assert what and examples
        for example in examples:
            assert example.startswith(prefix + ":")
            assert expand(example).url.startswith("https://")


def test_a_rule_becomes_the_news_query_that_asks_for_the_same():
    def q(rule: str) -> str:
        return query_for_rule(parse_rule(rule))
    assert q('"lady gaga" AND "britney spears" AND duet -rumor') == '"lady gaga" "britney spears" duet -rumor'
    assert q("gaga OR britney") == "(gaga OR britney)"
    assert q("(gaga OR britney) duet /du+et/") == "(gaga OR britney) duet"  # regex has no news equivalent
    assert q('title:duet* -"fake news"') == 'duet -"fake news"'


def test_config_feeds_take_shortcuts_and_name_what_is_wrong():
    s = load_settings(None, text='[sources]\nnews_language = "de"\nnews_region = "DE"\n'
                                 '[[feeds]]\nurl = "news:Gaga Duett"\n[[feeds]]\nurl = "reddit:r/popheads"\n')
    assert s.feeds[0].url.startswith("https://news.google.com/rss/search?q=Gaga+Duett&hl=de&gl=DE")
    assert s.feeds[1].url == "https://www.reddit.com/r/popheads/new/.rss"
    with pytest.raises(ConfigError, match=r"feeds\[1\].url: .*needs a look at https://www.youtube.com/@gaga"):
        load_settings(None, text='[[feeds]]\nurl = "youtube:@gaga"\n')
    with pytest.raises(ConfigError, match="sources.news_region"):
        load_settings(None, text='[sources]\nnews_region = "germany"\n')


@pytest.mark.parametrize("name", ["rss-parser/reddit.rss", "rss-parser/reddit-atom.rss", "feedjira/youtube_atom.xml"])
def test_what_the_shortcuts_point_at_parses(corpus, name):
    parsed = parse_feed((corpus / "real" / name).read_bytes(), "f")
    assert parsed.entries and all(e.title and (e.link or e.url) for e in parsed.entries)
