"""A fake Telegram Bot API on 127.0.0.1 that speaks the real protocol, so the real
python-telegram-bot is what the tests exercise: the {"ok": ...} envelope and HTTP
error codes, long-polling getUpdates with offsets, or a webhook (setWebhook with a
secret token: updates are POSTed to it and retried until accepted; getUpdates then
answers 409, as Telegram does), getMe, setMyCommands,
getChatMember, sendMessage (with Telegram's HTML validation and length limit),
editMessageText (message to edit not found, message is not modified),
sendDocument, getFile and file downloads, and switches that make a chat answer 429
with retry_after, 403, 5xx, or migrate_to_chat_id."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import LocalServer
from tests.fakes.telegram_html import TelegramHTMLError, utf16_len, visible_text

TOKEN = "123456:TEST-token-never-logged"
BOT = {"id": 123456, "is_bot": True, "first_name": "tipoff", "username": "tipoff_test_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass
class Chat:
    id: int
    type: str  # private | group | supergroup | channel
    title: str = ""
    is_forum: bool = False
    admins: set[int] = field(default_factory=set)

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            out["first_name"] = "User"
        else:
            out["title"] = self.title or f"chat {self.id}"
        if self.is_forum:
            out["is_forum"] = True
        return out


@dataclass
class Sent:
    chat_id: int
    params: dict[str, Any]
    at: float
    message_id: int = 0

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback_data) of its inline keyboard."""
        markup = self.params.get("reply_markup") or {}
        return [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def thread_id(self) -> int | None:
        t = self.params.get("message_thread_id")
        return int(t) if t else None


class FakeTelegram(LocalServer):
    def __init__(self) -> None:
        self.chats: dict[int, Chat] = {}
        self.sent: list[Sent] = []  # accepted sendMessage calls
        self.edits: list[Sent] = []  # accepted editMessageText calls (message_id: the message edited)
        self.deleted: set[tuple[int, int]] = set()  # (chat, message) a user deleted
        self.documents: list[tuple[int, str, bytes]] = []
        self.rejected: list[tuple[int, str]] = []
        self.commands: list[dict[str, str]] = []
        self.menus: dict[str, list[dict[str, str]]] = {}  # language_code ("" for the default) → the menu
        self.files: dict[str, bytes] = {}
        self.calls: list[str] = []
        self.answers: list[tuple[str, str, bool]] = []
        self.conflicts = 0  # getUpdates refused because another was in progress (409)
        self._polling = 0  # answerCallbackQuery: (query id, text, show_alert)
        self.failures: dict[int, list[tuple[int, dict[str, Any]]]] = {}  # chat → queued error answers
        self.down = False  # answer 502 to everything
        self.updates_down = False  # answer 502 to getUpdates (python-telegram-bot backs off, up to 30 s)
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self.webhook: dict[str, Any] | None = None  # setWebhook's url, secret_token, allowed_updates
        self.webhook_answers: list[int] = []  # HTTP status of every webhook delivery attempt
        self._pusher: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1000)

    # -- set-up ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def chat(self, chat_id: int, type: str = "supergroup", admins: set[int] | None = None,
             is_forum: bool = False) -> Chat:
        self.chats[chat_id] = Chat(chat_id, type, is_forum=is_forum, admins=admins or set())
        return self.chats[chat_id]

    def fail_next(self, chat_id: int, status: int, description: str, **parameters: Any) -> None:
        """The next sendMessage to this chat gets this error answer."""
        self.failures.setdefault(chat_id, []).append((status, {"description": description, **parameters}))

    def user_says(self, chat_id: int, user_id: int, text: str, *, thread_id: int | None = None,
                  document: bytes | None = None, reply_to_document: bytes | None = None,
                  language: str | None = None) -> None:
        """Queue an update: a user (or, in a channel, the channel) posts a message; `language`
        is the IETF tag Telegram sends as the user's language_code (their app's language)."""
        chat = self.chats[chat_id]
        message: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()),
                                   "chat": chat.json(), "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if chat.type == "channel":
            message["sender_chat"] = chat.json()
        else:
            message["from"] = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}",
                               **({"language_code": language} if language else {})}
        if thread_id:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if document is not None:
            message["document"] = self._file(document)
            message["caption"] = message.pop("text")
            message.pop("entities", None)
        if reply_to_document is not None:
            message["reply_to_message"] = {"message_id": next(self._message_ids), "date": int(time.time()),
                                           "chat": chat.json(), "document": self._file(reply_to_document)}
        kind = "channel_post" if chat.type == "channel" else "message"
        self._updates.append({"update_id": next(self._ids), kind: message})
        self._new_update.set()

    def user_presses(self, sent: Sent, user_id: int, callback_data: str, *, language: str | None = None) -> None:
        """Queue a callback_query update: a user pressed a button under a message we sent."""
        assert callback_data in [data for _, data in sent.buttons], "no such button on that message"
        chat = self.chats[sent.chat_id]
        message: dict[str, Any] = {"message_id": sent.message_id, "date": int(time.time()), "chat": chat.json(),
                                   "text": sent.text, "from": BOT}
        if sent.thread_id:
            message["message_thread_id"] = sent.thread_id
            message["is_topic_message"] = True
        query = {"id": str(next(self._ids)), "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}",
                                                      **({"language_code": language} if language else {})},
                 "message": message, "chat_instance": str(sent.chat_id), "data": callback_data}
        self._updates.append({"update_id": next(self._ids), "callback_query": query})
        self._new_update.set()

    def _file(self, data: bytes) -> dict[str, Any]:
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = data
        return {"file_id": file_id, "file_unique_id": "u" + file_id, "file_name": "feeds.opml",
                "mime_type": "text/x-opml", "file_size": len(data)}

    def sent_to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    def replies_to(self, chat_id: int) -> list[str]:
        return [s.text for s in self.sent_to(chat_id) if s.params.get("parse_mode") != "HTML"]

    def alerts_to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent_to(chat_id) if s.params.get("parse_mode") == "HTML"]

    # -- server ------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)
        await self.serve_app(app)

    async def stop(self) -> None:
        self._new_update.set()
        if self._pusher is not None:
            self._pusher.cancel()
        await super().stop()

    async def _push(self) -> None:
        """While a webhook is set, POST each pending update to it, oldest first, with the
        secret token header; anything but a 2xx is retried (as Telegram does)."""
        import aiohttp

        async with aiohttp.ClientSession() as session:
            while True:
                hook = self.webhook
                if hook is None or not self._updates:
                    await asyncio.sleep(0.05)
                    continue
                update = self._updates[0]
                headers = {"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]} if hook.get("secret_token") else {}
                try:
                    async with session.post(hook["url"], json=update, headers=headers) as answer:
                        status = answer.status
                except aiohttp.ClientError:
                    status = 0
                self.webhook_answers.append(status)
                if 200 <= status < 300 and self._updates and self._updates[0] is update:
                    self._updates.pop(0)
                elif not 200 <= status < 300:
                    await asyncio.sleep(0.2)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        out: dict[str, Any] = {}
        for key, value in form.items():
            if hasattr(value, "file"):
                out[key] = (value.filename, value.file.read())
                continue
            try:
                out[key] = json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value
            except json.JSONDecodeError:
                out[key] = value
        return out

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        self.calls.append(method)
        if (self.down and method != "getUpdates") or (self.updates_down and method == "getUpdates"):
            return _error(502, "Bad Gateway")
        params = await self._params(request)
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        return await handler(params)

    async def _m_getMe(self, params: dict[str, Any]) -> web.Response:
        return _ok(BOT)

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = None
        return _ok(True)

    async def _m_setWebhook(self, params: dict[str, Any]) -> web.Response:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if not url.startswith(("https://", "http://127.0.0.1")):  # Telegram: https only (loopback for tests)
            return _error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            return _error(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates")}
        if self._pusher is None:
            self._pusher = asyncio.ensure_future(self._push())
        return _ok(True)

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> web.Response:
        return _ok({"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)})

    async def _m_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        commands = params.get("commands")
        if not isinstance(commands, list) or not all(1 <= len(c["command"]) <= 32 and
                                                     c["command"].islower() and 1 <= len(c["description"]) <= 256
                                                     for c in commands):
            return _error(400, "Bad Request: BOT_COMMAND_INVALID")
        lang = params.get("language_code") or ""
        if lang and not (len(lang) == 2 and lang.isalpha() and lang.islower()):
            return _error(400, "Bad Request: invalid language code specified")
        self.menus[lang] = commands
        if not lang:
            self.commands = commands
        return _ok(True)

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook is not None:
            self.conflicts += 1
            return _error(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
                               "to delete the webhook first")
        if self._polling:  # as Telegram does: one getUpdates at a time per bot
            self.conflicts += 1
            return _error(409, "Conflict: terminated by other getUpdates request; make sure that only one bot "
                               "instance is running")
        self._polling += 1
        try:
            return await self._get_updates(params)
        finally:
            self._polling -= 1

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), min(timeout, 2))
            except asyncio.TimeoutError:
                pass
        return _ok([u for u in self._updates if u["update_id"] >= offset][:100])

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        if len(str(params.get("text", ""))) > 200:
            return _error(400, "Bad Request: MESSAGE_TOO_LONG")
        self.answers.append((str(params["callback_query_id"]), str(params.get("text", "")),
                             bool(params.get("show_alert"))))
        return _ok(True)

    async def _m_getChatMember(self, params: dict[str, Any]) -> web.Response:
        chat = self.chats.get(int(params["chat_id"]))
        if chat is None:
            return _error(400, "Bad Request: chat not found")
        user_id = int(params["user_id"])
        status = "administrator" if user_id in chat.admins else "member"
        member: dict[str, Any] = {"status": status, "user": {"id": user_id, "is_bot": False, "first_name": "u"}}
        if status == "administrator":
            member.update({k: True for k in ("can_be_edited", "is_anonymous", "can_manage_chat",
                                             "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
                                             "can_promote_members", "can_change_info", "can_invite_users",
                                             "can_post_stories", "can_edit_stories", "can_delete_stories")})
            member["can_be_edited"] = member["is_anonymous"] = False
        return _ok(member)

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        chat = self.chats.get(chat_id)
        if chat is None:
            return _error(400, "Bad Request: chat not found")
        failed = self._queued_failure(chat_id)
        if failed is not None:
            return failed
        shown, refused = self._text_of(chat_id, params)
        if refused is not None:
            return refused
        thread = params.get("message_thread_id")
        if thread and not chat.is_forum:
            return _error(400, "Bad Request: message thread not found")
        problem = _keyboard_problem(params.get("reply_markup"))
        if problem:
            self.rejected.append((chat_id, problem))
            return _error(400, f"Bad Request: {problem}")
        message_id = next(self._message_ids)
        self.sent.append(Sent(chat_id, params, time.monotonic(), message_id))
        message = {"message_id": message_id, "date": int(time.time()), "chat": chat.json(),
                   "text": shown, "from": BOT}
        if thread:
            message["message_thread_id"] = int(thread)
        return _ok(message)

    def _queued_failure(self, chat_id: int) -> web.Response | None:
        """The answer fail_next queued for this chat, if any."""
        queued = self.failures.get(chat_id)
        if not queued:
            return None
        status, body = queued.pop(0)
        parameters = {k: v for k, v in body.items() if k != "description"}
        return _error(status, body["description"], parameters or None)

    def _text_of(self, chat_id: int, params: dict[str, Any]) -> tuple[str, web.Response | None]:
        """A message's text as the chat would show it, or Telegram's refusal of it."""
        shown = text = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML":
            try:
                shown = visible_text(text)
            except TelegramHTMLError as exc:
                self.rejected.append((chat_id, str(exc)))
                return shown, _error(400, f"Bad Request: {exc}")
        if not shown.strip():
            return shown, _error(400, "Bad Request: message text is empty")
        if utf16_len(shown) > 4096:
            self.rejected.append((chat_id, "too long"))
            return shown, _error(400, "Bad Request: message is too long")
        return shown, None

    def delete(self, sent: Sent) -> None:
        """A user deletes one of the bot's messages."""
        self.deleted.add((sent.chat_id, sent.message_id))

    def shown(self, sent: Sent) -> str:
        """The message's text as the chat sees it now (after any edits)."""
        edits = [e for e in self.edits if (e.chat_id, e.message_id) == (sent.chat_id, sent.message_id)]
        return (edits[-1] if edits else sent).text

    async def _m_editMessageText(self, params: dict[str, Any]) -> web.Response:
        chat_id, message_id = int(params.get("chat_id") or 0), int(params.get("message_id") or 0)
        if chat_id not in self.chats:
            return _error(400, "Bad Request: chat not found")
        failed = self._queued_failure(chat_id)
        if failed is not None:
            return failed
        if "message_thread_id" in params:
            return _error(400, "Bad Request: unexpected parameter message_thread_id")
        original = next((m for m in self.sent if (m.chat_id, m.message_id) == (chat_id, message_id)), None)
        if original is None or (chat_id, message_id) in self.deleted:
            return _error(400, "Bad Request: message to edit not found")
        text = str(params.get("text", ""))
        shown, refused = self._text_of(chat_id, params)
        if refused is not None:
            return refused
        problem = _keyboard_problem(params.get("reply_markup"))
        if problem:
            return _error(400, f"Bad Request: {problem}")
        current = self.shown(original)
        if text == current:
            return _error(400, "Bad Request: message is not modified: specified new message content and reply "
                               "markup of the message are exactly the same as a current content and reply "
                               "markup of the message")
        self.edits.append(Sent(chat_id, params, time.monotonic(), message_id))
        return _ok({"message_id": message_id, "date": int(time.time()), "edit_date": int(time.time()),
                    "chat": self.chats[chat_id].json(), "text": shown, "from": BOT})

    async def _m_sendDocument(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        chat = self.chats.get(chat_id)
        if chat is None:
            return _error(400, "Bad Request: chat not found")
        name, data = params["document"]
        self.documents.append((chat_id, name, data))
        return _ok({"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat.json(),
                    "document": {"file_id": "doc", "file_unique_id": "udoc", "file_name": name}})

    async def _m_getFile(self, params: dict[str, Any]) -> web.Response:
        file_id = str(params["file_id"])
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        return _ok({"file_id": file_id, "file_unique_id": "u" + file_id, "file_size": len(self.files[file_id]),
                    "file_path": f"documents/{file_id}.opml"})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.Response(status=401)
        file_id = request.match_info["path"].rsplit("/", 1)[-1].removesuffix(".opml")
        return web.Response(body=self.files.get(file_id, b""))


def _keyboard_problem(markup: Any) -> str | None:
    """What Telegram would refuse in an inline keyboard, or None."""
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) and r for r in rows):
        return "can't parse reply keyboard markup JSON object"
    for b in (b for r in rows for b in r):
        if not b.get("text"):
            return "button text is empty"
        data = b.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= 64:
            return "BUTTON_DATA_INVALID"
    return None


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
