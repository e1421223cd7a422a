"""The dashboard's pages as HTML, from plain records. Pure: every piece of feed or user
text is escaped here, every form carries its CSRF token, and a page reads the same on
a phone (one column) and with a keyboard (labels, focus rings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape

from bot.model import Watch
from bot.render.text import ago, excerpt

FEEDS_PER_PAGE = 200
OVERVIEW_FEEDS = 50  # feeds with trouble listed on the overview

PAGES = (("/", "Overview"), ("/feeds", "Feeds"), ("/watches", "Watches"), ("/alerts", "Alerts"), ("/why", "Why?"))


def e(text: object) -> str:
    return escape(str(text), quote=True)


@dataclass(frozen=True, slots=True)
class FeedRow:
    title: str
    url: str
    last_polled: float | None = None
    last_error: str | None = None
    next_due: float | None = None
    stopped: str | None = None
    sub_id: str = ""  # the chat's own feed (removable), "" for the operator's


def _when(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    dt, at = datetime.fromtimestamp(ts, timezone.utc), datetime.fromtimestamp(now, timezone.utc)
    if abs(ts - now) < 60:
        return "now"
    return ago(dt, at) if ts <= now else "in " + ago(at, dt).removesuffix(" ago")


def layout(title: str, body: str, *, who: str, csrf: str, current: str) -> str:
    here = ' aria-current="page"'
    nav = "".join(f'<a href="{path}"{here if path == current else ""}>{name}</a>' for path, name in PAGES)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin"><title>{e(title)} · tipoff</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><header><strong>tipoff</strong><nav aria-label="Pages">{nav}</nav>
<span class="muted">{e(who)}</span>
<form class="inline" method="post" action="/signout"><input type="hidden" name="csrf" value="{e(csrf)}">
<button class="quiet" type="submit">Sign out</button></form></header>
<main><h1>{e(title)}</h1>
{body}
</main></body></html>"""


def bare(title: str, message: str, status_note: str = "") -> str:
    """A page without a session: sign-in refused, signed out, or not signed in."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · tipoff</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main><h1>{e(title)}</h1><p>{e(message)}</p>{f'<p class="muted">{e(status_note)}</p>' if status_note else ""}
</main></body></html>"""


def _alerts(n: int) -> str:
    return f"{n} alert{'s' if n != 1 else ''}"


def _bars(counts: list[tuple[str, int]], label: str) -> str:
    top = max((n for _, n in counts), default=0) or 1
    bars = "".join(f'<div style="height:{max(2, round(100 * n / top))}%" title="{e(day)}: {n}"></div>'
                   for day, n in counts)
    total = sum(n for _, n in counts)
    return f'<div class="bars" role="img" aria-label="{e(label)}: {total} alerts in {len(counts)} days">{bars}</div>'


def overview(feeds: list[FeedRow], watches: int, outbox: int, per_day: list[tuple[str, int]], now: float,
             per_watch: list[tuple[str, list[tuple[str, int]]]] | None = None, workers: list[str] | None = None) -> str:
    failing = sum(1 for f in feeds if f.last_error and not f.stopped)
    stopped = sum(1 for f in feeds if f.stopped)
    total = sum(n for _, n in per_day)
    stats = (f'<div class="stats"><div class="card"><b>{len(feeds)}</b>feeds</div>'
             f'<div class="card"><b>{failing}</b>failing</div><div class="card"><b>{stopped}</b>stopped</div>'
             f'<div class="card"><b>{watches}</b>watches</div><div class="card"><b>{outbox}</b>waiting to be sent</div></div>')
    first, last = (per_day[0][0], per_day[-1][0]) if per_day else ("", "")
    chart = (f'<h2>Alerts a day, the last {len(per_day)} days</h2>{_bars(per_day, "All watches")}'
             f'<p class="muted">{_alerts(total)} from {e(first)} to {e(last)}.</p>')
    if per_watch:
        chart += "<h2>By watch</h2>" + "".join(
            f'<div class="card"><div>{e(excerpt(name, 80))} <span class="muted">· {_alerts(sum(n for _, n in counts))}'
            f'</span></div>{_bars(counts, name)}</div>' for name, counts in per_watch)
    troubled = [f for f in feeds if f.last_error or f.stopped]
    listing = (feed_table(troubled[:OVERVIEW_FEEDS], now, csrf="", editable=False) if troubled
               else '<p class="ok">Every feed answers.</p>')
    more = (f'<p class="muted">{len(troubled) - OVERVIEW_FEEDS} more on <a href="/feeds">Feeds</a>.</p>'
            if len(troubled) > OVERVIEW_FEEDS else "")
    fleet = ("<h2>Workers</h2><pre class=\"card\">" + e("\n".join(workers)) + "</pre>") if workers else ""
    return stats + chart + fleet + "<h2>Feeds with trouble</h2>" + listing + more


def feed_table(feeds: list[FeedRow], now: float, *, csrf: str, editable: bool) -> str:
    if not feeds:
        return "<p>No feeds yet.</p>"
    rows = []
    for f in sorted(feeds, key=lambda f: (not f.last_error and not f.stopped, f.title.lower())):
        state = (f'<span class="bad">stopped: {e(f.stopped)}</span>' if f.stopped else
                 f'<span class="bad">{e(excerpt(f.last_error, 160))}</span>' if f.last_error else '<span class="ok">ok</span>')
        remove = ""
        if editable and f.sub_id:
            remove = (f'<form class="inline" method="post" action="/feeds/remove"><input type="hidden" name="csrf" '
                      f'value="{e(csrf)}"><input type="hidden" name="id" value="{e(f.sub_id)}">'
                      f'<button class="quiet" type="submit" aria-label="Remove {e(f.title or f.url)}">Remove</button></form>')
        rows.append(f"<tr><td>{e(excerpt(f.title or f.url, 80))}<div class=\"muted\">{e(excerpt(f.url, 120))}</div></td>"
                    f"<td>{state}</td><td class=\"wide\">{e(_when(f.last_polled, now))}</td>"
                    f"<td class=\"wide\">{e(_when(f.next_due, now))}</td><td>{remove}</td></tr>")
    return ("<table><thead><tr><th>Feed</th><th>Health</th><th class=\"wide\">Last poll</th>"
            "<th class=\"wide\">Next</th><th><span class=\"muted\">Actions</span></th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def feeds_page(feeds: list[FeedRow], now: float, *, csrf: str, editable: bool, message: str = "",
               page: int = 1) -> str:
    form = ""
    if editable:
        form = (f'<form method="post" action="/feeds/add" class="card"><input type="hidden" name="csrf" value="{e(csrf)}">'
                '<label for="url">Add a feed: its address, a page that links one, or a source like news:"lady gaga"</label>'
                '<input id="url" name="url" type="text" required autocomplete="off" '
                'placeholder="https://www.billboard.com/feed/"><p><button type="submit">Add</button></p></form>'
                f'<form method="post" action="/feeds/import" enctype="multipart/form-data" class="card">'
                f'<input type="hidden" name="csrf" value="{e(csrf)}"><label for="opml">Import an OPML file '
                '(most feed readers export one)</label><input id="opml" name="opml" type="file" '
                'accept=".opml,.xml,text/x-opml,text/xml"><p><button type="submit">Import</button> '
                '<a href="/feeds/export">Export this chat\'s feeds and watches (OPML)</a></p></form>')
    note = f'<p class="card" role="status">{e(message)}</p>' if message else ""
    pages_count = max(1, -(-len(feeds) // FEEDS_PER_PAGE))
    page = min(max(1, page), pages_count)
    shown = sorted(feeds, key=lambda f: (not f.last_error and not f.stopped, f.title.lower()))
    shown = shown[(page - 1) * FEEDS_PER_PAGE:page * FEEDS_PER_PAGE]
    links = ""
    if pages_count > 1:
        links = '<nav aria-label="Feed pages" class="muted">' + " ".join(
            f'<a href="/feeds?page={n}"{" aria-current=page" if n == page else ""}>{n}</a>'
            for n in range(1, pages_count + 1)) + f" · {len(feeds)} feeds</nav>"
    return note + form + links + feed_table(shown, now, csrf=csrf, editable=editable) + links


def watches_page(watches: list[Watch], *, csrf: str, editable: bool, message: str = "", rule: str = "",
                 failed: bool = False) -> str:
    note = f'<p class="card{" error" if failed else ""}" role="status">{e(message)}</p>' if message else ""
    form = ""
    if editable:
        form = (f'<form method="post" action="/watches/add" class="card"><input type="hidden" name="csrf" '
                f'value="{e(csrf)}"><label for="rule">Rule</label>'
                f'<input id="rule" name="rule" type="text" required autocomplete="off" value="{e(rule)}" '
                'placeholder=\'"lady gaga" AND "britney spears" AND duet -rumor\' aria-describedby="tester-results">'
                '<label for="label">Label (optional)</label><input id="label" name="label" type="text" '
                'autocomplete="off"><p><button type="submit">Add watch</button></p>'
                '<div id="tester-results" aria-live="polite"></div></form>'
                '<script src="/static/tester.js" defer></script>')
    if not watches:
        listing = "<p>No watches yet.</p>"
    else:
        rows = []
        for w in watches:
            delete = ""
            if editable and w.owner:
                delete = (f'<form class="inline" method="post" action="/watches/delete"><input type="hidden" '
                          f'name="csrf" value="{e(csrf)}"><input type="hidden" name="id" value="{e(w.id)}">'
                          f'<button class="quiet" type="submit" aria-label="Delete {e(w.id)}">Delete</button></form>'
                          + _settings_forms(w, csrf, mentions=(w.owner or "").startswith("discord:")))
            notes = [n for n in (f"label: {w.label}" if w.label else "",
                                 f"after {w.min_sources} outlets" if w.min_sources > 1 else "",
                                 f"digest: {w.digest}" if w.digest else "") if n]
            rows.append(f"<tr><td><code>{e(w.id)}</code></td><td>{e(w.rule)}"
                        f"{f'<div class=muted>{e(chr(183).join(notes))}</div>' if notes else ''}</td>"
                        f"<td class=\"wide\">{e(w.owner or 'operator')}</td><td>{delete}</td></tr>")
        listing = ("<table><thead><tr><th>Id</th><th>Rule</th><th class=\"wide\">Chat</th><th><span class=\"muted\">"
                   "Actions</span></th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    return note + form + listing


@dataclass(frozen=True, slots=True)
class AlertRow:
    title: str
    link: str
    feed: str
    seen_at: float
    destination: str
    state: str  # "sent", "waiting", "waiting (retrying: …)", "held for the digest"
    sources: tuple[str, ...] = ()  # the outlets its story has, its own first
    message_url: str = ""  # the message on its platform, where one can be linked
    watches: tuple[str, ...] = ()


def message_url(destination: str, receipt: str) -> str:
    """A link to a sent message, where the platform has one for it: a Telegram
    supergroup's or channel's message (t.me/c/…, for its members). Discord's needs the
    server's id, which a channel's destination does not hold."""
    platform, _, ids = destination.partition(":")
    chat = ids.split("/")[0]
    if platform == "telegram" and chat.startswith("-100") and receipt.isdigit():
        return f"https://t.me/c/{chat[4:]}/{receipt}"
    return ""


SETTINGS = (("rule", "Rule", "the new rule (the watch gets a new id)"),
            ("label", "Label", "empty: show the rule"),
            ("snooze", "Snooze", "e.g. 8h, 24h, 3d, or off"),
            ("digest", "Digest", "hourly, daily 09:00 Europe/Berlin, or off"),
            ("spread", "Wait for outlets", "e.g. 3 2h, or off"))


def _settings_forms(w: Watch, csrf: str, mentions: bool = False) -> str:
    """A watch's settings, each a small form (the chat command behind it checks it);
    on Discord, the role its alerts mention too."""
    current = {"rule": w.rule, "label": w.label, "snooze": "", "digest": w.digest,
               "spread": f"{w.min_sources} {int(w.within // 60)}m" if w.min_sources > 1 else "",
               "mention": w.mention}
    settings = SETTINGS + ((("mention", "Role to mention", "the role's id, or off"),) if mentions else ())
    forms = "".join(
        f'<form method="post" action="/watches/settings"><input type="hidden" name="csrf" value="{e(csrf)}">'
        f'<input type="hidden" name="id" value="{e(w.id)}"><input type="hidden" name="what" value="{what}">'
        f'<label for="{what}-{e(w.id)}">{name}</label><input id="{what}-{e(w.id)}" name="value" type="text" '
        f'value="{e(current[what])}" placeholder="{e(hint)}" autocomplete="off"> '
        f'<button class="quiet" type="submit">Save</button></form>'
        for what, name, hint in settings)
    return f'<details><summary>Settings</summary>{forms}</details>'


def chat_settings(quiet: str, digest: str, paused: bool, csrf: str) -> str:
    """The chat's own settings: quiet hours and its digest."""
    def form(what: str, name: str, value: str, hint: str) -> str:
        return (f'<form method="post" action="/chat/settings"><input type="hidden" name="csrf" value="{e(csrf)}">'
                f'<input type="hidden" name="what" value="{what}"><label for="chat-{what}">{name}</label>'
                f'<input id="chat-{what}" name="value" type="text" value="{e(value)}" placeholder="{e(hint)}" '
                f'autocomplete="off"> <button class="quiet" type="submit">Save</button></form>')
    state = '<p class="bad">Alerts here are paused.</p>' if paused else ""
    return (f'<details class="card"><summary>This chat: quiet hours and digest</summary>{state}'
            + form("quiet", "Quiet hours", quiet, "23:00-07:00 Europe/Berlin, or off")
            + form("digest", "Digest", digest, "hourly, daily 09:00 Europe/Berlin, or off") + "</details>")


def alerts_page(rows: list[AlertRow], now: float, *, query: dict[str, str], watches: list[tuple[str, str]],
                feeds: list[tuple[str, str]], total: int) -> str:
    def options(name: str, choices: list[tuple[str, str]]) -> str:
        chosen = query.get(name, "")
        return "".join(f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e(excerpt(label, 60))}</option>'
                       for v, label in [("", "any"), *choices])
    form = (f'<form method="get" action="/alerts" class="card" role="search">'
            f'<label for="q">Text</label><input id="q" name="q" type="search" value="{e(query.get("q", ""))}">'
            f'<label for="watch">Watch</label><select id="watch" name="watch">{options("watch", watches)}</select>'
            f'<label for="feed">Feed</label><select id="feed" name="feed">{options("feed", feeds)}</select>'
            f'<label for="date">Day</label><input id="date" name="date" type="date" value="{e(query.get("date", ""))}">'
            '<p><button type="submit">Search</button></p></form>')
    if not rows:
        return form + "<p>No alerts match.</p>"
    items = []
    for r in rows:
        title = (f'<a href="{e(r.link)}" rel="noreferrer noopener">{e(excerpt(r.title or r.link, 160))}</a>'
                 if r.link.startswith(("http://", "https://")) else e(excerpt(r.title or "(untitled)", 160)))
        state_class = "ok" if r.state == "sent" else "bad" if "retrying" in r.state else "muted"
        message = (f' · <a href="{e(r.message_url)}" rel="noreferrer noopener">the message</a>'
                   if r.message_url else "")
        story = (f'<div class="muted">Story: {e(", ".join(excerpt(s, 40) for s in r.sources))}</div>'
                 if len(r.sources) > 1 else "")
        items.append(f'<tr><td>{title}<div class="muted">{e(excerpt(r.feed, 60))} · {e(_when(r.seen_at, now))}'
                     f' · {e(r.destination)}</div>{story}</td><td><span class="{state_class}">{e(r.state)}</span>'
                     f'{message}</td></tr>')
    shown = f'<p class="muted">{len(rows)} of {total} alerts</p>' if total > len(rows) else ""
    return (form + shown + "<table><thead><tr><th>Alert</th><th>Delivery</th></tr></thead><tbody>"
            + "".join(items) + "</tbody></table>")


def why_page(url: str, trace: str) -> str:
    form = (f'<form method="get" action="/why" class="card"><label for="url">An article\'s or entry\'s address</label>'
            f'<input id="url" name="url" type="url" required value="{e(url)}" '
            'placeholder="https://www.billboard.com/music/…"><p><button type="submit">Trace it</button></p></form>')
    if not trace:
        return form
    blocks = "".join(f'<div class="card">{"<br>".join(e(line) for line in block.splitlines())}</div>'
                     for block in trace.split("\n\n"))
    return form + '<h2>What tipoff did with it</h2>' + blocks
