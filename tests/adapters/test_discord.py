"""Discord end to end: the real discord.py client inside the real service, against the
fake Discord (REST and gateway) and feeds served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

import pytest

from bot.config import DiscordSettings, Secret
from bot.model import Destination, DestinationName
from bot.service import run_service
from tests.factories import ago, eventually
from tests.factories import as_worker, feed, item, redis_prefix, rss, settings, watch
from tests.fakes.discord import SEND_MESSAGES, TOKEN, FakeDiscord, Posted, validate_message

ALERTS, OTHER, SYSTEM = "800000000000000010", "800000000000000011", "800000000000000012"
FANS_ROLE, ADMIN_ROLE = "800000000000000020", "800000000000000021"
STORY = "Lady Gaga and Britney Spears are preparing a duet"


class World:
    def __init__(self, tmp_path, fake, feed_server, feeds=(), watches=(), dests=(), **discord):
        self.fake, self.feeds = fake, feed_server
        base = settings(tmp_path / "data", feeds, watches, dests, every=1.0, min_every=1.0)
        d = DiscordSettings(token=Secret(TOKEN), api_base=fake.api_base, gateway=fake.gateway,
                            guild=int(fake.guild_id), identify_interval=fake.identify_interval)
        self.settings = replace(base, discord=replace(d, **discord))

    async def start(self):
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(run_service(self.settings, self.stop_event))
        await eventually(lambda: self.fake.synced or self.task.done(), timeout=30, what="commands synced")
        if self.task.done():
            self.task.result()
        return self

    async def stop(self):
        if not self.task.done():
            self.stop_event.set()
            await asyncio.wait_for(self.task, 15)

    async def slash(self, sub, options=None, expect=None, **kw):
        token = await self.fake.slash(sub, options, **kw)
        await eventually(lambda: any(a for a in self.fake.answers(token)), what=f"an answer to /tipoff {sub}")
        if expect is not None:  # a long answer comes as several messages, split at line ends
            with contextlib.suppress(AssertionError):  # asserted below, with the answer shown
                await eventually(lambda: expect in "".join(self.fake.answers(token)), timeout=5)
            answer = "".join(self.fake.answers(token))
            assert expect in answer, answer
        return token, "".join(self.fake.answers(token))

    async def subscribe(self, channel=ALERTS, path="/f", rule='"lady gaga" duet', **kw):
        url = self.feeds.serve(path, rss([item("old news", published=ago(60))]))
        await self.slash("add", {"url": url, "every": "1s"}, "Added", channel=channel)
        await self.slash("watch", {"rule": rule, **kw}, "Watching as", channel=channel)
        polls = len(self.feeds.hits(path))
        await eventually(lambda: len(self.feeds.hits(path)) > polls, what="the first poll of the new feed")
        return url


@pytest.fixture
async def fake():
    f = FakeDiscord()
    f.identify_interval = 0.3  # Discord's is 5 s; tipoff is told the same
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
async def world(tmp_path, fake, feed_server):
    made = []

    async def make(**kw):
        w = await World(tmp_path, fake, feed_server, **kw).start()
        made.append(w)
        return w
    yield make
    for w in made:
        await w.stop()


async def test_commands_are_synced_to_the_guild_as_one_group(world, fake):
    await world()
    [group] = fake.synced[fake.guild_id]
    assert group["name"] == "tipoff"
    subs = {o["name"] for o in group["options"]}
    assert subs == {"help", "watch", "unwatch", "watches", "add", "remove", "feeds", "test", "pause", "resume",
                    "status", "export", "import", "sources", "snooze", "label", "digest", "quiet", "spread", "recent",
                    "dashboard", "language",
                    "backtest", "why"}
    unwatch = next(o for o in group["options"] if o["name"] == "unwatch")
    assert unwatch["options"][0]["autocomplete"] is True


async def test_a_manager_sets_up_and_exactly_one_valid_embed_arrives(world, fake, feed_server):
    w = await world()
    await w.subscribe()
    feed_server.serve("/f", rss([item(STORY, published=ago(1), summary="A duet, says Lady Gaga @everyone."),
                                 item("old news", published=ago(60))]))
    await eventually(lambda: fake.posted_to(ALERTS), what="the alert")
    await asyncio.sleep(2.5)
    [posted] = fake.posted_to(ALERTS)
    assert validate_message(posted.body) == {}
    assert posted.embed["title"] == STORY
    assert "**duet**" in posted.embed["description"] and "\\@everyone" in posted.embed["description"]
    assert posted.pinged == [] and posted.body["allowed_mentions"]["parse"] == []
    assert fake.invalid == []


async def test_a_member_without_manage_channels_is_refused_privately(world, fake):
    w = await world()
    token, answer = await w.slash("watch", {"rule": "gaga"}, "Only the chat's admins", permissions=SEND_MESSAGES)
    assert fake.flags_of(token) == [64]
    await w.slash("watches", expect="No watches here yet", permissions=SEND_MESSAGES)


async def test_the_configured_manager_role_may_manage(world, fake):
    w = await world(manager_role="tipoff admins")
    await w.slash("watch", {"rule": "gaga"}, "Watching as", permissions=SEND_MESSAGES, roles=[ADMIN_ROLE])


async def test_listing_and_help_are_ephemeral_changes_are_public(world, fake):
    w = await world()
    token, _ = await w.slash("help", expect="/tipoff watch rule:")
    assert all(f & 64 for f in fake.flags_of(token))
    token, _ = await w.slash("watch", {"rule": "gaga"}, "Watching as")
    assert not any(f & 64 for f in fake.flags_of(token))


async def test_429_then_success_delivers_exactly_once(world, fake, feed_server):
    w = await world()
    await w.subscribe()
    fake.rate_limit_next(ALERTS, 0.5)
    feed_server.serve("/f", rss([item(STORY, published=ago(1))]))
    await eventually(lambda: fake.posted_to(ALERTS), what="the alert after the 429")
    await asyncio.sleep(1.5)
    assert len(fake.posted_to(ALERTS)) == 1
    assert fake.calls.count(f"POST message {ALERTS}") == 2


async def test_a_watch_may_mention_a_role_and_only_that_role_is_pinged(world, fake, feed_server):
    w = await world()
    await w.subscribe(mention=FANS_ROLE)
    feed_server.serve("/f", rss([item(STORY + " <@&800000000000000021> @here", published=ago(1))]))
    await eventually(lambda: fake.posted_to(ALERTS), what="the alert")
    posted = fake.posted_to(ALERTS)[0]
    assert posted.body["content"] == f"<@&{FANS_ROLE}>"
    assert posted.pinged == [f"role:{FANS_ROLE}"]


async def test_autocomplete_offers_this_channels_ids(world, fake):
    w = await world()
    _, answer = await w.slash("watch", {"rule": "gaga duet"}, "Watching as")
    wid = answer.split()[2].rstrip(":")
    token = await fake.slash("unwatch", {"id": "ga"}, autocomplete="id")
    await eventually(lambda: fake.answers(token), what="autocomplete choices")
    assert fake.answers(token) == [f"choice:{wid}"]
    await w.slash("unwatch", {"id": wid}, f"Stopped watching {wid}")


async def test_a_channel_that_forbids_us_is_deactivated_and_the_server_is_told(world, fake, feed_server):
    w = await world()
    await w.subscribe()
    fake.fail_next(ALERTS, 403)
    feed_server.serve("/f", rss([item(STORY, published=ago(1))]))
    await eventually(lambda: fake.posted_to(SYSTEM), what="a note in the system channel")
    assert f"<#{ALERTS}>" in fake.posted_to(SYSTEM)[0].body["content"]
    await w.slash("status", expect="Delivery stopped: Discord: 403")
    await w.slash("resume", expect="Resumed")
    await eventually(lambda: fake.posted_to(ALERTS), what="the alert after /resume")


async def test_a_webhook_destination_receives_the_same_alert(world, fake, feed_server, tmp_path):
    url = feed_server.serve("/shared", rss([item("old news", published=ago(60))]))
    hook = Destination(DestinationName("hook"), "discord_webhook", (("url", fake.webhook_url()),))
    w = await world(feeds=[feed(url, every=1.0)], watches=[watch('"lady gaga" duet', "hook", id="cfg")],
                    dests=[hook])
    await w.slash("watch", {"rule": '"lady gaga" duet'}, "Watching as")
    polls = len(feed_server.hits("/shared"))
    await eventually(lambda: len(feed_server.hits("/shared")) > polls, what="a poll")
    feed_server.serve("/shared", rss([item(STORY, published=ago(1))]))
    await eventually(lambda: fake.webhook_posts and fake.posted_to(ALERTS), what="both alerts")
    [hooked] = fake.webhook_posts
    assert validate_message(hooked.body) == {} and hooked.pinged == []
    assert hooked.embed["title"] == fake.posted_to(ALERTS)[0].embed["title"] == STORY


async def test_a_deleted_webhook_is_never_retried(world, fake, feed_server):
    url = feed_server.serve("/shared", rss([item("old news", published=ago(60))]))
    gone = Destination(DestinationName("gone"), "discord_webhook",
                       (("url", fake.webhook_url("700000000000000099")),))
    await world(feeds=[feed(url, every=1.0)], watches=[watch("duet", "gone", id="cfg")], dests=[gone])
    polls = len(feed_server.hits("/shared"))
    await eventually(lambda: len(feed_server.hits("/shared")) > polls, what="a poll")
    feed_server.serve("/shared", rss([item("duet one", published=ago(2)), item("duet two", published=ago(1))]))
    await eventually(lambda: "webhook 700000000000000099" in fake.calls, what="the webhook attempt")
    await asyncio.sleep(2)
    assert fake.calls.count("webhook 700000000000000099") == 1


async def test_webhook_429_is_honoured(world, fake, feed_server):
    url = feed_server.serve("/shared", rss([item("old news", published=ago(60))]))
    hook = Destination(DestinationName("hook"), "discord_webhook", (("url", fake.webhook_url()),))
    await world(feeds=[feed(url, every=1.0)], watches=[watch("duet", "hook", id="cfg")], dests=[hook])
    fake.rate_limit_next("700000000000000001", 0.5)
    polls = len(feed_server.hits("/shared"))
    await eventually(lambda: len(feed_server.hits("/shared")) > polls, what="a poll")
    feed_server.serve("/shared", rss([item("duet now", published=ago(1))]))
    await eventually(lambda: fake.webhook_posts, what="the webhook post after the 429")
    assert fake.calls.count("webhook 700000000000000001") == 2 and len(fake.webhook_posts) == 1


async def test_export_then_import_an_attachment(world, fake):
    w = await world()
    url = w.feeds.serve("/x", rss([], title="X"))
    await w.slash("add", {"url": url}, "Added")
    token, _ = await w.slash("export", expect="1 feeds")
    [(name, data)] = fake.files_of(token)
    assert name.endswith(".opml") and url.encode() in data
    await w.slash("import", {"file": data}, "Added 1 feed,", channel=OTHER)


async def test_a_discord_5xx_is_retried_and_delivers_once(world, fake, feed_server):
    w = await world()
    await w.subscribe()
    fake.fail_next(ALERTS, 500)
    fake.fail_next(ALERTS, 502)
    feed_server.serve("/f", rss([item(STORY, published=ago(1))]))
    await eventually(lambda: fake.posted_to(ALERTS), timeout=30, what="the alert after two server errors")
    await asyncio.sleep(1)
    assert len(fake.posted_to(ALERTS)) == 1


async def test_sending_the_same_alert_twice_posts_once(fake):
    from datetime import datetime, timezone

    from bot import destinations
    from bot.adapters.discord import DiscordAdapter, nonce_for
    from bot.model import Alert
    from tests.factories import entry

    adapter = DiscordAdapter(DiscordSettings(token=Secret(TOKEN), api_base=fake.api_base, gateway=fake.gateway))
    await adapter.start()
    try:
        alert = Alert("discord:1:abc", "discord:1", entry(STORY, url="https://pop.example/1"), "PopWire",
                      "https://pop.example/feed", (), datetime.now(timezone.utc))
        dest = destinations.discord(int(ALERTS))
        first = await adapter.send(dest, alert)
        again = await adapter.send(dest, alert)  # as after a crash between send and acknowledgement
        assert first == again
        assert len(fake.posted_to(ALERTS)) == 1
        assert fake.posted_to(ALERTS)[0].body["nonce"] == nonce_for(alert.id) and len(nonce_for(alert.id)) <= 25
        assert fake.posted_to(ALERTS)[0].body["enforce_nonce"] is True
    finally:
        await adapter.close()


async def test_alert_buttons_mute_and_unwatch_for_managers_only(world, fake, feed_server):
    w = await world()
    await w.subscribe()
    feed_server.serve("/f", rss([item(STORY, guid="s1", published=ago(1)), item("old news", published=ago(60))]))
    await eventually(lambda: fake.posted_to(ALERTS), what="the alert")
    [alert] = fake.posted_to(ALERTS)
    assert validate_message(alert.body) == {}
    [(mute, mute_id), (unwatch, unwatch_id)] = alert.buttons
    assert mute == "Mute this watch for 24 h" and mute_id.startswith("tipoff:snooze:w") and unwatch == "Unwatch"

    token = await fake.press(alert, mute_id, permissions=SEND_MESSAGES)  # not a manager: told privately
    await eventually(lambda: fake.answers(token), what="the refusal")
    assert fake.answers(token)[0].startswith("Only the chat's admins") and fake.flags_of(token) == [64]

    token = await fake.press(alert, mute_id)
    await eventually(lambda: fake.answers(token), what="the snooze")
    assert fake.answers(token)[0].startswith("Snoozed w")
    feed_server.serve("/f", rss([item(STORY + " again", guid="s2", published=ago(1)),
                                 item(STORY, guid="s1", published=ago(1))]))
    polls = len(feed_server.hits("/f"))
    await eventually(lambda: len(feed_server.hits("/f")) > polls + 1, what="two more polls")
    assert len(fake.posted_to(ALERTS)) == 1  # snoozed

    token = await fake.press(alert, unwatch_id)
    await eventually(lambda: fake.answers(token), what="the unwatch")
    assert fake.answers(token)[0].startswith("Stopped watching")
    await w.slash("watches", expect="No watches here yet")


async def test_watch_in_a_channel_without_feeds_offers_google_news(world, fake, feed_server, monkeypatch):
    from bot.sources import news
    monkeypatch.setattr(news, "BASE", feed_server.serve("/news", rss([item("Gaga news")], title="Google News")))
    w = await world()
    token, answer = await w.slash("watch", {"rule": '"lady gaga" duet'}, 'add Google News for "lady gaga" duet?')
    [offer] = [r for r in fake.replies if r.get("token") == token and (r["data"] or {}).get("components")]
    [button] = offer["data"]["components"][0]["components"]
    assert button["label"] == "Add Google News for this" and button["custom_id"].startswith("tipoff:addnews:w")
    message = Posted(ALERTS, offer["data"], 0.0, message_id="1")
    token = await fake.press(message, button["custom_id"])
    await eventually(lambda: fake.answers(token), what="the news feed to be added")
    assert fake.answers(token)[0].startswith('Google News: "lady gaga" duet: Added Google News as f')
    await w.slash("feeds", expect="/news?q=%22lady+gaga%22+duet")


async def test_with_several_workers_one_holds_the_gateway_and_another_takes_over(tmp_path, fake, feed_server,
                                                                                   redis_url):
    """Two workers on one Redis, one bot token: only the elected one connects the
    gateway (each connection would receive every slash command), both can send; when it
    stops, the other connects."""
    prefix = redis_prefix()
    worlds = []
    for n in (1, 2):
        w = World(tmp_path / f"w{n}", fake, feed_server)
        w.settings = as_worker(w.settings, redis_url, prefix, f"w{n}")
        worlds.append(await w.start())
    try:
        await asyncio.sleep(2.0)
        assert len(fake._sockets) == 1  # one gateway connection for the token
        token, _ = await worlds[0].slash("help", expect="/tipoff watch rule:")
        await asyncio.sleep(1.0)
        assert len([r for r in fake.replies if r.get("interaction") == token.removeprefix("itoken-")]) == 1
        await worlds[0].stop()
        await eventually(lambda: len(fake._sockets) == 1, timeout=20, what="the other worker's gateway")
        await worlds[1].slash("watches", expect="No watches here yet")
    finally:
        for w in worlds:
            await w.stop()


SECOND_GUILD, SECOND_CHANNEL = "800000000004194305", "800000000004194310"  # on shard 0 of 2, 2 of 3
THIRD_GUILD, THIRD_CHANNEL = "800000000008388609", "800000000008388610"  # on shard 1 of 2, 0 of 3


async def answered_once(fake, w, channel):
    token, _ = await w.slash("help", expect="/tipoff watch rule:", channel=channel)
    await asyncio.sleep(0.5)  # a second connection serving that server would answer again by now
    return len([r for r in fake.replies if r.get("interaction") == token.removeprefix("itoken-")])


async def test_auto_sharding_connects_every_shard_once_and_paces_identify(world, fake):
    """With more servers than one connection may serve, "auto" takes Discord's
    recommended shard count: one connection per shard, each server's commands arrive on
    its shard's connection and are answered once, and IDENTIFYs keep Discord's spacing."""
    fake.guilds_per_shard = 1
    fake.add_guild(SECOND_GUILD, SECOND_CHANNEL)
    w = await world()
    await eventually(lambda: len(fake.connected_shards()) == 2, what="both shards")
    assert fake.connected_shards() == [(0, 2), (1, 2)]
    assert await answered_once(fake, w, ALERTS) == 1
    assert await answered_once(fake, w, SECOND_CHANNEL) == 1
    assert fake.too_fast == []  # the second IDENTIFY waited its turn
    times = sorted(at for at, _, _ in fake.identifies)
    assert times[1] - times[0] >= fake.identify_interval * 0.9


async def test_shards_waiting_long_for_their_identify_turn_do_not_time_out(world, fake, monkeypatch):
    """Many shards queue for their IDENTIFY turns (Discord's 5 s each, one bucket): a
    shard's connection timeout starts when its turn comes, not when it joined the queue."""
    from bot.adapters.discord import adapter as adapter_module

    # discord.py's READY takes 2 s (it waits that long after the last GUILD_CREATE); the
    # third shard's turn comes 5 s after the first's
    monkeypatch.setattr(adapter_module, "READY_TIMEOUT", 4.0)
    fake.guilds_per_shard = 1
    fake.add_guild(SECOND_GUILD, SECOND_CHANNEL)
    fake.add_guild(THIRD_GUILD, THIRD_CHANNEL)
    fake.identify_interval = 2.5
    w = await world(identify_interval=2.5)
    await eventually(lambda: len(fake.connected_shards()) == 3, what="three shards")
    assert fake.too_fast == [] and w.task.done() is False


async def test_too_few_shards_fails_with_a_clear_message(tmp_path, fake, feed_server):
    fake.guilds_per_shard = 1
    fake.add_guild(SECOND_GUILD, SECOND_CHANNEL)
    w = World(tmp_path, fake, feed_server, shards=1)
    with pytest.raises(RuntimeError) as raised:
        await w.start()
    assert "needs more shards" in str(raised.value) and "[discord] shards" in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert fake.closed_with == [4011]


async def test_without_discords_recommendation_a_configured_count_still_works(tmp_path, fake, feed_server):
    fake.gateway_bot_status = 404
    with pytest.raises(RuntimeError) as raised:
        await World(tmp_path / "auto", fake, feed_server).start()
    assert "set [discord] shards to a number" in str(raised.value)
    w = await World(tmp_path / "fixed", fake, feed_server, shards=1).start()
    try:
        assert fake.connected_shards() == [(0, 1)]
        assert await answered_once(fake, w, ALERTS) == 1
    finally:
        await w.stop()


async def test_a_worker_whose_shard_cannot_connect_backs_off(tmp_path, fake, feed_server, redis_url, caplog):
    """A shard Discord refuses (here: too many servers for the configured count) is not
    retried every round: each attempt is an IDENTIFY, and Discord resets a token after
    1,000 a day. The worker says why and when it tries again; it keeps running."""
    fake.guilds_per_shard = 1
    fake.add_guild(SECOND_GUILD, SECOND_CHANNEL)
    w = World(tmp_path, fake, feed_server, shards=1)
    w.settings = as_worker(w.settings, redis_url, redis_prefix(), "w1")
    w.stop_event = asyncio.Event()
    w.task = asyncio.create_task(run_service(w.settings, w.stop_event))
    try:
        await eventually(lambda: fake.closed_with, what="Discord's refusal")
        await asyncio.sleep(4.0)  # four rounds of the election (every lease / 3)
        assert fake.closed_with == [4011] and len(fake.identifies) == 1
        assert not w.task.done()
        assert any("needs more shards" in r.getMessage() and "again in 60 s" in r.getMessage()
                   for r in caplog.records)
    finally:
        await w.stop()


async def test_workers_share_the_shards_fairly_and_take_over_a_stopped_ones(tmp_path, fake, feed_server,
                                                                              redis_url):
    """Two workers, three shards: every shard connected exactly once, neither worker
    with more than two; when one stops, the other connects its shards too. Every
    server's commands are answered once throughout, and no IDENTIFY came too soon."""
    import redis.asyncio as aioredis

    fake.add_guild(SECOND_GUILD, SECOND_CHANNEL)
    fake.add_guild(THIRD_GUILD, THIRD_CHANNEL)
    prefix = redis_prefix()
    r = aioredis.from_url(redis_url)
    worlds = []
    try:
        for n in (1, 2):
            w = World(tmp_path / f"w{n}", fake, feed_server, shards=3)
            w.settings = as_worker(w.settings, redis_url, prefix, f"w{n}")
            worlds.append(w)
        await worlds[0].start()  # alone, it takes all three...
        await eventually(lambda: len(fake.connected_shards()) == 3, timeout=20, what="three shards")
        await worlds[1].start()  # ...and lets one go when the second joins (fair share: two)

        async def holders():
            keys = [k async for k in r.scan_iter(match=f"{prefix}lock:discord-shard:*")]
            return sorted([(await r.get(k)).decode() for k in keys])

        async def shared_out():
            return await holders() in (["w1", "w1", "w2"], ["w1", "w2", "w2"])

        deadline = asyncio.get_running_loop().time() + 30
        while not await shared_out():
            assert asyncio.get_running_loop().time() < deadline, await holders()
            await asyncio.sleep(0.2)
        await eventually(lambda: len(fake.connected_shards()) == 3, timeout=20, what="three shards again")
        assert fake.connected_shards() == [(0, 3), (1, 3), (2, 3)]
        for channel in (ALERTS, SECOND_CHANNEL, THIRD_CHANNEL):
            assert await answered_once(fake, worlds[1], channel) == 1
        await worlds[0].stop()
        deadline = asyncio.get_running_loop().time() + 30
        while await holders() != ["w2", "w2", "w2"] or len(fake.connected_shards()) != 3:
            assert asyncio.get_running_loop().time() < deadline, (await holders(), fake.connected_shards())
            await asyncio.sleep(0.2)
        for channel in (ALERTS, SECOND_CHANNEL, THIRD_CHANNEL):
            assert await answered_once(fake, worlds[1], channel) == 1
        assert fake.too_fast == []
    finally:
        for w in worlds:
            if hasattr(w, "task"):
                await w.stop()
        await r.aclose()


REWORDED = "Britney Spears and Lady Gaga preparing a duet"


async def two_outlets(w, feed_server, **watch_options):
    """The channel watches two outlets' feeds; the first breaks the story: its alert."""
    await w.subscribe(**watch_options)
    other = feed_server.serve("/g", rss([item("old news", published=ago(60))], title="Variety"))
    await w.slash("add", {"url": other, "every": "1s"}, "Added")
    polls = len(feed_server.hits("/g"))
    await eventually(lambda: len(feed_server.hits("/g")) > polls, what="the first poll of the second feed")
    feed_server.serve("/f", rss([item(STORY, published=ago(2), link="https://popdaily.example/1")], title="Pop Daily"))
    await eventually(lambda: w.fake.posted_to(ALERTS), what="the alert")


def reword(feed_server):
    feed_server.serve("/g", rss([item(REWORDED, published=ago(1), link="https://variety.example/1")], title="Variety"))


async def test_another_outlet_edits_the_alert_without_pinging_again(world, fake, feed_server):
    w = await world()
    await two_outlets(w, feed_server, mention=FANS_ROLE)
    reword(feed_server)
    await eventually(lambda: fake.edits, what="the edit")
    await asyncio.sleep(2)
    [posted] = fake.posted_to(ALERTS)
    [edit] = fake.edits
    assert posted.pinged == [f"role:{FANS_ROLE}"]  # the alert pinged its role, once: the update is an
    assert edit.message_id == posted.message_id  # edit of that message (Discord notifies nobody of edits)
    assert validate_message(edit.body) == {} and edit.embed["title"] == STORY
    [field] = edit.embed["fields"]
    assert field["value"] == "Also reported by Variety"
    assert [b for b, _ in edit.buttons] == [b for b, _ in posted.buttons]  # its buttons stay
    assert fake.invalid == []


async def test_a_deleted_alert_is_neither_edited_nor_sent_again(world, fake, feed_server):
    w = await world()
    await two_outlets(w, feed_server)
    fake.delete(fake.posted_to(ALERTS)[0])
    reword(feed_server)
    await eventually(lambda: f"PATCH message {ALERTS}" in fake.calls, what="the edit attempt")
    await asyncio.sleep(2)
    assert fake.edits == [] and len(fake.posted_to(ALERTS)) == 1
    assert fake.calls.count(f"PATCH message {ALERTS}") == 1


async def test_a_discord_webhook_message_is_edited_and_a_deleted_one_left_alone(world, fake, feed_server):
    urls = [feed_server.serve(p, rss([item("old news", published=ago(60))], title=t))
            for p, t in (("/p", "Pop Daily"), ("/v", "Variety"))]
    hook = Destination(DestinationName("hook"), "discord_webhook", (("url", fake.webhook_url()),))
    await world(feeds=[feed(u, every=1.0) for u in urls], watches=[watch("duet", "hook", id="cfg")], dests=[hook])
    await eventually(lambda: all(feed_server.hits(p) for p in ("/p", "/v")), what="first polls")
    feed_server.serve("/p", rss([item(STORY, published=ago(9)),
                                 item("Elton John and Dua Lipa record a duet for charity", published=ago(8))],
                                title="Pop Daily"))
    await eventually(lambda: len(fake.webhook_posts) == 2, what="the two stories' alerts")
    gaga, elton = sorted(fake.webhook_posts, key=lambda p: "Gaga" not in p.embed["title"])
    fake.delete(elton)
    feed_server.serve("/v", rss([item(REWORDED, published=ago(2)),
                                 item("Dua Lipa, Elton John record duet for charity", published=ago(1))],
                                title="Variety"))
    await eventually(lambda: fake.calls.count("PATCH webhook 700000000000000001") == 2, what="both edits")
    await asyncio.sleep(1.5)
    [edit] = fake.edits  # the story whose message is there was edited...
    assert edit.message_id == gaga.message_id
    assert fake.shown(gaga).embed["fields"][0]["value"] == "Also reported by Variety"
    assert len(fake.webhook_posts) == 2  # ...the deleted one was not, nor posted again


async def test_descriptions_replies_and_alert_buttons_speak_the_channels_language(world, fake, feed_server):
    """Slash command descriptions are localized for every Discord locale tipoff has a
    catalog for (names stay as they are); a manager whose Discord is in French sets the
    channel up, and its replies and alert buttons are French from then on."""
    w = await world()
    [group] = fake.synced[fake.guild_id]
    assert group["description_localizations"]["fr"] == "tipoff : alertes d'actualités pour ce salon"
    watch = next(o for o in group["options"] if o["name"] == "watch")
    assert watch["description_localizations"]["de"] == "hier benachrichtigen, wenn neue Einträge auf eine Regel passen"
    assert watch["description_localizations"]["es-ES"] == watch["description_localizations"]["es-419"]
    assert "en-US" not in watch["description_localizations"] and not watch.get("name_localizations")
    assert watch["options"][0]["description_localizations"]["fr"] == \
        'p. ex. "lady gaga" AND "britney spears" AND duet'
    url = feed_server.serve("/f", rss([item("old news", published=ago(60))]))
    await w.slash("add", {"url": url, "every": "1s"}, "ajouté sous f", locale="fr")
    await w.slash("watch", {"rule": '"lady gaga" duet'}, "Surveillance sous w", locale="fr")
    await w.slash("watches", None, "Veilles ici :", locale="de")  # the channel's language, not the member's
    await w.slash("watch", {"rule": "gaga"}, "Seuls les admins du chat peuvent utiliser /tipoff watch ici",
                  permissions=SEND_MESSAGES, locale="es-ES")
    feed_server.serve("/f", rss([item(STORY, published=ago(1)), item("old news", published=ago(60))]))
    await eventually(lambda: fake.posted_to(ALERTS), what="the alert")
    [posted] = fake.posted_to(ALERTS)
    assert posted.embed["title"] == STORY
    labels = [b["label"] for row in posted.body["components"] for b in row["components"]]
    assert labels == ["Mettre cette veille en sourdine 24 h", "Ne plus surveiller"]
