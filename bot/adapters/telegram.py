"""Telegram adapter, on python-telegram-bot: chat messages ↔ the command layer, and
alerts out as HTML messages paced within Telegram's limits.

PTB's Application is driven by hand (initialize, start, updater.start_polling, and the
reverse) so that it shares the event loop with the poller. Errors Telegram answers are
turned into the Adapter results: 429 → RetryAfter, 403 → Gone, a group upgraded to a
supergroup → Moved, network errors and 5xx → RetryAfter with backoff."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import warnings
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from aiolimiter import AsyncLimiter
from telegram import (BotCommand, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions,
                      Message, Update)
from telegram import error as tg
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot import destinations, i18n
from bot.adapters.base import Delivered, Gone, Limits, Moved, Rejected, RetryAfter, SendResult, StartError
from bot.commands import Commands, Invocation, Reply
from bot.config import TelegramSettings
from bot.i18n import _
from bot.model import Alert, Destination, Digest, Source, Told
from bot.render.text import split_lines
from bot.render.telegram import MAX_TEXT, alert_message, digest_message, inline_keyboard, split_digest, visible_text

log = logging.getLogger("tipoff.telegram")

ALLOWED_UPDATES = ["message", "channel_post", "callback_query"]
REFUSED_TOKEN = "Telegram refused the bot token in TIPOFF_TELEGRAM_TOKEN: check it with @BotFather"
NOT_REACHED = RetryAfter(30.0, "Telegram's Bot API has not been reached yet")
REPLY_CHUNK = 4000


def _spaced(per_second: float) -> AsyncLimiter:
    """One message at a time, evenly spaced: no bursts into a single chat."""
    return AsyncLimiter(1, 1 / per_second)


def parse_command(text: str, bot_username: str) -> tuple[str, str] | None:
    """'/watch@tipoffbot "a" b' → ('watch', '"a" b'); None for plain text or for a
    command addressed to another bot."""
    if not text.startswith("/"):
        return None
    head, _sep, args = text.partition(" ")
    if "\n" in head:
        head, _sep, more = head.partition("\n")
        args = more + (" " + args if args else "")
    name, _sep, target = head[1:].partition("@")
    if not name or (target and target.lower() != bot_username.lower()):
        return None
    return name.lower(), args.strip()


def send_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """Rendered sendMessage parameters → python-telegram-bot's send_message arguments."""
    kwargs = dict(params)
    preview = kwargs.pop("link_preview_options", None)
    if preview is not None:
        kwargs["link_preview_options"] = LinkPreviewOptions(**preview)
    markup = kwargs.pop("reply_markup", None)
    if markup is not None:
        kwargs["reply_markup"] = InlineKeyboardMarkup(
            [[InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
             for row in markup["inline_keyboard"]])
    return kwargs


class TelegramAdapter:
    kinds: tuple[str, ...] = ("telegram",)
    # Telegram's defaults; the rates are configurable under [telegram] (TelegramSettings)
    limits = Limits(message_chars=MAX_TEXT, messages_per_second=30.0, messages_per_chat_second=1.0)

    def __init__(self, settings: TelegramSettings, clock: Callable[[], float] = time.monotonic) -> None:
        if settings.token is None:
            raise ValueError("the Telegram adapter needs TIPOFF_TELEGRAM_TOKEN")
        self.settings = settings
        self.clock = clock
        self.commands: Commands | None = None
        self.app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .token(settings.token.reveal())
            .base_url(settings.base_url)
            .base_file_url(settings.base_file_url)
            .get_updates_read_timeout(settings.poll_timeout + 10)
            .concurrent_updates(True)  # chats at once; Commands keeps each chat's own in order
            .build()
        )
        self.app.add_handler(MessageHandler((filters.TEXT | filters.CAPTION) & ~filters.UpdateType.EDITED,
                                            self._on_message))
        self.app.add_handler(CallbackQueryHandler(self._on_button))
        self.app.add_error_handler(self._on_error)
        self._global = AsyncLimiter(settings.rate_global, 1)
        self._chats: dict[int, AsyncLimiter] = {}
        self._groups: dict[int, AsyncLimiter] = {}
        self._admins: dict[tuple[int, int], tuple[bool, float]] = {}
        self._started = False
        self._connecting: asyncio.Task[None] | None = None  # retrying to reach the Bot API
        self._poll_when_up = False  # elected to poll while the Bot API was out of reach
        self.exclusive_polling = False  # several workers: polling starts only when this one is elected
        self.on_reached: Callable[[str], None] = lambda reason: None  # the Bot API is reached after all

    def attach(self, commands: Commands) -> None:
        """Give the adapter the command layer (built after the engine that uses this adapter)."""
        self.commands = commands

    @property
    def webhook_path(self) -> str:
        """Where [http] listen takes this bot's updates in webhook mode. It names the
        bot (a hash of its token), and is no secret: the secret token header is."""
        assert self.settings.token is not None
        return "/telegram/" + self.settings.token.tag()

    def _webhook_secret(self) -> str:
        """The secret Telegram sends back with every update (X-Telegram-Bot-Api-Secret-Token):
        derived from the token, so every worker agrees on it without more configuration."""
        assert self.settings.token is not None
        return self.settings.token.derived("telegram webhook")

    async def start(self) -> None:
        """Reach the Bot API. A rejected token is a StartError (nothing to retry); a Bot
        API out of reach or failing (network, 5xx) is retried in the background with
        backoff while the rest of tipoff runs, and alerts for Telegram wait in the outbox."""
        if self._started or self._connecting is not None:
            return
        try:
            await self._connect()
        except tg.InvalidToken:
            raise StartError(REFUSED_TOKEN) from None
        except tg.NetworkError as exc:
            log.warning("telegram: the Bot API cannot be reached (%s); trying again in the background, and "
                        "alerts for Telegram wait", exc)
            self._connecting = asyncio.ensure_future(self._connect_later())

    async def _connect_later(self) -> None:
        delay = 2.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self._connect()
                self._connecting = None
                self.on_reached(NOT_REACHED.reason)  # alerts that waited for the Bot API go now
                return
            except tg.InvalidToken:
                log.error("telegram: %s", REFUSED_TOKEN)
                return
            except tg.NetworkError as exc:
                delay = min(delay * 2, 60.0)
                log.warning("telegram: the Bot API still cannot be reached (%s); next try in %.0fs", exc, delay)

    async def _connect(self) -> None:
        await self.app.initialize()
        if not self.app.running:
            await self.app.start()
        if self.commands is not None:
            for lang in i18n.LANGUAGES:  # the menu in every language tipoff speaks, English for the rest
                with i18n.speaking(lang):
                    await self.app.bot.set_my_commands([BotCommand(n, d[:256]) for n, d in self.commands.menu()],
                                                       language_code=None if lang == i18n.DEFAULT else lang)
            if self.settings.webhook:
                # every worker may take updates; Telegram then refuses getUpdates (409)
                await self.app.bot.set_webhook(self.settings.webhook + self.webhook_path,
                                               secret_token=self._webhook_secret(), allowed_updates=ALLOWED_UPDATES)
                log.info("telegram: updates arrive by webhook at %s%s", self.settings.webhook, self.webhook_path)
            elif not self.exclusive_polling or self._poll_when_up:
                await self._poll()
        self._started = True
        log.info("telegram: connected as @%s", self.app.bot.username)

    async def receive(self, secret: str | None, body: bytes) -> int:
        """One update from Telegram's webhook: the HTTP status to answer. A request
        without the secret token is refused (403) and ignored; a body that is not an
        update is a 400; an update is queued for the handlers and answered 200 at once
        (Telegram retries anything else)."""
        if not self._started or self.commands is None:
            return 503
        if secret is None or not hmac.compare_digest(secret.encode(), self._webhook_secret().encode()):
            log.warning("telegram: a webhook request without the right secret token was ignored")
            return 403
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update object")
            update = Update.de_json(data, self.app.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("telegram: a webhook body that is no update was ignored (%s)", type(exc).__name__)
            return 400
        await self.app.update_queue.put(update)
        return 200

    async def start_polling(self) -> None:
        """Receive updates (getUpdates long polling); one process per token at a time."""
        if not self._started:  # once the Bot API is reached
            self._poll_when_up = True
            return
        await self._poll()

    async def _poll(self) -> None:
        assert self.app.updater is not None
        if not self.app.updater.running:
            await self.app.updater.start_polling(timeout=int(self.settings.poll_timeout),
                                                 allowed_updates=ALLOWED_UPDATES,
                                                 error_callback=self._on_polling_error)

    async def stop_polling(self) -> None:
        self._poll_when_up = False
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if not self._started:  # never reached the Bot API, or only half
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()
            return
        self._started = False
        await self.stop_polling()
        await self.app.stop()
        await self.app.shutdown()

    # -- alerts out ------------------------------------------------------------

    async def send(self, destination: Destination, alert: Alert) -> SendResult:
        if not self._started:
            return NOT_REACHED
        chat_id, thread = self._where(destination)
        return await self._deliver(destination, alert_message(alert, chat_id, thread))

    def split_digest(self, digest: Digest) -> list[Digest]:
        return split_digest(digest)

    async def send_digest(self, destination: Destination, digest: Digest) -> SendResult:
        if not self._started:
            return NOT_REACHED
        chat_id, thread = self._where(destination)
        return await self._deliver(destination, digest_message(digest, chat_id, thread))

    async def notify(self, destination: Destination, text: str) -> SendResult:
        if not self._started:
            return NOT_REACHED
        chat_id, thread = self._where(destination)
        params: dict[str, Any] = {"chat_id": chat_id, "text": text[:4000]}
        if thread:
            params["message_thread_id"] = thread
        return await self._deliver(destination, params)

    @staticmethod
    def _where(destination: Destination) -> tuple[int | str, int | None]:
        chat_id = destination.option("chat_id")
        thread = destination.option("thread_id")
        assert chat_id is not None
        return chat_id, int(thread) if thread else None

    async def update(self, destination: Destination, told: Told, new: tuple[Source, ...]) -> SendResult:
        """Edit the alert's message to name every outlet so far (an edit notifies nobody)."""
        if not self._started:
            return NOT_REACHED
        if told.in_digest or not told.receipt.isdigit():
            return Rejected("the alert went out in a digest: it has no message of its own to edit")
        chat_id, thread = self._where(destination)
        params = alert_message(told.alert, chat_id, thread, datetime.fromtimestamp(told.sent_at, timezone.utc))
        params.pop("message_thread_id", None)
        params["message_id"] = int(told.receipt)
        return await self._deliver(destination, params, edit=True)

    async def _deliver(self, destination: Destination, params: dict[str, Any], edit: bool = False) -> SendResult:
        """Send one message (or edit one), turning Telegram's answers into Adapter results."""
        _chat, thread = self._where(destination)
        call = self.app.bot.edit_message_text if edit else self.app.bot.send_message
        await self._pace(params["chat_id"])
        try:
            message = await call(**send_kwargs(params))
            return Delivered(str(message.message_id) if isinstance(message, Message) else "")
        except tg.BadRequest as exc:
            return await self._bad_request(exc, params, call)
        except tg.RetryAfter as exc:
            with warnings.catch_warnings():  # PTB 22 warns that it will become a timedelta
                warnings.simplefilter("ignore")
                wait = exc.retry_after
            seconds = wait if isinstance(wait, (int, float)) else wait.total_seconds()
            return RetryAfter(float(seconds), f"Telegram flood control: retry after {seconds:.0f}s")
        except tg.ChatMigrated as exc:
            return Moved(destinations.telegram(exc.new_chat_id, int(thread) if thread else None).name)
        except tg.Forbidden as exc:
            return Gone(f"Telegram: {exc.message}")
        except (tg.TimedOut, tg.NetworkError) as exc:
            return RetryAfter(None, f"Telegram unreachable: {exc.message}")

    async def _bad_request(self, exc: tg.BadRequest, params: dict[str, Any],
                           call: Callable[..., Awaitable[Any]]) -> SendResult:
        text = exc.message.lower()
        if "chat not found" in text or "thread not found" in text or "topic_deleted" in text:
            return Gone(f"Telegram: {exc.message}")
        if "message is not modified" in text:  # an edit that changes nothing has nothing left to do
            return Delivered(str(params.get("message_id", "")))
        if "can't parse entities" in text:  # a renderer bug: still deliver, as plain text
            log.error("Telegram refused our HTML (%s); sending the alert as plain text", exc.message)
            plain = {k: v for k, v in params.items() if k != "parse_mode"}
            plain["text"] = visible_text(params["text"])
            try:
                message = await call(**send_kwargs(plain))
                return Delivered(str(message.message_id) if isinstance(message, Message) else "")
            except tg.TelegramError as again:
                return Rejected(f"Telegram: {again.message}")
        return Rejected(f"Telegram: {exc.message}")

    async def _pace(self, chat_id: int | str) -> None:
        """Telegram's limits: ~30 messages/s overall, ~1/s per chat, 20/min per group."""
        key = int(chat_id) if isinstance(chat_id, int) or str(chat_id).lstrip("-").isdigit() else hash(chat_id)
        await self._global.acquire()
        await self._chats.setdefault(key, _spaced(self.settings.rate_chat)).acquire()
        if key < 0:  # groups, supergroups and channels have negative ids
            group = self._groups.setdefault(key, AsyncLimiter(self.settings.rate_group_per_minute, 60))
            await group.acquire()

    # -- commands in -------------------------------------------------------------

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or self.commands is None:
            return
        parsed = parse_command(message.text or message.caption or "", self.app.bot.username or "")
        if parsed is None:
            return
        name, args = parsed
        thread = message.message_thread_id if message.is_topic_message else None
        dest = destinations.telegram(chat.id, thread)
        sender = message.from_user.id if message.from_user else (message.sender_chat.id if message.sender_chat else 0)

        async def can_manage() -> bool:
            return await self._can_manage(message)

        locale = update.effective_user.language_code if update.effective_user else None
        inv = Invocation(dest, f"telegram:{sender}", can_manage, locale=locale or "")
        with self.commands.speaking(inv):
            attachment = await self._attachment(message) if name == "import" else None
            if isinstance(attachment, Reply):
                await self._reply(message, attachment)
                return
            reply = await self.commands.run(replace(inv, attachment=attachment), name, args)
            if name == "dashboard" and chat.type != "private" and reply.private and "/signin?t=" in reply.text:
                reply = await self._in_private(sender, reply)  # a sign-in link is the asker's alone
            await self._reply(message, reply)

    async def _in_private(self, user_id: int, reply: Reply) -> Reply:
        """Send a reply for one person (a dashboard sign-in link) to their private chat
        with the bot; what to say in the group instead."""
        try:
            await self.app.bot.send_message(chat_id=user_id, text=reply.text,
                                            link_preview_options=LinkPreviewOptions(is_disabled=True))
        except (tg.Forbidden, tg.BadRequest):
            return Reply(_("I can't write to you privately yet: open a chat with @{bot}, press Start, then ask "
                           "/dashboard here again. The link comes to you alone.").format(bot=self.app.bot.username))
        return Reply(_("I sent you the sign-in link in a private message."))

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button under an alert or a reply was pressed: run its action as the one who
        pressed it, answer with a short notice, and say the outcome in the chat."""
        query = update.callback_query
        if query is None or self.commands is None:
            return
        message = query.message
        if not isinstance(message, Message):  # too old for Telegram to tell us the chat
            with i18n.speaking(query.from_user.language_code):
                await query.answer(_("This message is too old; use the command instead."), show_alert=True)
            return
        thread = message.message_thread_id if message.is_topic_message else None
        dest = destinations.telegram(message.chat.id, thread)

        async def can_manage() -> bool:
            return await self._can_press(query, message)

        reply = await self.commands.press(Invocation(dest, f"telegram:{query.from_user.id}", can_manage,
                                                     locale=query.from_user.language_code or ""), query.data or "")
        await query.answer(reply.text[:200], show_alert=reply.private)
        if not reply.private:
            await self._reply(message, reply, quote=False)

    async def _can_press(self, query: CallbackQuery, message: Message) -> bool:
        if message.chat.type == "private":
            return True
        return await self._is_admin(message.chat.id, query.from_user.id)

    async def _can_manage(self, message: Message) -> bool:
        chat = message.chat
        if chat.type in ("private", "channel"):
            return True  # in a channel, only its admins can post
        if message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True  # an anonymous group admin
        if message.from_user is None:
            return False
        return await self._is_admin(chat.id, message.from_user.id)

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        key = (chat_id, user_id)
        cached = self._admins.get(key)
        if cached and cached[1] > self.clock():
            return cached[0]
        member = await self.app.bot.get_chat_member(chat_id, user_id)
        allowed = member.status in ("creator", "administrator")
        self._admins[key] = (allowed, self.clock() + self.settings.admin_cache)
        return allowed

    async def _attachment(self, message: Message) -> bytes | Reply | None:
        document = message.document or (message.reply_to_message.document if message.reply_to_message else None)
        if document is None:
            return None
        if document.file_size and document.file_size > self.limits.import_bytes:
            return Reply(_("That file is too large to import (over {size} MB).").format(
                size=self.limits.import_bytes // 1024 // 1024))
        file = await document.get_file()
        return bytes(await file.download_as_bytearray())

    async def _reply(self, message: Message, reply: Reply, quote: bool = True) -> None:
        chunks = split_lines(reply.text, REPLY_CHUNK)
        for i, chunk in enumerate(chunks):
            markup = send_kwargs({"reply_markup": inline_keyboard(reply.buttons)})["reply_markup"] \
                if reply.buttons and i == len(chunks) - 1 else None
            await message.reply_text(chunk, do_quote=quote and message.chat.type != "private",
                                     link_preview_options=LinkPreviewOptions(is_disabled=True), reply_markup=markup)
        if reply.document is not None:
            name, data = reply.document
            await message.reply_document(document=data, filename=name)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: error handling an update: %s", context.error, exc_info=context.error)

    def _on_polling_error(self, error: tg.TelegramError) -> None:
        log.warning("telegram: getUpdates failed: %s", error)
