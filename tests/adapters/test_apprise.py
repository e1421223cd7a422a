"""Apprise destinations end to end: the real engine, store and outbox, alerts sent by
Apprise to services on 127.0.0.1: json:// and form:// to a local HTTP server, mailto://
to a local SMTP server (aiosmtpd) whose message is read back (subject, link, matched
terms, HTML and text parts); a service that fails is retried until it takes the alert,
once; a story's update is a short follow-up; the URL's secrets never reach the log."""

from __future__ import annotations

import email
import logging

import pytest
from aiohttp import web

from bot.adapters.apprise import AppriseAdapter
from bot.config import ConfigError, load_settings
from bot.model import Destination, DestinationName
from tests.factories import free_port, feed, item, rss, watch

DUET = "Lady Gaga and Britney Spears are preparing a duet"


async def world(harness, feed_server, url: str, **options):
    urls = [feed_server.serve(f"/o{i}", rss([], title=t)) for i, t in enumerate(("Pop Daily", "Variety"))]
    dest = Destination(DestinationName("mail"), "apprise", (("url", url), *options.items()))
    adapter = AppriseAdapter(timeout=10)
    h = await harness([feed(u) for u in urls], [watch('"lady gaga" duet', "mail")], destinations=[dest],
                      adapters={"apprise": adapter})
    await h.cycle()
    return h


def news(feed_server, i: int, outlet: str, title: str):
    feed_server.serve(f"/o{i}", rss([item(title, link=f"https://{outlet.lower().replace(' ', '')}.example/1",
                                          summary="Lady Gaga says the duet is coming.")], title=outlet))


async def test_json_service_gets_the_alert_then_a_follow_up_and_a_failure_is_retried(harness, feed_server, caplog):
    received, answers = [], [500]

    async def hook(request):
        received.append(await request.json())
        return web.Response(status=answers.pop(0) if answers else 200)
    url = feed_server.serve("/hook", hook).replace("http://", "json://user:very-secret@")
    h = await world(harness, feed_server, url)
    news(feed_server, 0, "Pop Daily", DUET)
    with caplog.at_level(logging.DEBUG):
        await h.cycle()  # the service answers 500: the alert waits in the outbox
        assert len(received) == 1 and len(h.engine.store.pending("mail")) == 1
        h.clock.advance(3600)
        await h.deliver()  # retried: taken, once
        assert len(received) == 2 and h.engine.store.pending("mail") == []
        news(feed_server, 1, "Variety", "Britney Spears and Lady Gaga preparing a duet")
        await h.cycle()
    alert, update = received[1], received[2]
    assert alert["title"] == DUET and "https://popdaily.example/1" in alert["message"]
    assert "matched: <b>lady gaga, duet</b>" in alert["message"] and "<b>Lady Gaga</b>" in alert["message"]
    assert update["title"] == f"Update: {DUET}" and "Also reported by Variety" in update["message"]
    assert len(received) == 3  # the rewording was no second alert
    assert "very-secret" not in caplog.text


async def test_a_destination_given_a_language_gets_tipoffs_words_in_it(harness, feed_server):
    """`language = "de"` on an operator's destination: the words around the feed's text
    (matched terms, other outlets, the follow-up's title) are German; the feed's own
    text is not translated."""
    received = []

    async def hook(request):
        received.append(await request.json())
        return web.Response(status=200)
    url = feed_server.serve("/hook", hook).replace("http://", "json://")
    h = await world(harness, feed_server, url, language="de")
    news(feed_server, 0, "Pop Daily", DUET)
    await h.cycle()
    news(feed_server, 1, "Variety", "Britney Spears and Lady Gaga preparing a duet")
    await h.cycle()
    alert, update = received
    assert alert["title"] == DUET and "Lady Gaga says the duet is coming." not in alert["message"]  # bolded terms
    assert "passte auf: <b>lady gaga, duet</b>" in alert["message"] and "matched" not in alert["message"]
    assert update["title"] == f"Update: {DUET}" and "Auch gemeldet von Variety" in update["message"]


async def test_form_service(harness, feed_server):
    received = []

    async def hook(request):
        received.append(dict(await request.post()))
        return web.Response(status=200)
    h = await world(harness, feed_server, feed_server.serve("/form", hook).replace("http://", "form://"))
    news(feed_server, 0, "Pop Daily", DUET)
    await h.cycle()
    [sent] = received
    assert sent["title"] == DUET and "popdaily.example/1" in sent["message"]


async def test_email_has_subject_link_matched_terms_and_both_parts(harness, feed_server):
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    messages = []

    class Inbox:
        async def handle_DATA(self, server, session, envelope):
            messages.append(envelope)
            return "250 OK"
    port = free_port()
    controller = aiosmtpd.Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        h = await world(harness, feed_server, f"mailto://127.0.0.1:{port}?mode=insecure&from=tipoff@example.org"
                                              "&to=fans@example.org")
        news(feed_server, 0, "Pop Daily", DUET)
        await h.cycle()
    finally:
        controller.stop()
    [envelope] = messages
    assert envelope.rcpt_tos == ["fans@example.org"]
    message = email.message_from_bytes(envelope.content)
    assert message["Subject"] == DUET
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in message.walk()
             if not p.is_multipart()}
    assert "https://popdaily.example/1" in parts["text/plain"] and "matched: lady gaga, duet" in parts["text/plain"]
    assert '<a href="https://popdaily.example/1">' in parts["text/html"] and "<b>duet</b>" in parts["text/html"]


def test_an_apprise_url_apprise_does_not_know_is_refused_at_load(tmp_path):
    from pathlib import Path
    with pytest.raises(ConfigError, match="is not an Apprise URL"):
        load_settings(Path("t.toml"), text='[destinations.x]\nkind = "apprise"\nurl = "nonsense://x"\n', env={})
    with pytest.raises(ConfigError, match="MAIL_URL is not set"):
        load_settings(Path("t.toml"), text='[destinations.x]\nkind = "apprise"\nurl_env = "MAIL_URL"\n', env={})
    ok = load_settings(Path("t.toml"), text='[destinations.x]\nkind = "apprise"\nurl_env = "MAIL_URL"\n',
                       env={"MAIL_URL": "ntfy://ntfy.example/tipoff"})
    assert ok.destinations[DestinationName("x")].option("url") == "ntfy://ntfy.example/tipoff"
