"""Telegram end to end: the real python-telegram-bot Application inside the real
service, against the fake Bot API and feeds served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from bot.config import Secret, TelegramSettings
from bot.service import run_service
from tests.factories import ago, as_worker, eventually, free_port, item, redis_prefix, rss, settings
from tests.fakes.telegram import TOKEN, FakeTelegram

GROUP, OTHER, ADMIN, MEMBER = -1001, -1002, 11, 22
STORY = "Lady Gaga and Britney Spears are preparing a duet"


class World:
    def __init__(self, tmp_path, fake, feed_server, **telegram):
        self.fake, self.feeds = fake, feed_server
        base = settings(tmp_path / "data", every=1.0, min_every=1.0)
        tg = TelegramSettings(token=Secret(TOKEN), base_url=fake.base_url, base_file_url=fake.base_file_url,
                              rate_global=1000, rate_chat=1000, rate_group_per_minute=100000, poll_timeout=1)
        self.settings = replace(base, telegram=replace(tg, **telegram))
        self.task: asyncio.Task | None = None

    async def start(self):
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(run_service(self.settings, self.stop_event))
        await eventually(lambda: "getUpdates" in self.fake.calls or (self.task.done() and self.task.result()),
                         what="the bot to start polling")
        return self

    async def stop(self):
        if self.task is not None and not self.task.done():
            self.stop_event.set()
            await asyncio.wait_for(self.task, 10)
        self.task = None

    async def command(self, chat, user, text, expect, **kw):
        before = len(self.fake.replies_to(chat))
        self.fake.user_says(chat, user, text, **kw)
        await eventually(lambda: len(self.fake.replies_to(chat)) > before, what=f"a reply to {text}")
        reply = self.fake.replies_to(chat)[before]
        assert expect in reply, reply
        return reply

    async def subscribe(self, chat, path="/f", user=ADMIN, rule='"lady gaga" duet', **kw):
        url = self.feeds.serve(path, rss([item("old news", published=ago(60))]))
        await self.command(chat, user, f"/add {url} every 1s", "Added", **kw)
        await self.command(chat, user, f"/watch {rule}", "Watching as", **kw)
        polls = len(self.feeds.hits(path))
        await eventually(lambda: len(self.feeds.hits(path)) > polls, what="the first poll of the new feed")
        return url


@pytest.fixture
async def fake():
    f = FakeTelegram()
    await f.start()
    f.chat(GROUP, "supergroup", admins={ADMIN})
    f.chat(OTHER, "supergroup", admins={ADMIN})
    yield f
    await f.stop()


@pytest.fixture
async def world(tmp_path, fake, feed_server):
    worlds = []

    async def make(**telegram):
        w = await World(tmp_path, fake, feed_server, **telegram).start()
        worlds.append(w)
        return w
    yield make
    for w in worlds:
        await w.stop()


async def test_admin_sets_up_and_exactly_one_alert_arrives(world, fake, feed_server):
    w = await world()
    assert {c["command"] for c in fake.commands} >= {"watch", "add", "help", "import", "export"}
    await w.subscribe(GROUP)
    feed_server.serve("/f", rss([item(STORY, published=ago(1), summary="A duet, says Lady Gaga."),
                                 item("old news", published=ago(60))]))
    await eventually(lambda: fake.alerts_to(GROUP), what="the alert")
    await asyncio.sleep(2.5)  # more poll cycles: nothing more arrives
    alerts = fake.alerts_to(GROUP)
    assert len(alerts) == 1
    text = alerts[0].text
    assert text.startswith(f"<b>{STORY}</b>") or f">{STORY}</a></b>" in text
    assert "A <b>duet</b>, says <b>Lady Gaga</b>." in text
    assert fake.rejected == []


async def test_a_member_who_is_not_admin_is_refused(world, fake):
    w = await world()
    await w.command(GROUP, MEMBER, "/watch gaga", "Only the chat's admins")
    await w.command(GROUP, MEMBER, "/watches", "No watches here yet")
    await w.command(GROUP, MEMBER, "/help", "/watch RULE")


async def test_private_chats_and_channels_manage_themselves(world, fake):
    fake.chat(501, "private")
    fake.chat(-1009, "channel")
    w = await world()
    await w.command(501, 501, "/watch gaga", "Watching as")
    await w.command(-1009, 0, "/watch gaga", "Watching as")


async def test_429_then_success_delivers_exactly_once(world, fake, feed_server):
    w = await world()
    await w.subscribe(GROUP)
    fake.fail_next(GROUP, 429, "Too Many Requests: retry after 1", retry_after=1)
    feed_server.serve("/f", rss([item(STORY, published=ago(1))]))
    await eventually(lambda: fake.alerts_to(GROUP), what="the alert after the flood wait")
    await asyncio.sleep(1.5)
    assert len(fake.alerts_to(GROUP)) == 1


async def test_a_burst_of_50_arrives_complete_and_in_order(world, fake, feed_server):
    w = await world()
    await w.subscribe(GROUP, rule="duet")
    burst = [item(f"duet number {i:02d}", published=ago(100 - i)) for i in range(50)]
    feed_server.serve("/f", rss(list(reversed(burst))))
    await eventually(lambda: len(fake.alerts_to(GROUP)) >= 50, timeout=30, what="50 alerts")
    titles = [s.text.split(">duet number ")[1][:2] for s in fake.alerts_to(GROUP)]
    assert titles == [f"{i:02d}" for i in range(50)]


async def test_alerts_to_one_chat_are_paced(world, fake, feed_server):
    w = await world(rate_chat=10.0)
    await w.subscribe(GROUP, rule="duet")
    feed_server.serve("/f", rss([item(f"duet {i}", published=ago(10 - i)) for i in range(5)]))
    await eventually(lambda: len(fake.alerts_to(GROUP)) == 5, what="5 paced alerts")
    times = [s.at for s in fake.alerts_to(GROUP)]
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.08  # 10/s, never bunched


async def test_a_long_flood_wait_in_one_chat_does_not_delay_another(world, fake, feed_server):
    w = await world()
    await w.subscribe(GROUP, path="/f")
    await w.subscribe(OTHER, path="/g")
    fake.fail_next(GROUP, 429, "Too Many Requests: retry after 36000", retry_after=36000)
    feed_server.serve("/f", rss([item(STORY, published=ago(1))]))
    feed_server.serve("/g", rss([item(STORY + " (too)", published=ago(1))]))
    await eventually(lambda: fake.alerts_to(OTHER), what="the other chat's alert")
    assert fake.alerts_to(GROUP) == []


async def test_a_watch_made_in_a_forum_topic_alerts_into_it(world, fake, feed_server):
    fake.chat(-1005, "supergroup", admins={ADMIN}, is_forum=True)
    w = await world()
    await w.subscribe(-1005, thread_id=7)
    await w.command(-1005, ADMIN, "/watches", '"lady gaga" duet', thread_id=7)
    await w.command(-1005, ADMIN, "/watches", "No watches here yet")  # the General topic has none
    feed_server.serve("/f", rss([item(STORY, published=ago(1))]))
    await eventually(lambda: fake.alerts_to(-1005), what="the topic alert")
    assert fake.alerts_to(-1005)[0].thread_id == 7


async def test_a_restart_delivers_nothing_again(world, fake, feed_server):
    w = await world()
    await w.subscribe(GROUP)
    feed_server.serve("/f", rss([item(STORY, published=ago(1))]))
    await eventually(lambda: fake.alerts_to(GROUP), what="the alert")
    await w.stop()
    polls = len(feed_server.hits("/f"))
    await w.start()
    await eventually(lambda: len(feed_server.hits("/f")) > polls + 1, what="polls after the restart")
    assert len(fake.alerts_to(GROUP)) == 1


async def test_a_bot_removed_from_the_chat_stops_delivery_there(world, fake, feed_server):
    w = await world()
    await w.subscribe(GROUP)
    fake.fail_next(GROUP, 403, "Forbidden: bot was kicked from the supergroup chat")
    feed_server.serve("/f", rss([item(STORY, published=ago(1))]))
    await eventually(lambda: "sendMessage" in fake.calls and not fake.failures[GROUP], what="the 403")
    await w.command(GROUP, ADMIN, "/status", "Delivery stopped: Telegram: Forbidden: bot was kicked")


async def test_a_group_upgraded_to_a_supergroup_gets_its_alerts_there(world, fake, feed_server):
    fake.chat(-100777, "supergroup", admins={ADMIN})
    w = await world()
    await w.subscribe(GROUP)
    fake.fail_next(GROUP, 400, "Bad Request: group chat was upgraded to a supergroup chat",
                   migrate_to_chat_id=-100777)
    feed_server.serve("/f", rss([item(STORY, published=ago(1))]))
    await eventually(lambda: fake.alerts_to(-100777), what="the alert in the new supergroup")
    await w.command(-100777, ADMIN, "/watches", '"lady gaga" duet')
    await w.command(-100777, ADMIN, "/feeds", "/f")


async def test_telegram_down_loses_nothing(world, fake, feed_server):
    w = await world()
    await w.subscribe(GROUP, rule="duet")
    fake.down = True
    feed_server.serve("/f", rss([item(f"duet {i}", published=ago(10 - i)) for i in range(3)]))
    await eventually(lambda: fake.calls.count("sendMessage") >= 1, what="a failed send")
    fake.down = False
    # backoff starts at 5 s; everything arrives, in order, once
    await eventually(lambda: len(fake.alerts_to(GROUP)) == 3, timeout=20, what="the alerts after the outage")
    assert [s.text.split("duet ")[1][0] for s in fake.alerts_to(GROUP)] == ["0", "1", "2"]


async def test_export_sends_a_document_and_import_reads_a_replied_file(world, fake, feed_server):
    w = await world()
    await w.subscribe(GROUP)
    await w.command(GROUP, ADMIN, "/export", "1 feeds and 1 watches")
    await eventually(lambda: fake.documents, what="the export document")
    chat, name, data = fake.documents[0]
    assert chat == GROUP and name.endswith(".opml") and b"lady gaga" in data
    await w.command(OTHER, ADMIN, "/import", "Added 1 feed,", reply_to_document=data)
    await w.command(OTHER, ADMIN, "/import", "Usage: /import")


async def test_unknown_commands_and_other_bots_commands(world, fake):
    w = await world()
    await w.command(GROUP, MEMBER, "/frobnicate", "I don't know /frobnicate")
    before = len(fake.replies_to(GROUP))
    fake.user_says(GROUP, MEMBER, "/start@some_other_bot")
    fake.user_says(GROUP, MEMBER, "just chatting")
    await w.command(GROUP, MEMBER, "/help@tipoff_test_bot", "/watch RULE")
    assert len(fake.replies_to(GROUP)) == before + 1


async def test_alert_buttons_mute_and_unwatch_for_admins_only(world, fake, feed_server):
    w = await world()
    await w.subscribe(GROUP)
    feed_server.serve("/f", rss([item(STORY, guid="s1", published=ago(1)), item("old news", published=ago(60))]))
    await eventually(lambda: fake.alerts_to(GROUP), what="the alert")
    alert = fake.alerts_to(GROUP)[0]
    [(mute, mute_data), (unwatch, unwatch_data)] = alert.buttons
    assert mute == "Mute this watch for 24 h" and mute_data.startswith("snooze:w") and mute_data.endswith(":24h")

    fake.user_presses(alert, MEMBER, mute_data)  # a member may not: told privately, nothing changes
    await eventually(lambda: fake.answers, what="the answer to the press")
    assert fake.answers[-1][1].startswith("Only the chat's admins") and fake.answers[-1][2] is True

    replies = len(fake.replies_to(GROUP))
    fake.user_presses(alert, ADMIN, mute_data)
    await eventually(lambda: len(fake.replies_to(GROUP)) > replies, what="the snooze confirmation")
    assert fake.replies_to(GROUP)[-1].startswith("Snoozed w")
    feed_server.serve("/f", rss([item(STORY + " again", guid="s2", published=ago(1)),
                                 item(STORY, guid="s1", published=ago(1))]))
    polls = len(feed_server.hits("/f"))
    await eventually(lambda: len(feed_server.hits("/f")) > polls + 1, what="two more polls")
    assert len(fake.alerts_to(GROUP)) == 1  # snoozed

    fake.user_presses(alert, ADMIN, unwatch_data)
    await eventually(lambda: fake.replies_to(GROUP)[-1].startswith("Stopped watching"), what="the unwatch")
    await w.command(GROUP, ADMIN, "/watches", "No watches here yet")


async def test_watch_in_a_chat_without_feeds_offers_google_news(world, fake, feed_server, monkeypatch):
    from bot.sources import news
    monkeypatch.setattr(news, "BASE", feed_server.serve("/news", rss([item("Gaga news")], title="Google News")))
    w = await world()
    await w.command(GROUP, ADMIN, '/watch "lady gaga" duet -rumor', "add Google News for \"lady gaga\" duet -rumor?")
    offer = fake.sent_to(GROUP)[-1]
    [(label, data)] = offer.buttons
    assert label == "Add Google News for this" and data.startswith("addnews:w")
    replies = len(fake.replies_to(GROUP))
    fake.user_presses(offer, ADMIN, data)
    await eventually(lambda: len(fake.replies_to(GROUP)) > replies, what="the news feed to be added")
    assert fake.replies_to(GROUP)[-1].startswith('Google News: "lady gaga" duet -rumor: Added Google News as f')
    await w.command(GROUP, ADMIN, "/feeds", "/news?q=%22lady+gaga%22+duet+-rumor")


async def test_with_several_workers_one_polls_and_another_takes_over(tmp_path, fake, feed_server, redis_url):
    """Two workers on one Redis, one bot token: only the elected one calls getUpdates
    (Telegram would answer 409 to the other), so each command is answered once; when
    it stops, the other takes over."""
    prefix = redis_prefix()
    worlds = []
    for n in (1, 2):
        w = World(tmp_path / f"w{n}", fake, feed_server)
        w.settings = as_worker(w.settings, redis_url, prefix, f"w{n}")
        worlds.append(await w.start())
    try:
        await asyncio.sleep(2.0)  # both running, several election rounds
        await worlds[0].command(GROUP, ADMIN, "/help", "/watch RULE")
        await asyncio.sleep(1.5)
        assert len(fake.replies_to(GROUP)) == 1  # answered once: one poller
        assert fake.conflicts == 0
        await worlds[0].stop()  # the poller leaves (its lock is released)
        await worlds[1].command(GROUP, ADMIN, "/watches", "No watches here yet")
    finally:
        for w in worlds:
            await w.stop()


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _start_by_webhook(w, fake, port, **extra):
    from bot.config import HttpSettings

    w.settings = replace(w.settings, http=HttpSettings(listen=("127.0.0.1", port)), **extra)
    w.stop_event = asyncio.Event()
    w.task = asyncio.create_task(run_service(w.settings, w.stop_event))
    await eventually(lambda: fake.webhook is not None or w.task.done(), what="setWebhook")
    if w.task.done():
        w.task.result()
    return w


async def test_webhook_mode_takes_updates_by_webhook_and_refuses_forgeries(tmp_path, fake, feed_server):
    """With [telegram] webhook, tipoff registers its [http] endpoint with a secret token
    and never polls; Telegram's POSTs are handled like polled updates. A request without
    the secret is refused and ignored, a body that is no update is a 400."""
    import aiohttp

    port = _free_port()
    w = await _start_by_webhook(World(tmp_path, fake, feed_server, webhook=f"http://127.0.0.1:{port}"), fake, port)
    try:
        hook = fake.webhook
        assert hook["url"].startswith(f"http://127.0.0.1:{port}/telegram/") and len(hook["secret_token"]) >= 32
        assert hook["allowed_updates"] == ["message", "channel_post", "callback_query"]
        await w.command(GROUP, ADMIN, "/help", "/watch RULE")
        url = await w.subscribe(GROUP)
        assert url and set(fake.webhook_answers) == {200}
        assert "getUpdates" not in fake.calls
        update = {"update_id": 999, "message": {"message_id": 1, "date": int(time.time()),
                                                "chat": fake.chats[GROUP].json(), "text": "/help",
                                                "from": {"id": ADMIN, "is_bot": False, "first_name": "x"},
                                                "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
        replies = len(fake.replies_to(GROUP))
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
                async with session.post(hook["url"], json=update, headers=headers) as answer:
                    assert answer.status == 403
            right = {"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]}
            for junk in (b"{not json", b"[]", b"null", b'{"update_id": 1, "message": 5}', b'{"update_id": "a"}'):
                async with session.post(hook["url"], data=junk, headers=right) as answer:
                    assert answer.status == 400, junk
            async with session.post(f"http://127.0.0.1:{port}/telegram/0000", json=update, headers=right) as answer:
                assert answer.status == 404  # another bot's path
        await asyncio.sleep(0.5)
        assert len(fake.replies_to(GROUP)) == replies  # the forgeries did nothing
    finally:
        await w.stop()


async def test_webhook_mode_with_several_workers_needs_no_election(tmp_path, fake, feed_server, redis_url):
    """Behind one public URL (here: the first worker's port) every worker may take
    updates: none polls, so there is no poller to elect and no 409."""
    prefix = redis_prefix()
    public = _free_port()
    worlds = []
    try:
        for n, port in ((1, public), (2, _free_port())):
            w = World(tmp_path / f"w{n}", fake, feed_server, webhook=f"http://127.0.0.1:{public}")
            w.settings = as_worker(w.settings, redis_url, prefix, f"w{n}")
            worlds.append(await _start_by_webhook(w, fake, port))
        await worlds[0].command(GROUP, ADMIN, "/help", "/watch RULE")
        await asyncio.sleep(1.5)
        assert len(fake.replies_to(GROUP)) == 1 and fake.conflicts == 0 and "getUpdates" not in fake.calls
    finally:
        for w in worlds:
            await w.stop()


async def test_going_back_to_polling_deletes_the_webhook(tmp_path, fake, feed_server):
    port = _free_port()
    w = await _start_by_webhook(World(tmp_path / "hook", fake, feed_server, webhook=f"http://127.0.0.1:{port}"),
                                fake, port)
    await w.stop()
    assert fake.webhook is not None  # left in place: other workers may still serve it
    polling = await World(tmp_path / "poll", fake, feed_server).start()
    try:
        assert fake.webhook is None
        await polling.command(GROUP, ADMIN, "/help", "/watch RULE")
    finally:
        await polling.stop()


async def test_a_slow_command_in_one_chat_does_not_hold_up_another(world, fake, feed_server):
    """Updates are handled per chat: three /test of a slow address in one group, then
    /help in another; the other group's answer comes first (before, every chat waited
    for the slow fetches, one after another)."""
    w = await world()
    slow = feed_server.serve("/slow", rss([item("Lady Gaga duet")]), delay=1.5)
    await w.command(GROUP, ADMIN, "/watch duet", "Watching as")
    for _ in range(3):
        fake.user_says(GROUP, MEMBER, f"/test {slow}")
    await asyncio.sleep(0.3)
    fake.user_says(OTHER, MEMBER, "/help")
    await eventually(lambda: len(fake.replies_to(GROUP)) == 4, timeout=30, what="the three slow answers")
    first_slow = [s.at for s in fake.sent_to(GROUP)][1]
    [help_reply] = [s for s in fake.sent_to(OTHER)]
    assert "/watch" in help_reply.text
    assert help_reply.at < first_slow


REWORDED = "Britney Spears and Lady Gaga preparing a duet"


async def two_outlets(w, feed_server):
    """GROUP watches two outlets' feeds; the first breaks the story: its alert."""
    await w.subscribe(GROUP)
    other = feed_server.serve("/g", rss([item("old news", published=ago(60))], title="Variety"))
    await w.command(GROUP, ADMIN, f"/add {other} every 1s", "Added")
    polls = len(feed_server.hits("/g"))
    await eventually(lambda: len(feed_server.hits("/g")) > polls, what="the first poll of the second feed")
    feed_server.serve("/f", rss([item(STORY, published=ago(2), link="https://popdaily.example/1")], title="Pop Daily"))
    await eventually(lambda: w.fake.alerts_to(GROUP), what="the alert")


def reword(feed_server):
    feed_server.serve("/g", rss([item(REWORDED, published=ago(1), link="https://variety.example/1")], title="Variety"))


async def test_another_outlet_edits_the_alert_silently_instead_of_alerting_again(world, fake, feed_server):
    w = await world()
    await two_outlets(w, feed_server)
    reword(feed_server)
    await eventually(lambda: fake.edits, what="the edit")
    await asyncio.sleep(2)  # more polls: no second alert
    [alert] = fake.alerts_to(GROUP)
    [edit] = fake.edits
    assert edit.message_id == alert.message_id and edit.chat_id == GROUP
    assert "Also reported by Variety" in fake.shown(alert) and alert.text.split("\n")[0] in edit.text
    assert edit.buttons == alert.buttons  # the mute and unwatch buttons stay under it
    assert fake.rejected == []


async def test_an_alert_deleted_in_the_chat_is_neither_edited_nor_sent_again(world, fake, feed_server):
    w = await world()
    await two_outlets(w, feed_server)
    fake.delete(fake.alerts_to(GROUP)[0])
    reword(feed_server)
    await eventually(lambda: "editMessageText" in fake.calls, what="the edit attempt")
    await asyncio.sleep(2)
    assert fake.edits == [] and len(fake.alerts_to(GROUP)) == 1
    assert fake.calls.count("editMessageText") == 1  # dropped, not retried


async def test_after_a_restart_the_update_edits_the_alert_sent_before_it(world, fake, feed_server):
    w = await world()
    await two_outlets(w, feed_server)
    await w.stop()
    await w.start()
    reword(feed_server)
    await eventually(lambda: fake.edits, what="the edit")
    [alert] = fake.alerts_to(GROUP)
    assert fake.edits[0].message_id == alert.message_id and "Also reported by Variety" in fake.shown(alert)


async def test_a_dashboard_link_asked_for_in_a_group_goes_to_the_admin_privately(tmp_path, fake, feed_server):
    w = World(tmp_path, fake, feed_server)
    w.settings = replace(w.settings, http=replace(w.settings.http, listen=("127.0.0.1", free_port())))
    await w.start()
    try:
        await w.command(GROUP, ADMIN, "/dashboard", "open a chat with @tipoff_test_bot, press Start")
        assert not any("/signin?t=" in t for t in fake.replies_to(GROUP))
        fake.chat(ADMIN, "private")  # the admin started the bot
        await w.command(GROUP, ADMIN, "/dashboard", "I sent you the sign-in link in a private message.")
        [dm] = [s.text for s in fake.sent_to(ADMIN)]
        assert "/signin?t=" in dm and "this chat's dashboard" in dm
        assert not any("/signin?t=" in t for t in fake.replies_to(GROUP))
        await w.command(GROUP, MEMBER, "/dashboard", "Only the chat's admins")
    finally:
        await w.stop()


async def test_the_chat_is_answered_and_alerted_in_the_language_it_was_set_up_in(world, fake, feed_server):
    """An admin whose Telegram is in German sets the group up: replies, errors, alert
    buttons and button answers are German from then on, whoever asks; the feed's own
    text is left as it is; the command menu exists in every language tipoff speaks."""
    w = await world()
    assert set(fake.menus) == {"", "de", "es", "fr"}
    assert [c["command"] for c in fake.menus["de"]] == [c["command"] for c in fake.commands]
    described = {c["command"]: c["description"] for c in fake.menus["de"]}
    assert described["watch"] == "hier benachrichtigen, wenn neue Einträge auf eine Regel passen"
    url = feed_server.serve("/f", rss([item("old news", published=ago(60))]))
    await w.command(GROUP, ADMIN, f"/add {url} every 1s", "als f", language="de")
    await w.command(GROUP, ADMIN, '/watch "lady gaga" duet', "Beobachte als", language="de")
    await w.command(GROUP, MEMBER, "/watches", "Watches hier:", language="fr")  # the chat's language, not the asker's
    await w.command(GROUP, MEMBER, "/watch gaga", "Nur die Admins des Chats können hier /watch verwenden",
                    language="fr")
    await w.command(GROUP, ADMIN, '/watch "gaga', "nicht geschlossenes Anführungszeichen in Spalte 1", language="de")
    feed_server.serve("/f", rss([item(STORY, published=ago(1), summary="A duet, says Lady Gaga."),
                                 item("old news", published=ago(60))]))
    await eventually(lambda: fake.alerts_to(GROUP), what="the alert")
    alert = fake.alerts_to(GROUP)[0]
    assert STORY in alert.text and "A <b>duet</b>, says <b>Lady Gaga</b>." in alert.text  # the feed's words
    labels = [label for label, _data in alert.buttons]
    assert labels == ["Diese Watch 24 h stummschalten", "Nicht mehr beobachten"]
    fake.user_presses(alert, MEMBER, alert.buttons[0][1], language="es")
    await eventually(lambda: fake.answers, what="the answer to the press")
    assert fake.answers[-1][1].startswith("Nur die Admins des Chats können hier /snooze verwenden")
    await w.command(GROUP, ADMIN, "/language es", "A partir de ahora respondo aquí en Español.", language="de")
    await w.command(GROUP, MEMBER, "/help", "tipoff vigila feeds de noticias", language="de")
