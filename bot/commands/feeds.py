"""/add, /remove, /feeds, /sources, /test, /export, /import: a chat's feeds."""

from __future__ import annotations

import re

import asyncio

from bot import sources
from bot.config import feed_id_for, parse_duration
from bot.feeds.errors import FeedError
from bot.feeds.intake import Found, find_feed
from bot.i18n import _, ngettext
from bot.model import ParsedFeed, Subscription, Watch, WatchId
from bot.opml import OpmlError, export_opml, parse_opml
from bot.render.text import ago, excerpt
from bot.rules.matcher import Matcher
from bot.rules.syntax import RuleError, parse_rule
from bot.stories.group import group_entries
from bot.commands.base import (
    _EVERY_TAIL,
    CommandsBase,
    Invocation,
    Reply,
    UsageError,
    _at,
    _duration,
)


_FULL = re.compile(r"\s+full(?=\s+every\s|\s*$)", re.IGNORECASE)  # "/add URL full [every 15m]"


class FeedCommands(CommandsBase):
    async def add(self, inv: Invocation, args: str) -> Reply:
        full = _FULL.search(args)  # "/add URL full": each new entry's article is read too
        if full:
            args = (args[:full.start()] + args[full.end():]).strip()
        url, every = self._feed_args(args)
        named = ""
        if sources.is_shortcut(url):
            try:
                source = sources.expand(url, self.settings.sources)
            except sources.SourceError as exc:
                return Reply(_("I can't use {source}: {problem}").format(source=url, problem=exc))
            url, named = source.url, source.title
        return await self._add_url(inv, url, every, named, full_text=full is not None)

    async def _add_url(self, inv: Invocation, url: str, every: float, named: str = "",
                       full_text: bool = False) -> Reply:
        dest = inv.destination.name
        mine = self.chats.feeds(dest)
        if any(s.url == url for s in mine):
            same = next(s for s in mine if s.url == url)
            return Reply(_("This chat already has that feed ({id}).").format(id=same.id))
        if any(f.url == url for f in self.settings.feeds):
            return Reply(_("That feed is already watched for every chat: your watches see it."))
        if self._feed_count(inv) >= self.settings.limits.feeds_per_chat:
            return Reply(self._at_limit(inv, "feeds", self.settings.limits.feeds_per_chat))
        try:
            found = await self._fetch(url)
        except FeedError as exc:
            return Reply(_("I couldn't add {url}: {problem}").format(url=url, problem=exc.message))
        if found.url != url and any(s.url == found.url for s in mine):
            return Reply(_("That page's feed is already here: {url}").format(url=found.url))
        url, parsed = found.url, found.parsed
        note = ""
        if every < self.settings.poll.min_every:
            note = " " + _("(raised to the minimum of {every})").format(every=_duration(self.settings.poll.min_every))
            every = self.settings.poll.min_every
        sub = Subscription(self._new_id("f"), dest, url, every, self._now(), inv.user, inv.group, full_text)
        await self.chats.add_feeds([sub])
        page = f"{named}: " if named else ""
        if found.page and not named:
            page = _("That page is not a feed; I found its feed {url}.").format(url=url)
            if found.others:
                page += " " + _("It also offers: {feeds}").format(
                    feeds=", ".join(f"{o.url} ({o.kind})" for o in found.others[:5]))
            page += "\n"
        full = " " + _("Each new entry's article is read and matched too.") if full_text else ""
        added = ngettext("Added {title} as {id}: {kind}, {count} entry now; checked every {every}{note}.",
                         "Added {title} as {id}: {kind}, {count} entries now; checked every {every}{note}.",
                         len(parsed.entries)).format(title=parsed.title or url, id=sub.id, kind=parsed.kind,
                                                     count=len(parsed.entries), every=_duration(every), note=note)
        return Reply(f"{page}{added} " + _("Only entries published from now on will alert.") + full)

    def _feed_args(self, args: str) -> tuple[str, float]:
        parts = args.split()
        if not parts:
            raise UsageError(_("Which feed? Give its address."))
        every = self.settings.poll.every
        if sources.is_shortcut(args):
            tail = _EVERY_TAIL.search(args)
            spec = args[:tail.start()] if tail else args
            if tail:
                every = self._duration_arg(tail.group(1))
            return spec.strip(), every
        url = parts[0]
        if not url.startswith(("http://", "https://")):
            raise UsageError(_("{url} is not a web address (http:// or https://) nor a source shortcut "
                               "(/sources lists them).").format(url=repr(url)))
        rest = parts[1:]
        if rest:
            if rest[0].lower() != "every" or len(rest) != 2:
                raise UsageError(_("I don't understand {words}.").format(words=repr(" ".join(rest))))
            try:
                every = parse_duration(rest[1])
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        return url, every

    async def _fetch(self, url: str) -> Found:
        """A chat's address (shortcuts are expanded by the callers) → a working feed,
        discovering it when the address is a page; within the command's fetch budget."""
        budget = self.settings.limits.command_time
        try:
            return await asyncio.wait_for(
                find_feed(self.fetcher, url, trusted=False, max_entries=self.settings.fetch.max_entries), budget)
        except asyncio.TimeoutError:
            raise FeedError("timeout", _("gave up after {seconds}s: a command may spend that long fetching")
                            .format(seconds=f"{budget:g}")) from None

    async def sources(self, inv: Invocation, args: str) -> Reply:
        lines = [_("Instead of a feed address, /add understands these:")]
        for prefix, what, examples in sources.catalogue():
            lines.append(f"{prefix}: {_(what)}")
            lines += [f"    /add {e}" for e in examples]
        return Reply("\n".join(lines))

    async def remove(self, inv: Invocation, args: str) -> Reply:
        if not args:
            raise UsageError(_("Which feed? /feeds lists their ids."))
        sub = next((s for s in self.chats.feeds(inv.destination.name) if s.id == args.split()[0]), None)
        if sub is None:
            return Reply(_("There is no feed {id} in this chat. /feeds lists them.").format(id=args.split()[0]))
        await self.chats.remove_feed(sub.id)
        return Reply(_("Removed {url}").format(url=sub.url))

    async def feeds(self, inv: Invocation, args: str) -> Reply:
        mine = self.chats.feeds(inv.destination.name)
        now = self._now()
        lines = []
        for s in mine:
            state = self.store.feed_state(feed_id_for(s.url))
            title = state.title if state and state.title else s.url
            ok = (_("last polled {when}").format(when=ago(_at(state.last_ok), now)) if state and state.last_ok
                  else _("not polled yet"))
            err = "; " + _("last error: {error}").format(error=state.last_error) if state and state.last_error else ""
            moved = "\n    " + _("moved to {url}").format(url=state.moved_to) if state and state.moved_to else ""
            stopped = ("\n    " + _("STOPPED: {reason} (resume to try again)").format(reason=state.stopped)
                       if state and state.stopped else "")
            every = _("every {every}").format(every=_duration(s.every))
            lines.append(f"{s.id}  {title}\n    {s.url}{moved}\n    {every}, {ok}{err}{stopped}")
        shared = len(self.settings.feeds)
        head = (_("Feeds added here ({count}):").format(count=len(mine)) if mine
                else _("No feeds added here yet (/add URL)."))
        tail = "\n" + ngettext("Plus {count} shared feed the operator set up for every chat.",
                               "Plus {count} shared feeds the operator set up for every chat.",
                               shared).format(count=shared) if shared else ""
        return Reply("\n".join([head, *lines]) + tail)

    async def test(self, inv: Invocation, args: str) -> Reply:
        if not args:
            raise UsageError(_("Give me a text or a feed address to test."))
        mine = self._mine(inv)
        if not mine:
            return Reply(_("This chat has no watches to test yet. Add one: {example}").format(
                example=self.commands["watch"].example(inv.destination.kind)))
        matcher = Matcher(self.settings.rules)
        for w in mine:
            matcher.add(w)
        if args.startswith(("http://", "https://")) and " " not in args:
            try:
                parsed = (await self._fetch(args)).parsed
            except FeedError as exc:
                return Reply(_("I couldn't read {url}: {problem}").format(url=args, problem=exc.message))
            lines = []
            for entry in parsed.entries:
                for m in matcher.match(entry):
                    lines.append(f"• {excerpt(entry.title or entry.link, 120)}\n    "
                                 + _("{id} matched {terms}").format(id=m.watch_id, terms=", ".join(m.terms)))
            head = f"{parsed.title or args}: " + ngettext("{count} entry, {alerts} would alert.",
                                                          "{count} entries, {alerts} would alert.",
                                                          len(parsed.entries)).format(count=len(parsed.entries),
                                                                                     alerts=len(lines))
            body = "\n".join([head, *lines[:15]]) + ("\n…" if len(lines) > 15 else "")
            return Reply(body + _stories_told_more_than_once(parsed, args))
        fired = matcher.match_fields({"title": args})
        if not fired:
            return Reply(_("None of this chat's watches would fire on that."))
        return Reply(_("Would fire:") + "\n" + "\n".join(
            _("{id}  matched {terms}").format(id=m.watch_id, terms=", ".join(m.terms))
            for m in sorted(fired, key=lambda m: m.watch_id)))

    async def export(self, inv: Invocation, args: str) -> Reply:
        dest = inv.destination.name
        feeds = []
        for s in self.chats.feeds(dest):
            state = self.store.feed_state(feed_id_for(s.url))
            feeds.append((state.title if state else "", s.url))
        watches = [w.rule for w in self._mine(inv)]
        data = export_opml(f"tipoff: {dest}", feeds, watches)
        return Reply(_("{feeds} feeds and {watches} watches.").format(feeds=len(feeds), watches=len(watches)),
                     document=("tipoff-export.opml", data),
                     private=True)

    async def import_(self, inv: Invocation, args: str) -> Reply:
        if inv.attachment is None:
            raise UsageError(_("Send /import as a reply to an OPML file (most feed readers can export one)."))
        try:
            contents = parse_opml(inv.attachment)
        except OpmlError as exc:
            return Reply(_("I couldn't read that file: {problem}").format(problem=exc))
        dest = inv.destination.name
        have = {s.url for s in self.chats.feeds(dest)} | {f.url for f in self.settings.feeds}
        added: list[Subscription] = []
        here: list[str] = []
        over_limit: list[str] = []
        refused: list[str] = []
        invalid: list[str] = []
        room = self.settings.limits.feeds_per_chat - self._feed_count(inv)
        for _title, url in contents.feeds:
            problem = self.fetcher.refusal(url) if url.startswith(("http://", "https://")) else "not http(s)"
            if problem is not None:
                (invalid if problem.startswith("not ") else refused).append(f"{url[:200]} ({problem})")
            elif url in have:
                here.append(url)
            elif len(added) >= room:
                over_limit.append(url)
            else:
                sub = Subscription(self._new_id("f", {s.id for s in added}), dest, url,
                                   max(self.settings.poll.every, self.settings.poll.min_every),
                                   self._now(), inv.user, inv.group)
                have.add(url)
                added.append(sub)
        await self.chats.add_feeds(added)
        watches_added = await self._import_watches(inv, contents.watches)
        parts = [ngettext("Added {count} feed", "Added {count} feeds", len(added)).format(count=len(added)),
                 _("skipped {count} already here").format(count=len(here))]
        if over_limit:
            parts.append(_("{count} over the limit of {limit} feeds").format(
                count=len(over_limit), limit=self.settings.limits.feeds_per_chat))
        if refused:
            parts.append(_("{count} refused").format(count=len(refused)))
        parts.append(_("{count} invalid").format(count=len(invalid)))
        lines = [", ".join(parts) + "."]
        if watches_added:
            lines.append(ngettext("Added {count} watch.", "Added {count} watches.", watches_added)
                         .format(count=watches_added))
        lines += [_("refused: {url}").format(url=u) for u in refused[:10]]
        lines += [_("invalid: {url}").format(url=u) for u in invalid[:10]]
        return Reply("\n".join(lines))

    async def _import_watches(self, inv: Invocation, rules: list[str]) -> int:
        dest = inv.destination.name
        existing = {w.rule for w in self._mine(inv)}
        room = self.settings.limits.watches_per_chat - self._watch_count(inv)
        batch: list[Watch] = []
        for rule in rules:
            if rule in existing or len(batch) >= room:
                continue
            try:
                parse_rule(rule, self.settings.rules)
            except RuleError:
                continue
            batch.append(Watch(WatchId(self._new_id("w", {w.id for w in batch})), rule, (dest,), self._now(),
                               owner=dest, group=inv.group))
            existing.add(rule)
        return await self.chats.add_watches(batch)


def _stories_told_more_than_once(parsed: ParsedFeed, url: str) -> str:
    """What tipoff considers one story among a feed's entries (an aggregator's feed
    often carries one story from several outlets), as lines for /test."""
    groups = [g for g in group_entries([(parsed, url)]) if len(g.members) > 1]
    if not groups:
        return ""
    lines = []
    for g in groups[:5]:
        line = f"• {excerpt(g.headline, 100)}\n    " + _("{count} entries").format(count=len(g.members))
        if g.sources:
            line += " " + (_("from {outlets} and more") if len(g.sources) > 4 else _("from {outlets}")).format(
                outlets=", ".join(g.sources[:4]))
        news = sum(m.verdict == "development" for m in g.members)
        if news:
            line += "; " + ngettext("{count} with a new fact", "{count} with a new fact", news).format(count=news)
        lines.append(line)
    return "\n\n" + _("One story, told more than once here:") + "\n" + "\n".join(lines)
