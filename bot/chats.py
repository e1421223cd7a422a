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

    async def restart_stopped_feeds(self, dest: DestinationName) -> list[str]:
        """Poll again the chat's feeds tipoff stopped (failing too long, 410 Gone); their
        titles (or addresses)."""
        restarted = []
        for sub in self.store.subscriptions(dest):
            state = self.store.feed_state(feed_id_for(sub.url))
            if state is not None and state.stopped:
                self.store.put_feed_state(replace(state, stopped=None, failures=0, failing_since=None, next_due=None))
                restarted.append(state.title or sub.url)
        if restarted:
            self.engine.feeds_changed()
            await self.store.flush()
        return restarted

    # -- settings -------------------------------------------------------------------

    async def set(self, dest: DestinationName, **settings: Any) -> DestinationState:
        """Change a chat's settings (digest, quiet, paused: DestinationState's fields); a
        chat un-paused has its waiting alerts delivered at once."""
        state = self.store.destination_state(dest)
        changed = replace(state, **settings)
        self.store.put_destination_state(changed)
        await self.store.flush()
        if settings.get("paused") is False:
            self.engine.wake([dest])
        return changed

    async def reactivate(self, dest: DestinationName) -> None:
        """A destination that was gone (bot removed, channel deleted) is tried again."""
        state = self.store.destination_state(dest)
        self.store.put_destination_state(replace(state, active=True, reason=None, since=None))
        await self.store.flush()
        self.engine.wake([dest])
