"""The dashboard's routes on the `[http] listen` server: sign-in by one-time link, the
session cookie, CSRF on every form, and the pages, each reading only what its session
may see (the operator: everything; a chat: its own feeds, watches and alerts). Changes
go through the chat commands (bot/commands), the one writer of what chats configure."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from collections import Counter
from datetime import datetime, timezone
from typing import Awaitable, Callable

import orjson
from aiohttp import web

from bot.adapters.base import Limits
from bot.commands import Commands, Invocation
from bot.commands.history import entries_at, feed_label
from bot.config import Settings, feed_id_for
from bot.dashboard import access, pages
from bot.dashboard.assets import CSS, TESTER_JS
from bot.dashboard.tester import RecentText, decider
from bot.dashboard.access import Grant
from bot.engine import Engine
from bot.model import DestinationName, Feed, FeedId, RecentEntry, Watch, WatchId
from bot.render.text import excerpt_pieces
from bot.rules.matcher import Matcher
from bot.rules.syntax import RuleError, parse_rule
from bot.store.base import Store

log = logging.getLogger("tipoff.dashboard")

COOKIE = "tipoff_session"
TESTER_SHOWN = 20
IMPORT_BYTES = Limits().import_bytes  # the largest OPML file an import reads, as in chats
ALERTS_SHOWN = 200  # the newest of the alerts a search finds
CHART_DAYS = 30
CHART_WATCHES = 8  # the busiest watches charted one by one
Page = Callable[[web.Request, Grant], Awaitable[web.StreamResponse]]


class Dashboard:
    def __init__(self, settings: Settings, engine: Engine, store: Store, commands: Commands | None,
                 secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self.settings, self.engine, self.store, self.commands = settings, engine, store, commands
        self.secret, self.clock = secret, clock
        self.secure = settings.http.base_url.startswith("https://")
        self._texts: dict[str, RecentText] = {}  # the rule tester's folded recent entries, by session scope

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/signin", self._signin)
        r.add_post("/signout", self._signout)
        r.add_get("/static/app.css", _css)
        r.add_get("/static/tester.js", _tester_js)
        r.add_get("/", self._page(self._overview))
        r.add_get("/feeds", self._page(self._feeds))
        r.add_post("/feeds/add", self._page(self._feed_add, form=True))
        r.add_post("/feeds/remove", self._page(self._feed_remove, form=True))
        r.add_post("/feeds/import", self._page(self._feed_import, form=True))
        r.add_get("/feeds/export", self._page(self._feed_export))
        r.add_get("/watches", self._page(self._watches))
        r.add_post("/watches/add", self._page(self._watch_add, form=True))
        r.add_post("/watches/delete", self._page(self._watch_delete, form=True))
        r.add_post("/watches/settings", self._page(self._watch_settings, form=True))
        r.add_post("/chat/settings", self._page(self._chat_settings, form=True))
        r.add_get("/api/test", self._page(self._tester))
        r.add_get("/alerts", self._page(self._alerts))
        r.add_get("/why", self._page(self._why))

    # -- sessions -------------------------------------------------------------------

    async def _signin(self, request: web.Request) -> web.StreamResponse:
        now = self.clock()
        grant = access.check(self.secret, request.query.get("t", ""), "link", now)
        if grant is None or not await self.store.spend(grant.id, grant.expires):
            log.info("dashboard: a sign-in link was refused (used already, expired or not ours)")
            return _html(pages.bare("This link does not sign you in",
                                    "It was used already, or it is older than 15 minutes. Ask for a new one: "
                                    "/dashboard in your chat, or tipoff dashboard-link on the server."), 403)
        await self.store.flush()
        session = access.issue(self.secret, "session", grant.scope, now, self.settings.http.session)
        response = web.HTTPSeeOther("/")
        response.set_cookie(COOKIE, session, max_age=int(self.settings.http.session), httponly=True,
                            samesite="Lax", secure=self.secure, path="/")
        log.info("dashboard: signed in %s", "the operator" if grant.operator else grant.scope)
        raise response

    async def _grant(self, request: web.Request) -> Grant | None:
        grant = access.check(self.secret, request.cookies.get(COOKIE, ""), "session", self.clock())
        if grant is None or await self.store.spent(grant.id):
            return None
        return grant

    async def _signout(self, request: web.Request) -> web.StreamResponse:
        grant = await self._grant(request)
        form = await request.post()
        if grant is not None:
            if not access.csrf_ok(self.secret, grant.id, str(form.get("csrf", ""))):
                return _html(pages.bare("Refused", "That form was not sent by this dashboard."), 403)
            await self.store.spend(grant.id, grant.expires)
            await self.store.flush()
        response = _html(pages.bare("Signed out", "You are signed out. A new link signs you in again."))
        response.del_cookie(COOKIE, path="/")
        return response

    def _page(self, handler: Page, form: bool = False) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """A handler behind the session (and, for a form, its CSRF token)."""
        async def guarded(request: web.Request) -> web.StreamResponse:
            grant = await self._grant(request)
            if grant is None:
                return _html(pages.bare("Sign in", "Open a sign-in link: /dashboard in your chat (admins), or "
                                        "tipoff dashboard-link on the server."), 401)
            if form:
                data = await request.post()
                if not access.csrf_ok(self.secret, grant.id, str(data.get("csrf", ""))):
                    log.info("dashboard: a form without its CSRF token was refused")
                    return _html(pages.bare("Refused", "That form was not sent by this dashboard: reload the page "
                                            "and try again."), 403)
            return await handler(request, grant)
        return guarded

    def _render(self, grant: Grant, title: str, body: str, current: str, status: int = 200) -> web.Response:
        who = "operator" if grant.operator else grant.scope
        return _html(pages.layout(title, body, who=who, csrf=access.csrf_token(self.secret, grant.id),
                                  current=current), status)

    # -- what a session sees -----------------------------------------------------------

    def _watches_of(self, grant: Grant) -> list[Watch]:
        chats = [w for w in self.store.watches() if w.owner is not None and grant.sees(w.owner)]
        if grant.operator:
            return [*self.settings.watches, *chats]
        return [*[w for w in self.settings.watches if any(grant.sees(n) for n in w.notify)], *chats]

    def _visible_feeds(self, grant: Grant) -> list[Feed]:
        """The operator's feeds (every chat's watches see them) and the session's chats' own."""
        if grant.operator:
            return list(self.engine.feeds)
        own = {feed_id_for(s.url) for s in self.store.subscriptions() if grant.sees(s.destination)}
        shared = {f.id for f in self.settings.feeds}
        return [f for f in self.engine.feeds if f.id in own or f.id in shared]

    def _feed_rows(self, grant: Grant) -> list[pages.FeedRow]:
        rows = []
        subs = {feed_id_for(s.url): s for s in self.store.subscriptions() if grant.sees(s.destination)}
        for feed in self._visible_feeds(grant):
            st = self.store.feed_state(feed.id)
            rows.append(pages.FeedRow(st.title if st and st.title else feed.title, feed.url,
                                      st.last_polled if st else None, st.last_error if st else None,
                                      st.next_due if st else None, st.stopped if st else None,
                                      subs[feed.id].id if feed.id in subs else ""))
        return rows

    async def _feed_import(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        """An OPML file uploaded: every feed in it added, as /import does."""
        upload = (await request.post()).get("opml")
        data = upload.file.read(IMPORT_BYTES + 1) if isinstance(upload, web.FileField) else b""
        inv = self._invocation(grant)
        if inv is None or self.commands is None:
            said = "The operator's session reads everything; changes are made in a chat's own dashboard."
        elif not data:
            said = "Choose an OPML file to import."
        elif len(data) > IMPORT_BYTES:
            said = "That file is too large to import."
        else:
            said = (await self.commands.run(replace(inv, attachment=data), "import", "")).text
        return await self._feeds(request, grant, said)

    async def _feed_export(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        inv = self._invocation(grant)
        if inv is None or self.commands is None:
            return await self._feeds(request, grant, "Export a chat's feeds from its own dashboard.")
        reply = await self.commands.export(inv, "")
        assert reply.document is not None
        name, data = reply.document
        return web.Response(body=data, content_type="text/x-opml", headers={
            "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

    def _invocation(self, grant: Grant) -> Invocation | None:
        """The chat a session acts for (the operator's session only reads)."""
        dest = None if grant.operator else self.engine.destination(grant.scope)
        if dest is None:
            return None

        async def may() -> bool:
            return True  # the link came from /dashboard, which only admins may ask for
        return Invocation(dest, "dashboard", may)

    async def _act(self, grant: Grant, command: str, args: str) -> str:
        inv = self._invocation(grant)
        if inv is None or self.commands is None:
            return "The operator's session reads everything; changes are made in a chat's own dashboard."
        return (await self.commands.run(inv, command, args)).text

    # -- pages ---------------------------------------------------------------------

    async def _overview(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        now = self.clock()
        days = [datetime.fromtimestamp(now - 86400 * i, timezone.utc).strftime("%Y-%m-%d")
                for i in range(CHART_DAYS - 1, -1, -1)]
        per_day: Counter[str] = Counter()
        by_watch: dict[str, Counter[str]] = {}
        for day, dest, watch, n in await self.store.alert_counts(days[0]):
            if grant.sees(dest):
                per_day[day] += n
                by_watch.setdefault(watch, Counter())[day] += n
        names = {str(w.id): f"{w.id} {w.label or w.rule}" for w in self._watches_of(grant)}
        busiest = sorted(by_watch, key=lambda w: -sum(by_watch[w].values()))[:CHART_WATCHES]
        per_watch = [(names.get(w, w), [(d, by_watch[w][d]) for d in days]) for w in busiest]
        outbox = sum(1 for i in self.store.pending() if grant.sees(i.destination))
        body = pages.overview(self._feed_rows(grant), len(self._watches_of(grant)), outbox,
                              [(d, per_day[d]) for d in days], now, per_watch, await self._workers(grant))
        return self._render(grant, "Overview", body, "/")

    async def _workers(self, grant: Grant) -> list[str] | None:
        """For the operator on a Redis store: what each worker holds (`tipoff workers`)."""
        if not grant.operator or not self.settings.store_url:
            return None
        from bot.fleet import render
        from bot.store.redis.survey import survey

        where = getattr(self.store, "safe_url", lambda: "redis")()
        try:
            return render(await survey(self.settings.store_url, self.settings.store_prefix), where)
        except Exception as exc:  # Redis away: the page still renders, and says so (never the URL's password)
            return [f"cannot survey the workers now ({type(exc).__name__})"]

    async def _feeds(self, request: web.Request, grant: Grant, message: str = "") -> web.StreamResponse:
        page = request.query.get("page", "1")
        body = pages.feeds_page(self._feed_rows(grant), self.clock(), csrf=access.csrf_token(self.secret, grant.id),
                                editable=not grant.operator, message=message,
                                page=int(page) if page.isdigit() and len(page) < 6 else 1)
        return self._render(grant, "Feeds", body, "/feeds")

    async def _feed_add(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        url = str((await request.post()).get("url", "")).strip()
        return await self._feeds(request, grant, await self._act(grant, "add", url))

    async def _feed_remove(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        sub_id = str((await request.post()).get("id", "")).strip()
        return await self._feeds(request, grant, await self._act(grant, "remove", sub_id))

    async def _watches(self, request: web.Request, grant: Grant, message: str = "",
                       rule: str = "", status: int = 200) -> web.StreamResponse:
        csrf = access.csrf_token(self.secret, grant.id)
        body = pages.watches_page(self._watches_of(grant), csrf=csrf, editable=not grant.operator, message=message,
                                  rule=rule, failed=status >= 400)
        if not grant.operator:
            st = self.store.destination_state(DestinationName(grant.scope))
            body = pages.chat_settings(st.quiet, st.digest, st.paused, csrf) + body
        return self._render(grant, "Watches", body, "/watches", status)

    async def _watch_add(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        form = await request.post()
        rule, label = str(form.get("rule", "")).strip(), str(form.get("label", "")).strip()
        said = await self._act(grant, "watch", rule)
        if not said.startswith("Watching as "):
            return await self._watches(request, grant, said, rule, 400)  # the rule stays in the field
        wid = said.split()[2].rstrip(":")
        if label:
            await self._act(grant, "label", f"{wid} {label}")
        raise web.HTTPSeeOther("/watches")

    async def _watch_settings(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        """One setting of a watch, made by the chat command that sets it (its checks,
        its limits): a new rule is a new watch with the old one's label, then the old
        one removed."""
        form = await request.post()
        wid, what, value = (str(form.get(k, "")).strip() for k in ("id", "what", "value"))
        if what == "rule":
            old = next((w for w in self._watches_of(grant) if w.id == wid and w.owner), None)
            said = await self._act(grant, "watch", value)
            if old is not None and said.startswith("Watching as "):
                new = said.split()[2].rstrip(":")
                if old.label:  # what the old watch was set to carries over
                    await self._act(grant, "label", f"{new} {old.label}")
                if old.min_sources > 1:
                    await self._act(grant, "spread", f"{new} {old.min_sources} {int(old.within // 60)}m")
                if old.digest:
                    await self._act(grant, "digest", f"{old.digest} {new}")
                await self._act(grant, "unwatch", wid)
                said = f"The rule of {wid} is now {value!r}, watched as {new} (its label, spread and digest kept)."
        elif what == "digest":
            said = await self._act(grant, "digest", f"{value or 'off'} {wid}")
        elif what == "mention":
            said = await self._mention(grant, wid, value)
        elif what in ("label", "snooze", "spread"):
            said = await self._act(grant, what, f"{wid} {value or ('' if what == 'label' else 'off')}".strip())
        else:
            said = f"Nothing to set as {what!r}."
        return await self._watches(request, grant, said)

    async def _mention(self, grant: Grant, wid: str, value: str) -> str:
        """The Discord role a watch's alerts mention (set with /tipoff watch … mention:
        in Discord): a role's id, or off."""
        watch = next((w for w in self._watches_of(grant) if w.id == wid and w.owner), None)
        if watch is None or self.commands is None or grant.operator:
            return f"There is no watch {wid} in this chat."
        if not str(watch.owner).startswith("discord:"):
            return "Only a Discord channel's alerts mention a role."
        role = "" if value.lower() in ("", "off") else value
        if role and not re.fullmatch(r"[0-9]{15,21}", role):
            return f"{value!r} is not a role's id: turn on Developer Mode in Discord, then right-click the role."
        await self.commands.chats.change_watch(replace(watch, mention=role))
        return f"{wid} alerts mention <@&{role}> now." if role else f"{wid} alerts mention nobody now."

    async def _chat_settings(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        form = await request.post()
        what, value = str(form.get("what", "")), str(form.get("value", "")).strip() or "off"
        said = await self._act(grant, what, value) if what in ("quiet", "digest") else f"Nothing to set as {what!r}."
        return await self._watches(request, grant, said)

    async def _watch_delete(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        wid = str((await request.post()).get("id", "")).strip()
        said = await self._act(grant, "unwatch", wid)
        if not said.startswith("Stopped watching"):
            return await self._watches(request, grant, said, status=400)
        raise web.HTTPSeeOther("/watches")

    async def _tester(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        """The live rule tester: the recent entries (of the feeds this session sees) a
        rule matches, newest first, titles with the matched terms marked."""
        rule = request.query.get("rule", "").strip()[:2000]
        try:
            tree = parse_rule(rule, self.settings.rules)
        except RuleError as exc:
            return web.json_response({"error": str(exc), "column": exc.column}, dumps=_dumps)
        matcher = Matcher(self.settings.rules)
        matcher.add(Watch(WatchId("tester"), rule, (), datetime.now(timezone.utc)))
        seen = {f.id for f in self._visible_feeds(grant)}
        days = self.settings.store_recent / 86400
        recent = await self.store.recent_entries(self.clock() - self.settings.store_recent)
        text = self._texts.setdefault(grant.scope, RecentText())  # one per scope: each sees its own feeds
        entries = [e for e in recent if e.feed_id in seen and not e.too_old]
        candidates = text.candidates(tree, entries)
        decide = decider(tree)
        count = None if decide is None else sum(1 for i in candidates if decide(*text.texts(entries[i])))
        hits: list[dict[str, object]] = []
        for index in reversed(candidates):
            if count is not None and len(hits) >= TESTER_SHOWN:
                break  # counted already: only the newest are shown
            entry = entries[index]
            feed = self._feed_label(entry.feed_id)
            for m in matcher.match(entry.entry(), feed):
                spans = [(s, end) for term in m.hits if term.field == "title" for s, end in [(term.start, term.end)]]
                title = [[piece, hot] for piece, hot in excerpt_pieces(entry.title or entry.link, spans, 300)]
                hits.append({"title": title, "terms": list(m.terms), "link": entry.link, "feed": feed})
        total = len(hits) if count is None else count
        summary = (f"Would have alerted {total} time{'s' if total != 1 else ''} in the last {days:g} days"
                   f"{': the newest' if hits else '.'}")
        return web.json_response({"summary": summary, "count": total, "matches": hits[:TESTER_SHOWN]},
                                 dumps=_dumps)


    async def _alert_rows(self, grant: Grant) -> list[tuple[RecentEntry, pages.AlertRow]]:
        """Every alert of the last days this session may see, newest first, with its
        delivery state and its story's outlets."""
        pending = {i.id: i for i in self.store.pending()}
        rows = []
        for entry in reversed(await self.store.recent_entries(self.clock() - self.settings.store_recent)):
            for fate in entry.fates:
                if fate.outcome not in ("alerted", "held") or not grant.sees(fate.destination):
                    continue
                item = pending.get(fate.detail)
                told = None if item is not None else await self.store.told(DestinationName(fate.destination),
                                                                           entry.story)
                if told is not None and told.alert.id != fate.detail:
                    told = None
                if item is not None:
                    state = ("held for the digest or quiet hours" if item.message.hold and not item.attempts else
                             f"waiting (retrying: {item.last_error})" if item.attempts else "waiting")
                else:
                    state = "sent"
                sources = tuple(s.outlet for s in told.alert.sources) if told else ()
                rows.append((entry, pages.AlertRow(
                    entry.title, entry.link or entry.url, self._feed_label(entry.feed_id), entry.seen_at,
                    fate.destination, state, sources,
                    pages.message_url(fate.destination, told.receipt) if told and not told.in_digest else "",
                    fate.watches)))
        return rows

    def _feed_label(self, feed_id: FeedId) -> str:
        return feed_label(self.store, feed_id)

    async def _alerts(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        q = {k: request.query.get(k, "").strip()[:200] for k in ("q", "watch", "feed", "date")}
        rows = await self._alert_rows(grant)
        text = q["q"].casefold()
        kept = [row for entry, row in rows
                if (not text or text in (entry.title + " " + entry.summary).casefold())
                and (not q["watch"] or q["watch"] in row.watches)
                and (not q["feed"] or q["feed"] == entry.feed_id)
                and (not q["date"] or datetime.fromtimestamp(entry.seen_at, timezone.utc).strftime("%Y-%m-%d")
                     == q["date"])]
        watches = [(str(w.id), f"{w.id} {w.label or w.rule}") for w in self._watches_of(grant)]
        feeds = [(str(f.id), self._feed_label(f.id)) for f in self._visible_feeds(grant)]
        body = pages.alerts_page(kept[:ALERTS_SHOWN], self.clock(), query=q, watches=watches, feeds=feeds,
                                 total=len(kept))
        return self._render(grant, "Alerts", body, "/alerts")

    async def _why(self, request: web.Request, grant: Grant) -> web.StreamResponse:
        url = request.query.get("url", "").strip()[:2000]
        trace = ""
        if url:
            inv = self._invocation(grant)
            if inv is not None and self.commands is not None:
                trace = (await self.commands.why(inv, url)).text  # a page view is no chat command: not rate-limited
            else:
                trace = await self._operator_trace(url)
        return self._render(grant, "Why?", pages.why_page(url, trace), "/why")

    async def _operator_trace(self, url: str) -> str:
        """/why for the operator: the entry in any feed, and what became of it in every chat."""
        found = entries_at(url, await self.store.recent_entries(self.clock() - self.settings.store_recent))
        if not found:
            return "No new entry with that address in the recent entries of any feed."
        blocks = []
        for entry in found[-3:]:
            lines = [entry.title or "(untitled)", f"Seen in {self._feed_label(entry.feed_id)}."]
            lines += [f"{f.destination}: {f.outcome}" + (f" ({', '.join(f.watches)})" if f.watches else "")
                      for f in entry.fates] or ["No watch fired on it."]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


def sign_in_link(settings: Settings, secret: bytes, scope: str, now: float) -> str:
    """A one-time sign-in URL for the operator (scope OPERATOR) or one chat."""
    token = access.issue(secret, "link", scope, now, access.LINK_LIFE)
    return f"{settings.http.base_url}/signin?t={token}"


def chat_scope(name: str) -> str:
    """The scope of a chat's session: the chat (a forum topic's link covers its chat)."""
    return name.split("/")[0]


def _dumps(data: object) -> str:
    return orjson.dumps(data).decode()


def _html(text: str, status: int = 200) -> web.Response:
    response = web.Response(text=text, status=status, content_type="text/html")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = ("default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                   "frame-ancestors 'none'; form-action 'self'")
    response.headers["Cache-Control"] = "no-store"
    return response


async def _css(request: web.Request) -> web.Response:
    return web.Response(text=CSS, content_type="text/css", headers={"Cache-Control": "max-age=3600"})


async def _tester_js(request: web.Request) -> web.Response:
    return web.Response(text=TESTER_JS, content_type="application/javascript",
                        headers={"Cache-Control": "max-age=3600"})
