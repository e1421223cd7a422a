"""What chats configure, written in one place: their watches, their feeds and their
settings (digest, quiet hours, pause). Every change goes to the store and the engine
is told what changed, in the same call; the commands (and any other front end) call
this module, never the store's writers or the engine's indexes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Protocol

from bot.config import feed_id_for
from bot.model import DestinationName, Subscription, Watch, WatchId
from bot.store.base import DestinationState, Store


class Listener(Protocol):
    """What the engine is told (bot.engine.Engine has it)."""

    def add_watch(self, watch: Watch) -> None: ...
    def remove_watch(self, watch_id: WatchId) -> None: ...
    def feeds_changed(self) -> None: ...
    def wake(self, names: Iterable[DestinationName]) -> None: ...


class ChatSetup:
    def __init__(self, store: Store, engine: Listener) -> None:
        self.store = store
        self.engine = engine

    # -- reading --------------------------------------------------------------------

    def watches(self, dest: DestinationName | None = None) -> list[Watch]:
        """A chat's watches, oldest first (every chat's with None)."""
        return sorted(self.store.watches(dest), key=lambda w: w.created_at)

    def feeds(self, dest: DestinationName | None = None) -> list[Subscription]:
        return self.store.subscriptions(dest)

    def settings(self, dest: DestinationName) -> DestinationState:
        return self.store.destination_state(dest)

    # -- watches --------------------------------------------------------------------

    async def add_watch(self, watch: Watch) -> None:
        """Start a watch (RuleError for a bad rule, and nothing is written)."""
        self.engine.add_watch(watch)
        self.store.put_watch(watch)
        await self.store.flush()

    async def add_watches(self, watches: Iterable[Watch]) -> int:
        """Start several watches (an import), skipping bad rules; how many started."""
        from bot.rules.syntax import RuleError

        added = 0
        for watch in watches:
            try:
                self.engine.add_watch(watch)
            except RuleError:
                continue
            self.store.put_watch(watch)
            added += 1
        await self.store.flush()
        return added

    async def change_watch(self, watch: Watch) -> None:
        """A watch with new settings (snooze, label, digest): matched so from now on."""
        self.engine.remove_watch(watch.id)
        self.engine.add_watch(watch)
        self.store.put_watch(watch)
        await self.store.flush()

    async def remove_watch(self, watch_id: WatchId) -> Watch | None:
        self.engine.remove_watch(watch_id)
        removed = self.store.remove_watch(watch_id)
        await self.store.flush()
        return removed

    # -- feeds ----------------------------------------------------------------------

    async def add_feeds(self, subs: Iterable[Subscription]) -> None:
        for sub in subs:
            self.store.put_subscription(sub)
        self.engine.feeds_changed()
        await self.store.flush()

    async def remove_feed(self, sub_id: str) -> Subscription | None:
        removed = self.store.remove_subscription(sub_id)
        self.engine.feeds_changed()
        await self.store.flush()
        return removed

    # -- settings -------------------------------------------------------------------

    async def set(self, dest: DestinationName, **settings: Any) -> DestinationState:
        """Change a chat's settings (digest, quiet, paused: DestinationState's fields)."""
        changed = replace(self.store.destination_state(dest), **settings)
        self.store.put_destination_state(changed)
        await self.store.flush()
        return changed

    async def resume(self, dest: DestinationName) -> list[str]:
        """The chat takes alerts again, in one write: un-paused, its destination tried
        again if delivery to it had stopped (bot removed, no permission), and the feeds it
        added that tipoff stopped (failing too long, 410 Gone) polled again. Returns
        those feeds' titles (or addresses)."""
        restarted = []
        for sub in self.store.subscriptions(dest):
            state = self.store.feed_state(feed_id_for(sub.url))
            if state is not None and state.stopped:
                self.store.put_feed_state(replace(state, stopped=None, failures=0, failing_since=None, next_due=None))
                restarted.append(state.title or sub.url)
        chat = self.store.destination_state(dest)
        self.store.put_destination_state(replace(chat, paused=False) if chat.active else
                                         replace(chat, paused=False, active=True, reason=None))
        await self.store.flush()
        if restarted:
            self.engine.feeds_changed()
        self.engine.wake([dest])
        return restarted
