"""The dashboard in a real browser (headless chromium through selenium) against the
real engine, store, commands and HTTP server on 127.0.0.1, with feeds served locally:
sign-in by one-time link, used and expired links refused, CSRF, one chat kept out of
another's, the live rule tester, and a watch added in the browser that then alerts."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import aiohttp
import pytest

from bot import destinations
from bot.commands import Commands
from bot.config import HttpSettings
from bot.dashboard import access
from bot.dashboard.app import COOKIE, Dashboard, sign_in_link
from bot.dashboard.keys import file_secret
from bot.engine import Engine
from bot.feeds.fetch import Fetcher
from bot.store.tinydb import TinyDBStore
from bot.web import WebServer
from tests.dashboard.browser import Browser, require_browser
from bot.adapters.base import Delivered
from tests.factories import ago, feed, free_port, item, rss, settings
from tests.fakes.recording import RecordingAdapter

FANS = destinations.telegram(-1001234567890)
OTHERS = destinations.telegram(-1002)
DUET = "Lady Gaga and Britney Spears are preparing a duet, sources say"


def slug(title: str) -> str:
    return "-".join(title.lower().split()[:4]).strip(",")


class Site:
    """One tipoff with its dashboard served, and a chat's way of saying commands."""

    def __init__(self, tmp_path, feed_server):
        self.feed_server = feed_server
        self.url = feed_server.serve("/shared", rss([item("old news", published=ago(60))], title="Pop Daily"))
        base = settings(tmp_path / "data", [feed(self.url)])
        self.settings = replace(base, http=HttpSettings(("127.0.0.1", free_port())))

    async def start(self):
        self.store = TinyDBStore(self.settings.data_dir)
        await self.store.open()
        self.fetcher = Fetcher(self.settings.fetch)
        self.adapter = RecordingAdapter()  # Telegram's part: it records what it is sent
        self.engine = Engine(self.settings, self.store, self.fetcher, {"telegram": self.adapter})
        self.commands = Commands(self.settings, self.store, self.engine, self.fetcher)
        self.secret = file_secret(self.settings.data_dir)
        dashboard = Dashboard(self.settings, self.engine, self.store, self.commands, self.secret)
        self.web = WebServer(*self.settings.http.listen, self.engine, self.store, dashboard=dashboard)
        await self.web.start()
        await self.engine.poll_cycle(self.engine.feeds)  # the first poll: what is there is known
        return self

    async def stop(self):
        await self.web.close()
        await self.fetcher.close()
        await self.store.close()

    @property
    def base(self) -> str:
        return self.settings.http.base_url

    def link(self, scope: str) -> str:
        return sign_in_link(self.settings, self.secret, scope, time.time())

    async def say(self, dest, text):
        from tests.test_commands import invocation
        name, _, args = text[1:].partition(" ")
        return (await self.commands.run(invocation(dest=dest), name, args)).text

    async def news(self, *titles: str, deliver: bool = False):
        self.feed_server.serve("/shared", rss([item(t, published=ago(5 - i), link=f"https://pop.example/{slug(t)}")
                                               for i, t in enumerate(titles)]
                                              + [item("old news", published=ago(60))], title="Pop Daily"))
        await self.engine.poll_cycle(self.engine.feeds)
        if deliver:
            await self.engine.delivery.settle()
            await self.store.flush()


@pytest.fixture
async def site(tmp_path, feed_server):
    s = await Site(tmp_path, feed_server).start()
    yield s
    await s.stop()


@pytest.fixture(scope="module")
def browser():
    require_browser()
    b = Browser()
    yield b
    b.close()


@pytest.fixture(autouse=True)
def fresh_cookies(request):
    if "browser" in request.fixturenames:
        request.getfixturevalue("browser").driver.delete_all_cookies()


async def test_a_link_signs_in_once_and_an_expired_one_never(site, browser):
    link = site.link(FANS.name)
    overview = await browser.get(link)
    assert "Overview" in overview and FANS.name in overview and "Every feed answers" in overview
    assert "Pop Daily" in await browser.get(site.base + "/feeds")
    await browser.screenshot("feeds")
    await browser.get(site.base + "/")
    cookie = (await browser.cookies())[COOKIE]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["secure"] is False
    await browser.screenshot("overview")
    browser.driver.delete_all_cookies()
    again = await browser.get(link)  # the same link a second time
    assert "This link does not sign you in" in again and "used already" in again
    assert "Sign in" in await browser.get(site.base + "/watches")  # and no session came of it
    old = access.issue(site.secret, "link", FANS.name, time.time() - 3600, access.LINK_LIFE)
    assert "This link does not sign you in" in await browser.get(f"{site.base}/signin?t={old}")
    forged = site.link(FANS.name)[:-4] + "AAAA"
    assert "This link does not sign you in" in await browser.get(forged)
    await browser.screenshot("refused")


async def test_a_watch_added_in_the_browser_alerts_and_the_tester_answers_as_you_type(site, browser):
    await site.news("Madonna announces a world tour")  # something recent for the tester
    await browser.get(site.link(FANS.name))
    await browser.get(site.base + "/watches")
    await browser.type("#rule", "madonna")
    shown = await browser.wait_for_text("#tester-results", "Would have alerted 1 time")
    assert "Madonna announces a world tour" in shown and "matched madonna" in shown
    await browser.type("#rule", '"lady gaga')
    assert "unclosed quote" in await browser.wait_for_text("#tester-results", "column")
    await browser.screenshot("tester")
    await browser.type("#rule", '"lady gaga" AND duet')
    await browser.type("#label", "Gaga duet")
    listing = await browser.submit("form[action='/watches/add'] button[type=submit]")
    assert '"lady gaga" AND duet' in listing and "label: Gaga duet" in listing
    await browser.screenshot("watches")
    [watch] = site.store.watches(FANS.name)
    assert watch.rule == '"lady gaga" AND duet' and watch.label == "Gaga duet"
    await site.news(DUET)
    [waiting] = site.store.pending(FANS.name)  # the watch made in the browser fired
    assert waiting.message.alert.entry.title == DUET and waiting.message.alert.watches[0].watch_id == watch.id


async def test_a_bad_rule_keeps_what_was_typed_and_says_where(site, browser):
    await browser.get(site.link(FANS.name))
    await browser.get(site.base + "/watches")
    await browser.type("#rule", "gaga AND (duet")
    page = await browser.submit("form[action='/watches/add'] button[type=submit]")
    assert "I can't use that rule" in page
    value = browser.driver.find_element("css selector", "#rule").get_attribute("value")
    assert value == "gaga AND (duet" and site.store.watches(FANS.name) == []


async def test_one_chats_session_never_reads_or_changes_anothers(site, browser):
    said = await site.say(FANS, "/watch secret fan project")
    wid = said.split()[2].rstrip(":")
    await browser.get(site.link(OTHERS.name))
    watches = await browser.get(site.base + "/watches")
    assert "secret fan project" not in watches and wid not in watches
    # a delete of the other chat's watch, posted with this session's own CSRF token
    session = (await browser.cookies())[COOKIE]["value"]
    grant = access.check(site.secret, session, "session", time.time())
    token = access.csrf_token(site.secret, grant.id)
    async with aiohttp.ClientSession(cookies={COOKIE: session}) as http:
        async with http.post(site.base + "/watches/delete", data={"csrf": token, "id": wid}) as resp:
            assert resp.status == 400 and "There is no watch" in await resp.text()
    assert [w.id for w in site.store.watches(FANS.name)] == [wid]


async def test_forms_without_their_csrf_token_and_requests_without_a_session_are_refused(site):
    link = site.link(FANS.name)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # keeps 127.0.0.1's
        async with http.get(site.base + "/watches") as resp:
            assert resp.status == 401 and "Sign in" in await resp.text()
        async with http.get(link, allow_redirects=False) as resp:
            assert resp.status == 303
        async with http.get(site.base + "/watches") as resp:
            assert resp.status == 200 and 'name="csrf"' in await resp.text()
        async with http.post(site.base + "/watches/add", data={"rule": "gaga"}) as resp:
            assert resp.status == 403
        async with http.post(site.base + "/watches/add", data={"rule": "gaga", "csrf": "forged"}) as resp:
            assert resp.status == 403
        assert site.store.watches(FANS.name) == []
        async with http.post(site.base + "/signout", data={}) as resp:
            assert resp.status == 403  # signing out is a form too
        async with http.get(site.base + "/watches") as resp:
            page = await resp.text()
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        async with http.post(site.base + "/signout", data={"csrf": csrf}) as resp:
            assert resp.status == 200 and "signed out" in await resp.text()
        async with http.get(site.base + "/watches") as resp:
            assert resp.status == 401  # the session is over, even if its cookie were kept


async def test_the_operator_sees_every_chat_and_the_link_command_answers_in_chats(site, browser):
    await site.say(FANS, "/watch duet")
    await site.say(OTHERS, "/watch tour")
    await browser.get(site.link(access.OPERATOR))
    watches = await browser.get(site.base + "/watches")
    assert "duet" in watches and "tour" in watches and FANS.name in watches and OTHERS.name in watches
    assert "Sign in" not in watches
    reply = await site.say(FANS, "/dashboard")
    assert "The dashboard is off here" in reply  # no [http] listen behind this Commands
    site.commands.dashboard_link = lambda scope, now: sign_in_link(site.settings, site.secret, scope, now)
    link = (await site.say(destinations.telegram(-1001234567890, 7), "/dashboard")).splitlines()[-1]
    browser.driver.delete_all_cookies()
    overview = await browser.get(link)
    assert FANS.name in overview and "Overview" in overview  # a topic's link opens its chat's dashboard


def test_dashboard_link_prints_a_one_time_link_for_the_operator_or_one_chat(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "t.toml"
    config.write_text('[http]\nlisten = "127.0.0.1:8787"\npublic_url = "https://tipoff.example.org"\n')

    def link(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "dashboard-link", "--config", str(config), "--data",
                               str(tmp_path / "d"), *args], capture_output=True, text=True, timeout=60)
    operator, chat = link(), link("--chat", "telegram:-1001/7")
    assert operator.returncode == chat.returncode == 0, operator.stderr + chat.stderr
    secret = file_secret(tmp_path / "d")  # what tipoff run on that data directory checks links with
    for result, scope in ((operator, access.OPERATOR), (chat, "telegram:-1001")):
        url = result.stdout.strip().splitlines()[-1]
        assert url.startswith("https://tipoff.example.org/signin?t=")
        grant = access.check(secret, url.split("?t=")[1], "link", time.time())
        assert grant is not None and grant.scope == scope and grant.expires <= time.time() + 15 * 60 + 1
    assert oct((tmp_path / "d" / "dashboard.key").stat().st_mode)[-3:] == "600"
    config.write_text("")
    off = link()
    assert off.returncode == 2 and "[http] listen" in off.stderr


async def test_the_alert_history_and_why_for_a_matched_a_repeated_and_an_unmatched_entry(site, browser):
    wid = (await site.say(FANS, '/watch "lady gaga" duet')).split()[2].rstrip(":")
    site.adapter.script = [Delivered("4242")]
    await site.news(DUET, deliver=True)  # sent: Telegram gave it message 4242
    await site.news("Britney Spears and Lady Gaga preparing a duet, say sources", "Madonna announces a world tour",
                    deliver=True)
    await browser.get(site.link(FANS.name))
    overview = await browser.get(site.base + "/")
    assert "1 alert from" in overview and f"{wid} " in overview and "· 1 alert" in overview  # charted by watch
    await browser.screenshot("overview-chart")
    history = await browser.get(site.base + "/alerts")
    assert DUET in history and "sent" in history and "Madonna" not in history
    link = browser.driver.find_element("link text", "the message").get_attribute("href")
    assert link == "https://t.me/c/1234567890/4242"  # the message in the chat
    await browser.screenshot("alerts")
    assert "No alerts match" in await browser.get(site.base + "/alerts?q=madonna")
    assert DUET in await browser.get(f"{site.base}/alerts?watch={wid}")
    assert "No alerts match" in await browser.get(f"{site.base}/alerts?date=2001-01-01")

    await browser.get(site.base + "/why")
    await browser.type("#url", f"https://pop.example/{slug(DUET)}")
    matched = await browser.submit("form[action='/why'] button[type=submit]")
    assert f"✓ {wid}" in matched and "Here: alerted here (sent)." in matched
    await browser.screenshot("why")
    repeated = await browser.get(f"{site.base}/why?url=https://pop.example/{slug('Britney Spears and Lady Gaga')}")
    assert f"a rewording of “{DUET}”, a story already told here" in repeated
    unmatched = await browser.get(f"{site.base}/why?url=https://pop.example/{slug('Madonna announces a world')}")
    assert f"✗ {wid}" in unmatched and "missing" in unmatched and "Here: no alert" in unmatched


async def test_a_watchs_settings_and_the_chats_quiet_hours_are_set_in_the_browser(site, browser):
    wid = (await site.say(FANS, "/watch duet")).split()[2].rstrip(":")
    await browser.get(site.link(FANS.name))
    await browser.get(site.base + "/watches")

    async def setting(what: str, value: str) -> str:
        await asyncio.to_thread(lambda: browser.driver.find_element("css selector", "td details summary").click())
        await browser.type(f"#{what}-{wid}", value)
        return await browser.submit(f"form[action='/watches/settings']:has(#{what}-{wid}) button")

    assert "Snoozed" in await setting("snooze", "8h")
    assert site.engine.watching(wid).snoozed_until > time.time() + 7 * 3600
    assert "alerts now say: Duet news" in await setting("label", "Duet news")
    assert "now alerts once 3 outlets within 2 h" in await setting("spread", "3 2h")
    assert "not a duration" in await setting("snooze", "forever")  # the command's own check, its words
    changed = await setting("rule", '"lady gaga" duet')
    [watch] = site.store.watches(FANS.name)
    assert f"The rule of {wid} is now" in changed and watch.id in changed
    assert watch.rule == '"lady gaga" duet' and watch.label == "Duet news" and watch.id != wid
    await browser.screenshot("watch-settings")
    await asyncio.to_thread(lambda: browser.driver.find_element("css selector", "details.card summary").click())
    await browser.type("#chat-quiet", "23:00-07:00 Europe/Berlin")
    said = await browser.submit("form[action='/chat/settings']:has(#chat-quiet) button")
    assert "Quiet hours 23:00-07:00 Europe/Berlin" in said
    assert site.store.destination_state(FANS.name).quiet == "23:00-07:00 Europe/Berlin"


async def test_opml_import_and_export_on_the_feeds_page(site, browser, tmp_path, feed_server):
    first = feed_server.serve("/one", rss([item("old news", published=ago(60))], title="One"))
    second = feed_server.serve("/two", rss([item("old news", published=ago(60))], title="Two"))
    opml = tmp_path / "mine.opml"
    opml.write_text(f'<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>'
                    f'<outline type="rss" text="One" xmlUrl="{first}"/><outline type="rss" text="Two" '
                    f'xmlUrl="{second}"/></body></opml>')
    await browser.get(site.link(FANS.name))
    await browser.get(site.base + "/feeds")
    await asyncio.to_thread(lambda: browser.driver.find_element("css selector", "#opml").send_keys(str(opml)))
    said = await browser.submit("form[action='/feeds/import'] button")
    assert "Added 2" in said, said
    assert {s.url for s in site.store.subscriptions(FANS.name)} == {first, second}
    await browser.screenshot("feeds-imported")
    session = (await browser.cookies())[COOKIE]["value"]
    async with aiohttp.ClientSession(cookies={COOKIE: session}) as http:
        async with http.get(site.base + "/feeds/export") as resp:
            body = await resp.text()
            assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    assert first in body and second in body


async def test_the_operators_overview_shows_the_workers_of_a_redis_store(site, redis_url):
    from bot.store.redis import RedisStore
    from tests.factories import redis_prefix

    prefix = redis_prefix()
    store = RedisStore(redis_url, prefix=prefix, consumer="worker-a")
    await store.open()
    try:
        await store.claim_due(list(site.engine.feeds), time.time())  # worker-a polls: it is seen
        settings = replace(site.settings, store_url=redis_url, store_prefix=prefix)
        dashboard = Dashboard(settings, site.engine, store, site.commands, site.secret)
        operator = access.Grant("session", access.OPERATOR, "s1", time.time() + 60)
        lines = await dashboard._workers(operator)
        assert lines is not None and any("worker-a" in line for line in lines) and "feeds polled" in lines[1]
        assert await dashboard._workers(access.Grant("session", FANS.name, "s2", time.time() + 60)) is None
    finally:
        await store.close()


async def test_a_discord_watchs_role_mention_is_set_on_the_page(site):
    channel = destinations.discord(800000000000000010)
    wid = (await site.say(channel, "/watch duet")).split()[2].rstrip(":")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(site.link(channel.name)) as resp:
            assert resp.status == 200  # signed in
        async with http.get(site.base + "/watches") as resp:
            page = await resp.text()
        assert 'id="mention-' in page  # a Discord channel's watches offer it
        csrf = page.split('name="csrf" value="')[1].split('"')[0]

        async def mention(value: str) -> str:
            async with http.post(site.base + "/watches/settings",
                                 data={"csrf": csrf, "id": wid, "what": "mention", "value": value}) as resp:
                return await resp.text()
        assert "not a role&#x27;s id" in await mention("@fans")
        assert f"{wid} alerts mention &lt;@&amp;800000000000000020&gt; now." in await mention("800000000000000020")
        assert site.engine.watching(wid).mention == "800000000000000020"
        assert "mention nobody now" in await mention("off")
        assert site.store.watches(channel.name)[0].mention == ""


async def test_a_link_printed_beside_a_running_tipoff_signs_in_to_it(tmp_path, feed_server):
    """Real processes: `tipoff run` serving the dashboard, and `tipoff dashboard-link` on
    the same data directory printing the link it accepts."""
    import sys

    from tests.factories import eventually
    from tests.test_secrets import stopped, tipoff_run

    port = free_port()
    url = feed_server.serve("/f", rss([item("old news", published=ago(60))], title="Pop Daily"))
    config = tmp_path / "t.toml"
    config.write_text(f'[http]\nlisten = "127.0.0.1:{port}"\n[[feeds]]\nurl = "{url}"\nevery = "1m"\n'
                      '[[watches]]\nrule = "duet"\n')
    proc = await tipoff_run(config, tmp_path / "d")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async def up() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False
            deadline = time.monotonic() + 30
            while not await up():
                assert time.monotonic() < deadline and proc.returncode is None, "tipoff run never served"
                await asyncio.sleep(0.2)
            printer = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "dashboard-link", "--config", str(config), "--data", str(tmp_path / "d"),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(printer.communicate(), 60)
            assert printer.returncode == 0, err.decode()
            link = out.decode().strip().splitlines()[-1]
            assert link.startswith(f"http://127.0.0.1:{port}/signin?t=")
            async with http.get(link) as resp:
                page = await resp.text()
                assert resp.status == 200 and "Overview" in page and "operator" in page
            async with http.get(link) as resp:
                assert resp.status == 403  # once only
        await eventually(lambda: proc.returncode is None, what="tipoff still running")
    finally:
        output = await stopped(proc)
    assert "signed in the operator" in output
