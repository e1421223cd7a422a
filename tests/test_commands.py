"""The platform-neutral command layer, driven directly: no Telegram, no Discord."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from bot import destinations
from bot.commands import Commands, Invocation
from bot.config import LimitSettings
from bot.engine import Engine
from bot.feeds.fetch import Fetcher
from bot.opml import export_opml, parse_opml
from bot.render.text import split_lines
from bot.store.tinydb import TinyDBStore
from dataclasses import replace
from tests.factories import feed, item, rss, settings

CHAT = destinations.telegram(-100123)
TOPIC = destinations.telegram(-100123, 7)


def invocation(dest=CHAT, admin=True, attachment=None):
    async def can_manage():
        return admin
    return Invocation(dest, "telegram:42", can_manage, attachment)


@pytest.fixture
async def bot(tmp_path, feed_server):
    s = settings(tmp_path / "data", [feed(feed_server.serve("/shared", rss([])))])
    s = replace(s, limits=replace(s.limits, feeds_per_chat=2, watches_per_chat=2))
    store = TinyDBStore(s.data_dir)
    await store.open()
    fetcher = Fetcher(s.fetch)
    engine = Engine(s, store, fetcher, {})
    commands = Commands(s, store, engine, fetcher)

    async def say(text, **kw):
        name, _, args = text[1:].partition(" ")
        return (await commands.run(invocation(**kw), name, args)).text
    say.commands, say.store, say.engine = commands, store, engine  # type: ignore[attr-defined]
    yield say
    await fetcher.close()
    await store.close()


async def test_help_lists_every_command_with_an_example(bot):
    import re

    text = await bot("/help")
    names = [n for n in bot.commands.commands if n != "start"]
    assert len(names) >= 18
    for name in names:  # each as a word of its own: "/watches" does not count for "/watch"
        command = bot.commands.commands[name]
        assert re.search(rf"(^|\s)/{name}(\s|$)", text, re.M), name
        if command.params and any(a.example for a in command.params):
            assert f"e.g. {command.example()}" in text, name
    assert "e.g. /watch \"lady gaga\" AND \"britney spears\" AND duet" in text
    assert "/add URL or SOURCE [every 15m]" in text and "e.g. /add https://www.billboard.com/feed/ every 15m" in text
    assert await bot("/start") == text


async def test_help_on_discord_is_in_discords_syntax(bot):
    discord_channel = destinations.discord(42)
    text = await bot("/help", dest=discord_channel)
    assert "/tipoff watch rule: [mention:]" in text
    assert 'e.g. /tipoff watch rule:"lady gaga" AND "britney spears" AND duet' in text
    assert "e.g. /tipoff add url:https://www.billboard.com/feed/ every:15m" in text
    assert "/watch RULE" not in text and "/tipoff start" not in text
    parts = split_lines(text, 2000)  # as the Discord adapter sends it: at line ends, each within Discord's limit
    assert len(parts) <= 2 and all(len(p) <= 2000 for p in parts) and all(p.endswith("\n") for p in parts[:-1])


async def test_watch_then_list_then_unwatch(bot):
    reply = await bot('/watch "lady gaga" AND duet')
    assert reply.startswith("Watching as w") and '("lady gaga" AND duet)' in reply
    wid = reply.split()[2].rstrip(":")
    assert f'{wid}  "lady gaga" AND duet' in await bot("/watches")
    assert bot.engine.watching(wid)
    assert (await bot(f"/unwatch {wid}")).startswith(f"Stopped watching {wid}")
    assert "No watches here yet" in await bot("/watches")
    assert not bot.engine.watching(wid)


async def test_bad_rule_points_at_the_column(bot):
    reply = await bot('/watch gaga "duet')
    assert "unclosed quote at column 6" in reply
    assert 'gaga "duet\n     ^' in reply
    assert bot.store.watches() == []


async def test_non_admin_cannot_change_anything_but_can_look(bot):
    for command in ("/watch gaga", "/add https://x.example/feed", "/pause", "/unwatch w1", "/remove f1"):
        assert "Only the chat's admins" in await bot(command, admin=False)
    assert bot.store.watches() == [] and bot.store.subscriptions() == []
    assert "No watches here yet" in await bot("/watches", admin=False)
    assert "Active." in await bot("/status", admin=False)


async def test_limits_are_enforced_with_a_clear_message(bot):
    await bot("/watch a1")
    await bot("/watch a2")
    assert "limit of 2 watches" in await bot("/watch a3")


async def test_unknown_command_and_missing_arguments(bot):
    assert "I don't know /frobnicate" in await bot("/frobnicate")
    reply = await bot("/watch")
    assert "Usage: /watch RULE" in reply and "Example: /watch" in reply
    assert "Usage: /add URL or SOURCE [every 15m]" in await bot("/add")
    assert "not a web address" in await bot("/add feed.xml")
    assert "I don't understand" in await bot("/add https://x.example/ sometimes")


async def test_add_checks_the_feed_and_floors_the_interval(bot, feed_server):
    url = feed_server.serve("/mine", rss([item("one"), item("two")], title="Mine"))
    reply = await bot(f"/add {url} every 1m")
    assert "Added Mine as f" in reply and "rss, 2 entries" in reply
    assert "raised to the minimum of 5m" in reply
    sub = bot.store.subscriptions()[0]
    assert sub.every == 300 and sub.destination == CHAT.name
    assert any(f.url == url for f in bot.engine.feeds)
    assert "already has that feed" in await bot(f"/add {url}")
    feeds = await bot("/feeds")
    assert sub.id in feeds and url in feeds and "not polled yet" in feeds and "Plus 1 shared feed" in feeds
    assert "Removed" in await bot(f"/remove {sub.id}")
    assert all(f.url != url for f in bot.engine.feeds)


async def test_add_refuses_what_is_not_a_feed(bot, feed_server):
    url = feed_server.serve("/page", b"<!doctype html><html><body>hi</body></html>", content_type="text/html")
    assert "I couldn't add" in (reply := await bot(f"/add {url}")) and "HTML page" in reply
    assert bot.store.subscriptions() == []


async def test_the_shared_pool_is_not_added_twice(bot, feed_server):
    assert "already watched for every chat" in await bot(f"/add {feed_server.url('/shared')}")


async def test_test_explains_text_and_feeds_without_sending(bot, feed_server):
    assert "no watches to test" in await bot("/test anything")
    await bot('/watch "lady gaga" duet')
    reply = await bot("/test Lady Gaga duet tonight")
    assert "Would fire" in reply and "lady gaga, duet" in reply
    assert "None of this chat's watches" in await bot("/test Metallica")
    url = feed_server.serve("/t", rss([item("Lady Gaga duet announced"), item("Other news")]))
    reply = await bot(f"/test {url}")
    assert "2 entries, 1 would alert" in reply and "Lady Gaga duet announced" in reply
    assert "One story" not in reply
    assert bot.store.pending() == []


async def test_test_shows_what_tipoff_considers_one_story(bot, feed_server):
    await bot('/watch "lady gaga"')
    url = feed_server.serve("/news", rss([item("Lady Gaga and Britney Spears are preparing a duet, sources say"),
                                          item("Britney Spears and Lady Gaga preparing duet, say sources"),
                                          item("Britney Spears confirms duet with Lady Gaga"),
                                          item("3 dead in Paris warehouse fire"),
                                          item("30 dead in Paris warehouse fire")]))
    reply = await bot(f"/test {url}")
    assert "One story, told more than once here:" in reply
    assert "3 entries" in reply and "1 with a new fact" in reply
    assert "Paris" not in reply.split("One story")[1]  # 3 dead and 30 dead are two stories


async def test_topics_have_their_own_watches(bot):
    await bot("/watch gaga", dest=TOPIC)
    await bot("/watch britney")
    assert "gaga" in await bot("/watches", dest=TOPIC)
    assert "gaga" not in await bot("/watches")


async def test_pause_and_resume(bot):
    assert "Paused" in await bot("/pause")
    assert bot.store.destination_state(CHAT.name).paused is True
    assert "Paused" in await bot("/status")
    await bot("/resume")
    assert "Active." in await bot("/status")


async def test_export_then_import_round_trip(bot, feed_server):
    url = feed_server.serve("/mine", rss([], title="Mine"))
    await bot(f"/add {url}")
    await bot('/watch "lady gaga" duet')
    reply = await bot.commands.run(invocation(), "export", "")
    name, data = reply.document
    assert name.endswith(".opml")
    contents = parse_opml(data)
    assert contents.feeds[0][1] == url and contents.watches == ['"lady gaga" duet']

    other = destinations.telegram(555)
    reply = await bot.commands.run(invocation(dest=other, attachment=data), "import", "")
    assert "Added 1 feed," in reply.text and "Added 1 watch." in reply.text
    assert [s.url for s in bot.store.subscriptions(other.name)] == [url]


async def test_import_reports_skipped_and_invalid(bot, feed_server):
    data = export_opml("x", [("a", feed_server.url("/shared")), ("b", "ftp://nope"), ("c", "https://c.example/f")])
    reply = await bot.commands.run(invocation(attachment=data), "import", "")
    assert reply.text.startswith("Added 1 feed, skipped 1 already here, 1 invalid.")
    assert "Usage: /import" in (await bot.commands.run(invocation(), "import", "")).text
    bad = await bot.commands.run(invocation(attachment=b"<html>nope</html>"), "import", "")
    assert "not an OPML file" in bad.text


async def test_an_internal_error_never_reaches_the_chat_as_a_traceback(bot, monkeypatch):
    async def boom(inv, args):
        raise RuntimeError("secret internals")
    monkeypatch.setitem(bot.commands.commands, "status", replace(bot.commands.commands["status"], handler=boom))
    reply = await bot("/status")
    assert "something went wrong" in reply and "secret" not in reply and "Traceback" not in reply


async def test_limits_count_across_a_whole_server_when_the_platform_groups_chats(bot):
    async def yes():
        return True
    one = Invocation(destinations.discord(1), "discord:9", yes, group="discord-guild:5")
    two = Invocation(destinations.discord(2), "discord:9", yes, group="discord-guild:5")
    elsewhere = Invocation(destinations.discord(3), "discord:9", yes, group="discord-guild:6")
    assert "Watching" in (await bot.commands.run(one, "watch", "a")).text
    assert "Watching" in (await bot.commands.run(two, "watch", "b")).text
    assert "This server has reached its limit of 2 watches" in (await bot.commands.run(one, "watch", "c")).text
    assert "Watching" in (await bot.commands.run(elsewhere, "watch", "c")).text


async def test_add_a_page_finds_its_feed_and_names_the_others(bot, feed_server):
    feed_server.serve("/news.xml", rss([item("one")], title="Pop News"))
    feed_server.serve("/comments.xml", rss([], title="Comments"))
    page = (b'<html><head><link rel="alternate" type="application/rss+xml" href="/news.xml">'
            b'<link rel="alternate" type="application/rss+xml" href="/comments.xml"></head></html>')
    url = feed_server.serve("/", page, content_type="text/html")
    reply = await bot(f"/add {url}")
    assert f"I found its feed {feed_server.url('/news.xml')}" in reply
    assert f"It also offers: {feed_server.url('/comments.xml')} (RSS)" in reply
    assert "Added Pop News" in reply
    assert bot.store.subscriptions()[0].url == feed_server.url("/news.xml")


async def test_add_a_page_without_feed_links_tries_the_usual_paths(bot, feed_server):
    feed_server.serve("/rss.xml", rss([], title="Found by path"))
    url = feed_server.serve("/blog", b"<html><body>no links</body></html>", content_type="text/html")
    assert "Added Found by path" in await bot(f"/add {url}")


async def test_add_a_page_with_no_feed_at_all_says_so(bot, feed_server):
    url = feed_server.serve("/plain", b"<html><body>nothing</body></html>", content_type="text/html")
    reply = await bot(f"/add {url}")
    assert "I couldn't add" in reply and "links to no feed" in reply


async def test_a_chat_cannot_add_an_address_on_the_operators_network(bot, feed_server):
    # the bot fixture allows 127.0.0.0/8 like the tests do; 10.x and metadata stay forbidden
    for url in ("http://10.0.0.1/feed", "http://169.254.169.254/latest/meta-data/"):
        reply = await bot(f"/add {url}")
        assert "this address may not be fetched" in reply, reply


async def test_resume_restarts_the_chats_stopped_feeds(bot, feed_server):
    from bot.config import feed_id_for

    url = feed_server.serve("/mine", rss([], title="Mine"))
    await bot(f"/add {url}")
    state = bot.store.feed_state(feed_id_for(url))
    from bot.store.base import FeedState
    bot.store.put_feed_state(replace(state or FeedState(feed_id_for(url), url), stopped="HTTP 410", failures=3,
                                     title="Mine"))
    assert "STOPPED: HTTP 410" in await bot("/feeds")
    reply = await bot("/resume")
    assert "Checking again: Mine" in reply
    assert bot.store.feed_state(feed_id_for(url)).stopped is None


async def test_sources_lists_every_shortcut_with_examples(bot):
    text = await bot("/sources")
    for prefix in ("news:", "reddit:", "youtube:", "bsky:", "mastodon:"):
        assert prefix in text
    assert '/add news:"lady gaga" duet' in text


async def test_add_takes_a_source_shortcut(bot, feed_server, monkeypatch):
    from bot.sources import news
    served = feed_server.serve("/rss/search", rss([item("Gaga news")], title="Google News"))
    monkeypatch.setattr(news, "BASE", served)  # the real one is https://news.google.com/rss/search
    reply = await bot('/add news:"lady gaga" duet every 30m')
    assert reply.startswith('Google News: "lady gaga" duet: Added Google News as f'), reply
    [sub] = bot.store.subscriptions(CHAT.name)
    assert sub.url.startswith(served + "?q=%22lady+gaga%22+duet&hl=en-US") and sub.every == 1800
    assert "youtube: needs a @handle" in await bot("/add youtube:not a channel")


async def test_snooze_label_digest_and_quiet(bot):
    wid = (await bot("/watch duet")).split()[2].rstrip(":")
    assert "Snoozed" in await bot(f"/snooze {wid} 24h")
    assert bot.engine.watching(wid).snoozed_until > 0  # the engine matches with the new setting
    assert "awake again" in await bot(f"/snooze {wid} off")
    assert "not a duration" in await bot(f"/snooze {wid} forever")
    assert "There is no watch nope" in await bot("/snooze nope 1h")
    assert f"{wid} alerts now say: Duet news" == await bot(f"/label {wid} Duet news")
    assert bot.store.watches(CHAT.name)[0].label == "Duet news"

    assert "Quiet hours 23:00-07:00 Europe/Berlin" in await bot("/quiet 23:00-07:00 Europe/Berlin")
    assert "gathered into one message, daily 09:00 Europe/Berlin" in await bot("/digest daily 09:00")  # zone of /quiet
    assert bot.store.destination_state(CHAT.name).digest == "daily 09:00 Europe/Berlin"
    assert "alerts go out at once" in await bot(f"/digest off {wid}")
    assert bot.store.watches(CHAT.name)[0].digest == "off"
    assert "Digest off" in await bot("/digest off")
    assert "not a time zone" in await bot("/quiet 23:00-07:00 Moon/Base")
    assert "Only the chat's admins" in await bot("/quiet off", admin=False)
    assert "Quiet hours off." == await bot("/quiet off")


async def test_spread_makes_a_watch_wait_for_outlets_and_off_ends_it(bot):
    wid = (await bot("/watch duet")).split()[2].rstrip(":")
    reply = await bot(f"/spread {wid} 3")
    assert "now alerts once 3 outlets within 2 h carry a story" in reply and f"/spread {wid} off" in reply
    assert (bot.engine.watching(wid).min_sources, bot.engine.watching(wid).within) == (3, 7200.0)
    assert "4 outlets within 30 min" in await bot(f"/spread {wid} 4 30m")
    assert bot.store.watches(CHAT.name)[0].within == 1800.0  # kept, and matched so from now on
    assert "after 4 outlets within 30 min" in await bot("/watches")
    assert "2 to 50 outlets" in await bot(f"/spread {wid} 1")
    assert "not a number of outlets" in await bot(f"/spread {wid} many")
    assert "between ten minutes and a week" in await bot(f"/spread {wid} 3 2w")
    assert "There is no watch nope" in await bot("/spread nope 3")
    assert "Only the chat's admins" in await bot(f"/spread {wid} off", admin=False)
    assert "first report again" in await bot(f"/spread {wid} off")
    assert bot.engine.watching(wid).min_sources == 0


async def test_recent_backtest_and_why_read_the_last_days_entries(bot, feed_server):
    wid = (await bot("/watch duet")).split()[2].rstrip(":")
    await bot.engine.poll_cycle(bot.engine.feeds)  # the first poll: what is there is known, not new
    assert "No alerts here" in await bot("/recent")
    duet = "Lady Gaga and Britney Spears are preparing a duet, sources say"
    feed_server.serve("/shared", rss([item(duet, link="https://pop.example/duet"),
                                      item("Madonna announces tour dates", link="https://pop.example/tour"),
                                      item("A duet from long ago", link="https://pop.example/old",
                                           published=datetime.now(timezone.utc) - timedelta(days=30))]))
    await bot.engine.poll_cycle(bot.engine.feeds)
    feed_server.serve("/shared", rss([item("Britney Spears and Lady Gaga preparing duet, say sources",
                                           link="https://pop.example/duet-again")]))
    await bot.engine.poll_cycle(bot.engine.feeds)

    recent = await bot("/recent")
    assert recent.startswith("The last alert here:") and duet in recent and "waiting to be sent" in recent
    assert "would have alerted 1 time in the last 7 days (3 new entries in 1 feeds)" in await bot("/backtest madonna")
    both = await bot('/backtest madonna OR "lady gaga"')
    assert "alerted 3 times" in both and both.index("Britney Spears and Lady Gaga") < both.index("Madonna")
    assert "I can't use that rule" in await bot('/backtest "unclosed')

    why = await bot("/why https://pop.example/duet?utm_source=x")  # the address as shared, tracking and all
    assert f"✓ {wid} (duet) matched duet" in why and "Here: alerted here (waiting in the outbox)." in why
    tour = await bot("/why https://pop.example/tour")
    assert f"✗ {wid} (duet) did not match; missing duet" in tour and "Here: no alert" in tour
    again = await bot("/why https://pop.example/duet-again")
    assert f"a rewording of “{duet}”, a story already told here" in again
    assert "No new entry with that address" in await bot("/why https://pop.example/never")
    old = await bot("/why https://pop.example/old")
    assert "not announced: it is published 30 d ago, older than the 7 days tipoff announces" in old
    assert "one of this chat's feeds" in await bot(f"/why {bot.engine.feeds[0].url}")
    other = destinations.telegram(-100999)  # another chat sees none of this one's alerts
    assert "No alerts here" in await bot("/recent", dest=other)


async def test_add_full_reads_each_new_entrys_article(bot, feed_server):
    url = feed_server.serve("/headlines", rss([item("one")], title="Headlines"))
    said = await bot(f"/add {url} full every 30m")
    assert "Added Headlines" in said and "article is read and matched too" in said
    [sub] = bot.store.subscriptions(CHAT.name)
    assert sub.full_text and sub.every == 1800
    assert next(f for f in bot.engine.feeds if f.url == url).full_text


@pytest.mark.parametrize("command", ["/test", "/add"])
async def test_unicode_forms_of_internal_addresses_are_refused_from_chats(bot, command):
    await bot("/watch duet")
    for url in ("http://１０.０.０.１/feed", "http://１６９。２５４。１６９。２５４/latest/meta-data/",
                "http://𝟏𝟗𝟐.𝟏𝟔𝟖.𝟎.𝟏/"):
        reply = await bot(f"{command} {url}")
        assert "may not be fetched" in reply, reply


async def test_a_host_name_too_long_to_be_one_is_not_a_valid_address(bot):
    await bot("/watch duet")
    reply = await bot(f"/test http://{'a' * 300}.example/feed")
    assert "not a valid address" in reply and "went wrong" not in reply, reply


OTHER_CHAT = destinations.telegram(-100999)


async def test_a_slow_command_in_one_chat_holds_up_no_other_and_its_own_stay_in_order(bot, feed_server):
    slow = feed_server.serve("/slow", rss([item("Gaga duet")]), delay=1.5)
    await bot("/watch duet")
    done = []

    async def said(text, **kw):
        await bot(text, **kw)
        done.append(text if not kw else f"{text} (other chat)")

    await asyncio.gather(said(f"/test {slow}"), said("/watches"), said("/help", dest=OTHER_CHAT))
    assert done == ["/help (other chat)", f"/test {slow}", "/watches"]


async def test_a_commands_fetching_is_capped_however_many_feeds_a_page_links(bot, feed_server):
    links = "".join(f'<link rel="alternate" type="application/rss+xml" href="/slow{n}">' for n in range(12))
    for n in range(12):
        feed_server.serve(f"/slow{n}", rss([item("x")]), delay=3.0)
    page = feed_server.serve("/page", f"<html><head>{links}</head></html>".encode(), content_type="text/html")
    bot.commands.settings = replace(bot.commands.settings, limits=replace(bot.commands.settings.limits,
                                                                          command_time=1.0))
    await bot("/watch duet")
    reply = await bot(f"/test {page}")
    assert "gave up after 1s" in reply, reply


async def test_commands_per_chat_and_per_person_are_rate_limited(bot):
    now = [1000.0]
    commands = bot.commands
    commands.clock = lambda: now[0]
    commands.settings = replace(commands.settings, limits=replace(commands.settings.limits, commands_per_minute=4,
                                                                  user_commands_per_minute=3))
    commands._per_chat, commands._per_user = type(commands._per_chat)(4), type(commands._per_user)(3)

    async def by(user, text="/watches"):
        async def can_manage():
            return True
        return (await commands.run(Invocation(CHAT, user, can_manage), text[1:], "")).text

    for _ in range(3):
        assert "Slow down" not in await by("telegram:1")
    assert await by("telegram:1") == "Slow down: you sent 3 commands in the last minute. Try again in 60 s."
    assert "Slow down" not in await by("telegram:2")  # the chat's fourth
    assert await by("telegram:3") == "Slow down: this chat sent 4 commands in the last minute. Try again in 60 s."
    now[0] += 61
    assert "Slow down" not in await by("telegram:1")


async def test_a_chat_with_too_many_commands_in_line_is_told_to_wait(bot, feed_server):
    slow = feed_server.serve("/slow", rss([item("x")]), delay=0.3)
    await bot("/watch duet")
    replies = await asyncio.gather(*(bot(f"/test {slow}") for _ in range(8)))
    turned_away = [r for r in replies if r.startswith("I'm still working on this chat's earlier commands")]
    assert len(turned_away) == 2  # one running, five in line


async def test_import_tells_the_limit_and_forbidden_addresses_apart_from_what_was_here(bot, feed_server):
    """Feeds past the chat's limit are not "already here", and an address on the
    operator's network (here a full-width form of one) is refused, not reported as added."""
    urls = [("a", feed_server.url("/shared")), ("m", "http://１０.０.０.１/feed"), ("n", "http://169.254.169.254/"),
            ("x", "https://x.example/1"), ("y", "https://y.example/2"), ("z", "https://z.example/3")]
    reply = (await bot.commands.run(invocation(attachment=export_opml("x", urls)), "import", "")).text
    assert reply.startswith("Added 2 feeds, skipped 1 already here, 1 over the limit of 2 feeds, 2 refused, "
                            "0 invalid."), reply
    assert "refused: http://１０.０.０.１/feed (" in reply and "private" in reply and "link-local" in reply
    assert {s.url for s in bot.store.subscriptions(CHAT.name)} == {"https://x.example/1", "https://y.example/2"}


async def test_a_refused_rule_is_shown_around_the_problem_not_echoed_whole(bot):
    rule = "gaga " * 100 + "MARK" + " duet" * 500
    reply = await bot(f"/watch {rule}")
    assert "longer than 500 characters at column 501" in reply and len(reply) < 400, reply
    shown, caret = reply.splitlines()[1:3]
    assert shown.startswith("…") and shown.endswith("…") and shown[caret.index("^")] == "M"
    short = await bot('/watch gaga "unclosed')
    assert short.splitlines()[1:3] == ['gaga "unclosed', "     ^"]


async def test_replies_name_commands_in_the_syntax_of_the_chats_platform(bot):
    discord_channel = destinations.discord(42)
    reply = await bot("/unwatch wnope", dest=discord_channel)
    assert reply == "There is no watch wnope in this chat. /tipoff watches lists them."
    assert await bot("/unwatch wnope") == "There is no watch wnope in this chat. /watches lists them."
    feeds = await bot("/feeds", dest=discord_channel)
    assert "(/tipoff add URL)" in feeds
