"""/recent, /backtest, /why: what tipoff did with the entries of the last days, read
from the recent-entries store (`[store] recent`), for the feeds this chat sees."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.config import feed_id_for
from bot.feeds.canonical import canonical_url
from bot.i18n import N_, _, ngettext
from bot.model import DestinationName, FeedId, RecentEntry, Watch, WatchId
from bot.render.text import ago, excerpt
from bot.rules.matcher import Matcher
from bot.rules.syntax import Limits, RuleError, parse_rule, positive_terms
from bot.store.base import Store
from bot.commands.base import CommandsBase, Invocation, Reply, UsageError, around_column

RECENT_SHOWN = 10
EXAMPLES = 3

# What each fate says in /why and /recent
_OUTCOMES = {
    "alerted": N_("alerted here"), "held": N_("alerted here, held for the digest or quiet hours"),
    "repeat": N_("not alerted again: a rewording of a story already told here (the alert names this outlet)"),
    "spreading": N_("waiting for more outlets to carry the story (/spread)"),
    "snoozed": N_("its watch {detail} was snoozed"),
    "paused": N_("alerts here were paused"), "gone": N_("this chat could not be reached ({detail})"),
}


def feed_label(store: Store, feed_id: FeedId) -> str:
    """A feed as people know it: its title, else its address."""
    state = store.feed_state(feed_id)
    return (state.title or state.url) if state else str(feed_id)


def entries_at(url: str, entries: list[RecentEntry]) -> list[RecentEntry]:
    """The recent entries an address (tracking parameters and all) leads to."""
    wanted = canonical_url(url) or url
    return [e for e in entries if wanted == e.url or (not e.url and wanted == (canonical_url(e.link) or e.link))]


class HistoryCommands(CommandsBase):
    def _seen_feeds(self, inv: Invocation) -> set[FeedId]:
        """The feeds whose entries this chat's watches see: the operator's and its own."""
        return {f.id for f in self.settings.feeds} | {feed_id_for(s.url) for s in self.chats.feeds(inv.destination.name)}

    async def _recent(self, inv: Invocation) -> list[RecentEntry]:
        feeds = self._seen_feeds(inv)
        since = self.clock() - self.settings.store_recent
        return [e for e in await self.store.recent_entries(since) if e.feed_id in feeds]

    def _days(self) -> str:
        days = self.settings.store_recent / 86400
        if days >= 1:
            return _("{count} days").format(count=f"{days:g}")
        return _("{count} hours").format(count=f"{self.settings.store_recent / 3600:g}")

    def _feed_name(self, feed_id: FeedId) -> str:
        return feed_label(self.store, feed_id)

    async def recent(self, inv: Invocation, args: str) -> Reply:
        """The last alerts this chat was sent (or is about to be), newest first."""
        dest = inv.destination.name
        waiting = {i.id for i in self.store.pending(dest)}
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        lines = []
        for entry in reversed(await self._recent(inv)):
            fate = next((f for f in entry.fates if f.destination == dest and f.outcome in ("alerted", "held")), None)
            if fate is None:
                continue
            state = _("waiting to be sent") if fate.detail in waiting else _("sent")
            when = ago(datetime.fromtimestamp(entry.seen_at, timezone.utc), now)
            lines.append(f"• {excerpt(entry.title or entry.link or _('(untitled)'), 120)}\n"
                         f"    {excerpt(self._feed_name(entry.feed_id), 60)} · {when} · {state}")
            if len(lines) == RECENT_SHOWN:
                break
        if not lines:
            return Reply(_("No alerts here in the last {span}.").format(span=self._days()))
        return Reply(ngettext("The last alert here:", "The last {count} alerts here:", len(lines))
                     .format(count=len(lines)) + "\n" + "\n".join(lines), private=True)

    async def backtest(self, inv: Invocation, args: str) -> Reply:
        """How often a rule would have fired on the entries of the last days."""
        if not args:
            raise UsageError(_("Give me a rule to try on the last days' entries."))
        try:
            parse_rule(args, self.settings.rules)
        except RuleError as exc:
            shown, pointer = around_column(args, exc.column)
            return Reply(_("I can't use that rule: {problem}").format(problem=exc) + f"\n{shown}\n{pointer}")
        matcher = Matcher(self.settings.rules)
        matcher.add(Watch(WatchId("backtest"), args, (), datetime.now(timezone.utc)))
        entries = [e for e in await self._recent(inv) if not e.too_old]  # those could never have alerted
        hits = [(e, m) for e in entries for m in matcher.match(e.entry(), self._feed_name(e.feed_id))]
        head = ngettext("{rule} would have alerted {count} time in the last {span} ({entries} new entries in "
                        "{feeds} feeds).",
                        "{rule} would have alerted {count} times in the last {span} ({entries} new entries in "
                        "{feeds} feeds).", len(hits)).format(rule=args, count=len(hits), span=self._days(),
                                                             entries=len(entries), feeds=len(self._seen_feeds(inv)))
        examples = [f"• {excerpt(e.title or e.link, 120)}\n    "
                    + _("matched {terms}").format(terms=", ".join(m.terms)) for e, m in reversed(hits[-EXAMPLES:])]
        return Reply("\n".join([head, *examples]), private=True)

    async def why(self, inv: Invocation, args: str) -> Reply:
        """The trace of one entry: its feed, when it was seen, what each of this chat's
        watches made of it, and what became of it here."""
        url = args.split()[0] if args else ""
        if not url.startswith(("http://", "https://")):
            raise UsageError(_("Give me the address of an article or entry."))
        recent = await self._recent(inv)
        entries = entries_at(url, recent)
        if not entries:
            feeds = self._seen_feeds(inv)
            if feed_id_for(url) in feeds:
                return Reply(_("That is one of this chat's feeds: /why takes the address of one of its entries."))
            return Reply(_("No new entry with that address in the last {span} in the {count} feeds this chat sees: "
                           "its feed may not be one of them (/feeds), or the entry was older than tipoff announces, "
                           "or it was there before the feed was added.").format(span=self._days(), count=len(feeds)))
        titles = {e.key: e.title for e in recent}  # a story's first headline, by the key its thread is named after
        return Reply("\n\n".join(self._trace(inv, e, titles) for e in entries[-3:]), private=True)

    def _trace(self, inv: Invocation, entry: RecentEntry, titles: dict[str, str]) -> str:
        dest = inv.destination.name
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        seen = datetime.fromtimestamp(entry.seen_at, timezone.utc)
        state = self.store.feed_state(entry.feed_id)
        feed = excerpt(self._feed_name(entry.feed_id), 80)
        if state and state.last_polled:
            seen_line = _("Seen in {feed} {when}; the feed was last polled {polled}.").format(
                feed=feed, when=ago(seen, now),
                polled=ago(datetime.fromtimestamp(state.last_polled, timezone.utc), now))
        else:
            seen_line = _("Seen in {feed} {when}.").format(feed=feed, when=ago(seen, now))
        lines = [f"{excerpt(entry.title or _('(untitled)'), 150)}", seen_line]
        lines += self._watch_lines(dest, entry)
        if entry.too_old:
            when = (_("published {when}").format(when=ago(datetime.fromtimestamp(entry.published, timezone.utc), now))
                    if entry.published is not None else _("undated"))
            days = self.settings.poll.max_age / 86400
            lines.append(_("Here: not announced: it is {when}, older than the {days} days tipoff announces "
                           "([poll] max_age).").format(when=when, days=f"{days:g}"))
            return "\n".join(lines)
        fates = [f for f in entry.fates if f.destination == dest]
        for fate in fates:
            said = _(_OUTCOMES[fate.outcome]) if fate.outcome in _OUTCOMES else fate.outcome
            said = said.format(detail=fate.detail)
            if fate.outcome == "repeat" and titles.get(fate.detail):
                said = _("not alerted again: a rewording of “{title}”, a story already told here (the alert names "
                         "this outlet)").format(title=excerpt(titles[fate.detail], 100))
            if fate.outcome in ("alerted", "held"):
                sent = fate.detail not in {i.id for i in self.store.pending(dest)}
                said += " " + (_("(sent)") if sent else _("(waiting in the outbox)"))
            lines.append(_("Here: {outcome}.").format(outcome=said))
        if not fates:
            lines.append(_("Here: no alert (no watch of this chat fired on it)."))
        return "\n".join(lines)

    def _watch_lines(self, dest: DestinationName, entry: RecentEntry) -> list[str]:
        """What each watch that alerts this chat made of the entry: the terms that
        matched, or the ones it lacked."""
        watches = [w for w in (*self.settings.watches, *self.chats.watches(dest)) if dest in w.notify]
        if not watches:
            return [_("This chat has no watches.")]
        feed = self._feed_name(entry.feed_id)
        matcher = Matcher(self.settings.rules)
        for w in watches:
            matcher.add(w)
        fired = {m.watch_id: m for m in matcher.match(entry.entry(), feed)}
        lines = []
        for w in watches[:10]:
            name = w.label or excerpt(w.rule, 80)
            if w.id in fired:
                lines.append("✓ " + _("{id} ({name}) matched {terms}").format(
                    id=w.id, name=name, terms=", ".join(fired[w.id].terms)))
                continue
            terms = positive_terms(parse_rule(w.rule, self.settings.rules))
            found = _terms_found(entry, feed, [str(t) for t in terms], self.settings.rules)
            missing = [str(t) for t in terms if str(t) not in found]
            lines.append("✗ " + _("{id} ({name}) did not match").format(id=w.id, name=name)
                         + (": " + _("found {terms}").format(terms=", ".join(found)) if found else "")
                         + ("; " + (_("missing {terms}").format(terms=", ".join(missing)) if missing
                                    else _("an excluded term is there"))))
        return lines


def _terms_found(entry: RecentEntry, feed: str, terms: list[str], limits: Limits) -> list[str]:
    """Which of a rule's terms occur in the entry, each tried as a rule of its own."""
    matcher = Matcher(limits)
    ids = {}
    for i, term in enumerate(dict.fromkeys(terms)):
        wid = WatchId(f"t{i}")
        ids[wid] = term
        try:
            matcher.add(Watch(wid, term, (), datetime.now(timezone.utc)))
        except RuleError:
            continue
    return [ids[m.watch_id] for m in matcher.match(entry.entry(), feed)]
