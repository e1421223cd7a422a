"""A fake Discord on 127.0.0.1, speaking the real REST and gateway protocols so the
real discord.py is what the tests exercise: login (/users/@me, /oauth2/applications/@me),
command sync, interaction callbacks and follow-ups, channel messages, webhooks and
attachments over REST (validated like Discord, with its `50035 Invalid Form Body`
errors), message edits by the bot and by webhooks (`10008 Unknown Message` once deleted); HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeat ACKs and INTERACTION_CREATE
over the gateway, sharded like Discord's (IDENTIFY's `shard` decides which servers a
connection serves and which interactions it receives; 4010 for an invalid shard, 4011
when a connection would serve more servers than `guilds_per_shard`; GET /gateway/bot
recommends a shard count; an IDENTIFY sooner than `identify_interval` after another in
its concurrency bucket gets an Invalid Session, and is recorded); and switches for 429 (with the `Via` header real Discord sends), 403,
404 and 5xx. Every JSON answer has a Content-Type of exactly application/json, as
discord.py requires."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.server import LocalServer

TOKEN = "discord-test-token.never.logged"
APP_ID = "900000000000000001"
BOT_USER = {"id": "900000000000000002", "username": "tipoff", "discriminator": "0", "avatar": None,
            "global_name": "tipoff", "bot": True, "flags": 0, "public_flags": 0}
MANAGE_CHANNELS = 1 << 4
SEND_MESSAGES = 1 << 11
VIEW_CHANNEL = 1 << 10
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")


def validate_message(body: dict[str, Any]) -> dict[str, Any]:
    """Discord's checks on a message body: {} when valid, else the `errors` tree of a
    50035 Invalid Form Body answer."""
    errors: dict[str, Any] = {}

    def fail(path: list[str], code: str, message: str) -> None:
        node = errors
        for key in path:
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    content = body.get("content") or ""
    if len(content) > 2000:
        fail(["content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        fail(["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        path = ["embeds", str(i)]
        for key, limit in (("title", 256), ("description", 4096)):
            value = embed.get(key)
            if value is not None and len(value) > limit:
                fail(path + [key], "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
            total += len(value or "")
        for key, sub, limit in (("author", "name", 256), ("footer", "text", 2048)):
            if key in embed:
                value = embed[key].get(sub)
                if not value:
                    fail(path + [key, sub], "BASE_TYPE_REQUIRED", "This field is required")
                elif len(value) > limit:
                    fail(path + [key, sub], "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
                total += len(value or "")
        for key, url in (("url", embed.get("url")), ("thumbnail", (embed.get("thumbnail") or {}).get("url")),
                         ("image", (embed.get("image") or {}).get("url"))):
            if url is not None and (not _URL.match(url) or len(url) > 2048):
                fail(path + [key], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        color = embed.get("color")
        if color is not None and not (isinstance(color, int) and 0 <= color <= 0xFFFFFF):
            fail(path + ["color"], "NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215.")
        if "timestamp" in embed:
            try:
                datetime.fromisoformat(embed["timestamp"])
            except (TypeError, ValueError):
                fail(path + ["timestamp"], "DATE_TYPE_PARSE", "Could not parse timestamp.")
        if len(embed.get("fields") or []) > 25:
            fail(path + ["fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    if total > 6000:
        fail(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    mentions = body.get("allowed_mentions")
    if mentions is not None:
        parse = mentions.get("parse", [])
        if not set(parse) <= {"roles", "users", "everyone"}:
            fail(["allowed_mentions", "parse"], "ENUM_TYPE_COERCE", "Value must be one of roles, users, everyone.")
        for kind in ("roles", "users"):
            if kind in parse and mentions.get(kind):
                fail(["allowed_mentions", "parse"], "SET_TYPE_ALREADY_CONTAINS_VALUE",
                     f"parse:[\"{kind}\"] and {kind}: [ids...] are mutually exclusive.")
    rows = body.get("components") or []
    if len(rows) > 5:
        fail(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for r, row in enumerate(rows):
        buttons = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(buttons) <= 5:
            fail(["components", str(r)], "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "An action row holds 1 to 5 buttons.")
        for b, button in enumerate(buttons):
            path = ["components", str(r), "components", str(b)]
            if button.get("type") != 2 or not 1 <= len(button.get("label") or "") <= 80:
                fail(path + ["label"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")
            if button.get("style") != 5 and not 1 <= len(button.get("custom_id") or "") <= 100:
                fail(path + ["custom_id"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    if len(str(body.get("nonce", ""))) > 25:
        fail(["nonce"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    return errors


def pings(body: dict[str, Any]) -> list[str]:
    """Who a message would ping, given its content and allowed_mentions (embeds never ping)."""
    content = body.get("content") or ""
    mentions = body.get("allowed_mentions")
    parse = set(mentions.get("parse", [])) if mentions is not None else {"roles", "users", "everyone"}
    roles = {str(r) for r in mentions.get("roles", [])} if mentions is not None else set()  # ints or strings
    users = {str(u) for u in mentions.get("users", [])} if mentions is not None else set()
    out = []
    for target in re.findall(r"@(everyone|here)", content):
        if "everyone" in parse:
            out.append("@" + target)
    for role in re.findall(r"<@&(\d+)>", content):
        if "roles" in parse or role in roles:
            out.append("role:" + role)
    for user in re.findall(r"<@!?(\d+)>", content):
        if "users" in parse or user in users:
            out.append("user:" + user)
    return out


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def _error(status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return _json(body, status)


@dataclass
class Posted:
    channel_id: str
    body: dict[str, Any]
    at: float
    pinged: list[str] = field(default_factory=list)
    message_id: str = ""

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, custom_id) of its buttons."""
        return [(b.get("label", ""), b.get("custom_id", "")) for row in self.body.get("components") or []
                for b in row.get("components", [])]

    @property
    def embed(self) -> dict[str, Any]:
        return (self.body.get("embeds") or [{}])[0]


class FakeDiscord(LocalServer):
    def __init__(self) -> None:
        self.guild_id = "800000000000000001"
        self.guilds = {self.guild_id: "Pop Fans"}
        self.channels = {"800000000000000010": "alerts", "800000000000000011": "other",
                         "800000000000000012": "system"}
        self.channel_guild = {c: self.guild_id for c in self.channels}
        self.guilds_per_shard = 2500  # Discord's limit per gateway connection
        self.max_concurrency = 1
        self.identify_interval = 5.0
        self.identifies: list[tuple[float, int, int]] = []  # (when, shard id, shard count)
        self.too_fast: list[tuple[int, int]] = []  # IDENTIFYs refused for coming too soon
        self.closed_with: list[int] = []  # close codes the gateway sent
        self.gateway_bot_status = 200  # what GET /gateway/bot answers
        self._shard_of: dict[web.WebSocketResponse, tuple[int, int]] = {}
        self.roles = {"800000000000000020": "fans", "800000000000000021": "tipoff admins"}
        self.posted: list[Posted] = []  # accepted channel messages
        self.webhook_posts: list[Posted] = []
        self.edits: list[Posted] = []  # accepted message edits (channel or webhook id, message_id: the message)
        self.deleted: set[str] = set()  # message ids a user deleted
        self.replies: list[dict[str, Any]] = []  # interaction responses and follow-ups
        self.synced: dict[str, list[dict[str, Any]]] = {}  # scope → commands
        self.attachments: dict[str, bytes] = {}
        self.invalid: list[dict[str, Any]] = []  # 50035 answers given
        self.failures: dict[str, list[tuple[int, Any]]] = {}  # channel or webhook id → queued answers
        self.webhooks: dict[str, str] = {"700000000000000001": "w" * 68}
        self.calls: list[str] = []
        self.identified = asyncio.Event()
        self._nonces: dict[tuple[str, Any], dict[str, Any]] = {}
        self.nonce_repeats: list[tuple[str, Any]] = []  # sends Discord dropped as repeats of a nonce
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)

    # -- addresses --------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def webhook_url(self, webhook_id: str = "700000000000000001") -> str:
        return f"http://127.0.0.1:{self.port}/api/webhooks/{webhook_id}/{self.webhooks.get(webhook_id, 'x' * 68)}"

    def snowflake(self) -> str:
        return str(810000000000000000 + next(self._ids))

    # -- servers and shards ------------------------------------------------------------

    def add_guild(self, guild_id: str, channel_id: str, name: str = "Another Server") -> None:
        self.guilds[guild_id] = name
        self.channels[channel_id] = "alerts"
        self.channel_guild[channel_id] = guild_id

    @staticmethod
    def shard_for(guild_id: str, count: int) -> int:
        """Discord's rule: shard_id = (guild_id >> 22) % num_shards."""
        return (int(guild_id) >> 22) % count

    def recommended_shards(self) -> int:
        return max(1, -(-len(self.guilds) // min(self.guilds_per_shard, 1000)))

    def connected_shards(self) -> list[tuple[int, int]]:
        """(shard id, shard count) of every identified gateway connection now open."""
        return sorted(v for ws, v in self._shard_of.items() if not ws.closed)

    # -- switches ------------------------------------------------------------------

    def rate_limit_next(self, target: str, retry_after: float = 0.5) -> None:
        self.failures.setdefault(target, []).append((429, retry_after))

    def fail_next(self, target: str, status: int) -> None:
        self.failures.setdefault(target, []).append((status, None))

    def _failure(self, target: str) -> web.Response | None:
        queued = self.failures.get(target)
        if not queued:
            return None
        status, extra = queued.pop(0)
        if status == 429:
            return _json({"message": "You are being rate limited.", "retry_after": extra, "global": False}, 429,
                         {"Via": "1.1 google", "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                          "X-RateLimit-Reset-After": str(extra), "X-RateLimit-Bucket": "fakebucket",
                          "X-RateLimit-Scope": "user", "Retry-After": str(int(extra) + 1)})
        if status == 403:
            return _error(403, 50013, "Missing Permissions")
        if status == 404:
            return _error(404, 10003, "Unknown Channel")
        return _json({"message": "500: Internal Server Error", "code": 0}, status)

    # -- server --------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        r = app.router
        r.add_get("/gateway", self._gateway)
        r.add_get("/api/v10/gateway/bot", self._gateway_bot)
        r.add_get("/api/v10/users/@me", self._me)
        r.add_get("/api/v10/oauth2/applications/@me", self._application)
        r.add_put("/api/v10/applications/{app}/commands", self._sync)
        r.add_put("/api/v10/applications/{app}/guilds/{guild}/commands", self._sync)
        r.add_post("/api/v10/interactions/{id}/{token}/callback", self._callback)
        r.add_post("/api/v10/webhooks/{app}/{token}", self._webhook_execute)
        r.add_patch("/api/v10/webhooks/{app}/{token}/messages/@original", self._edit_original)
        r.add_post("/api/v10/channels/{channel}/messages", self._channel_message)
        r.add_post("/api/webhooks/{id}/{token}", self._webhook_execute)
        r.add_patch("/api/v10/channels/{channel}/messages/{message}", self._edit_channel_message)
        r.add_patch("/api/webhooks/{id}/{token}/messages/{message}", self._edit_webhook_message)
        r.add_get("/attachments/{name}", self._attachment)
        await self.serve_app(app)

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        await super().stop()

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {TOKEN}"

    async def _logged(self, request: web.Request, response: web.Response) -> web.Response:
        self.calls.append(f"{request.method} {request.path}")
        return response if self._authorised(request) else _error(401, 0, "401: Unauthorized")

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        if self.gateway_bot_status != 200:
            return _error(self.gateway_bot_status, 0, "unavailable")
        return await self._logged(request, _json({
            "url": self.gateway, "shards": self.recommended_shards(),
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 86_400_000,
                                    "max_concurrency": self.max_concurrency}}))

    async def _me(self, request: web.Request) -> web.Response:
        return await self._logged(request, _json(BOT_USER))

    async def _application(self, request: web.Request) -> web.Response:
        app = {"id": APP_ID, "name": "tipoff", "description": "", "icon": None, "bot_public": True,
               "bot_require_code_grant": False, "owner": {**BOT_USER, "id": "900000000000000003", "bot": False},
               "verify_key": "0" * 64, "flags": 0, "summary": ""}
        return await self._logged(request, _json(app))

    async def _sync(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 0, "401: Unauthorized")
        if request.content_type != "application/json":
            return _error(400, 50035, "Invalid Form Body")
        commands = await request.json()
        scope = request.match_info.get("guild", "global")
        out = []
        for c in commands:
            if not re.fullmatch(r"[-_\w]{1,32}", c["name"]) or not 1 <= len(c.get("description", "x")) <= 100:
                return _error(400, 50035, "Invalid Form Body", {"name": {"_errors": [{"code": "INVALID"}]}})
            if not _localizations_valid(c):
                return _error(400, 50035, "Invalid Form Body",
                              {"description_localizations": {"_errors": [{"code": "INVALID_LOCALE"}]}})
            out.append({**c, "id": self.snowflake(), "application_id": APP_ID, "version": self.snowflake(),
                        "type": c.get("type", 1), "default_member_permissions": c.get("default_member_permissions"),
                        "dm_permission": c.get("dm_permission", True), "nsfw": c.get("nsfw", False),
                        **({"guild_id": scope} if scope != "global" else {})})
        self.synced[scope] = out
        return _json(out)

    async def _payload(self, request: web.Request) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            body: dict[str, Any] = {}
            files: list[tuple[str, bytes]] = []
            async for part in reader:  # type: ignore[union-attr]
                if part.name == "payload_json":
                    body = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    files.append((part.filename or "", bytes(await part.read())))  # type: ignore[union-attr]
            return body, files
        if request.content_type != "application/json":
            raise web.HTTPBadRequest(text="Content-Type must be application/json")
        return await request.json(), []

    async def _callback(self, request: web.Request) -> web.Response:
        body, files = await self._payload(request)
        self.replies.append({"kind": "callback", "interaction": request.match_info["id"], "type": body["type"],
                             "data": body.get("data") or {}, "files": files})
        data = body.get("data") or {}
        return _json({"interaction": {"id": request.match_info["id"], "type": 2,
                                      "response_message_loading": body["type"] == 5,
                                      "response_message_ephemeral": bool(data.get("flags", 0) & 64)},
                      "resource": {"type": body["type"]}})

    async def _edit_original(self, request: web.Request) -> web.Response:
        body, files = await self._payload(request)
        self.replies.append({"kind": "edit", "token": request.match_info["token"], "data": body, "files": files})
        return _json(self._message("0", body))

    async def _webhook_execute(self, request: web.Request) -> web.Response:
        webhook = request.match_info.get("id")
        body, files = await self._payload(request)
        if webhook is None:  # an interaction follow-up
            self.replies.append({"kind": "followup", "token": request.match_info["token"], "data": body,
                                 "files": files})
            return _json(self._message("0", body))
        self.calls.append(f"webhook {webhook}")
        if webhook not in self.webhooks or request.match_info["token"] != self.webhooks[webhook]:
            return _error(404, 10015, "Unknown Webhook")
        failure = self._failure(webhook)
        if failure is not None:
            return failure
        errors = validate_message(body)
        if errors:
            self.invalid.append(errors)
            return _error(400, 50035, "Invalid Form Body", errors)
        message = self._message(webhook, body)
        self.webhook_posts.append(Posted(webhook, body, time.monotonic(), pings(body), message["id"]))
        if request.query.get("wait") == "true":
            return _json({**message, "webhook_id": webhook})
        return web.Response(status=204)

    def delete(self, message: Posted) -> None:
        """A user deletes one of the bot's (or the webhook's) messages."""
        self.deleted.add(message.message_id)

    def shown(self, message: Posted) -> Posted:
        """The message as the channel shows it now (after any edits)."""
        edits = [e for e in self.edits if e.message_id == message.message_id]
        return edits[-1] if edits else message

    async def _edit(self, target: str, sent: list[Posted], request: web.Request) -> web.Response:
        failure = self._failure(target)
        if failure is not None:
            return failure
        message_id = request.match_info["message"]
        original = next((p for p in sent if p.message_id == message_id and p.channel_id == target), None)
        if original is None or message_id in self.deleted:
            return _error(404, 10008, "Unknown Message")
        body, _ = await self._payload(request)
        errors = validate_message(body)
        if errors:
            self.invalid.append(errors)
            return _error(400, 50035, "Invalid Form Body", errors)
        # an edit pings nobody: Discord notifies mentions only when a message is created
        self.edits.append(Posted(target, body, time.monotonic(), [], message_id))
        return _json({**self._message(target, {**original.body, **body}), "id": message_id,
                      "edited_timestamp": datetime.now(timezone.utc).isoformat()})

    async def _edit_channel_message(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 0, "401: Unauthorized")
        channel = request.match_info["channel"]
        self.calls.append(f"PATCH message {channel}")
        if channel not in self.channels:
            return _error(404, 10003, "Unknown Channel")
        return await self._edit(channel, self.posted, request)

    async def _edit_webhook_message(self, request: web.Request) -> web.Response:
        webhook = request.match_info["id"]
        self.calls.append(f"PATCH webhook {webhook}")
        if webhook not in self.webhooks or request.match_info["token"] != self.webhooks[webhook]:
            return _error(404, 10015, "Unknown Webhook")
        return await self._edit(webhook, self.webhook_posts, request)

    async def _channel_message(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 0, "401: Unauthorized")
        channel = request.match_info["channel"]
        self.calls.append(f"POST message {channel}")
        failure = self._failure(channel)
        if failure is not None:
            return failure
        if channel not in self.channels:
            return _error(404, 10003, "Unknown Channel")
        body, files = await self._payload(request)
        errors = validate_message(body)
        if errors:
            self.invalid.append(errors)
            return _error(400, 50035, "Invalid Form Body", errors)
        if not body.get("content") and not body.get("embeds") and not files:
            return _error(400, 50006, "Cannot send an empty message")
        nonce = body.get("nonce")
        if body.get("enforce_nonce") and (channel, nonce) in self._nonces:
            self.nonce_repeats.append((channel, nonce))
            return _json(self._nonces[(channel, nonce)])  # Discord answers with the message it already made
        message = self._message(channel, body)
        self.posted.append(Posted(channel, body, time.monotonic(), pings(body), message["id"]))
        if body.get("enforce_nonce"):
            self._nonces[(channel, nonce)] = message
        return _json(message)

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.attachments.get(request.match_info["name"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    def _message(self, channel: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.snowflake(), "channel_id": channel, "author": BOT_USER, "content": body.get("content", ""),
                "timestamp": datetime.now(timezone.utc).isoformat(), "edited_timestamp": None, "tts": False,
                "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
                "embeds": body.get("embeds") or [], "pinned": False, "type": 0, "flags": body.get("flags", 0),
                "components": [], **({"nonce": body["nonce"]} if "nonce" in body else {})}

    # -- gateway ------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            if frame["op"] == 1:
                await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif frame["op"] == 2:
                if frame["d"]["token"] != TOKEN:
                    await self._close(ws, 4004, "Authentication failed.")
                    break
                shard, count = frame["d"].get("shard") or [0, 1]
                if not 0 <= shard < count:
                    await self._close(ws, 4010, "Invalid shard.")
                    break
                now = time.monotonic()
                bucket = shard % self.max_concurrency
                if any(now - at < self.identify_interval and s % self.max_concurrency == bucket
                       for at, s, _ in self.identifies):
                    self.too_fast.append((shard, count))
                    await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
                    continue
                self.identifies.append((now, shard, count))
                mine = [g for g in self.guilds if self.shard_for(g, count) == shard]
                if len(mine) > self.guilds_per_shard:
                    await self._close(ws, 4011, "Sharding required.")
                    break
                self._shard_of[ws] = (shard, count)
                await self._dispatch(ws, "READY", {
                    "v": 10, "user": BOT_USER, "guilds": [{"id": g, "unavailable": True} for g in mine],
                    "session_id": f"fake-session-{shard}", "resume_gateway_url": self.gateway,
                    "shard": [shard, count], "application": {"id": APP_ID, "flags": 0}, "private_channels": [],
                    "relationships": [], "user_settings": {}})
                for g in mine:
                    await self._dispatch(ws, "GUILD_CREATE", self._guild(g))
                self.identified.set()
            elif frame["op"] == 6:
                await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
        if ws in self._sockets:
            self._sockets.remove(ws)
        self._shard_of.pop(ws, None)
        return ws

    async def _close(self, ws: web.WebSocketResponse, code: int, why: str) -> None:
        self.closed_with.append(code)
        await ws.close(code=code, message=why.encode())

    async def _to_guild(self, guild_id: str, event: str, data: dict[str, Any]) -> None:
        """Send an event down the connection(s) of the shard that serves this server."""
        for ws, (shard, count) in list(self._shard_of.items()):
            if self.shard_for(guild_id, count) == shard and not ws.closed:
                await self._dispatch(ws, event, data)

    async def _dispatch(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    def _channel(self, channel_id: str) -> dict[str, Any]:
        return {"id": channel_id, "type": 0, "guild_id": self.channel_guild[channel_id],
                "name": self.channels[channel_id],
                "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
                "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}

    def _role(self, role_id: str, name: str, permissions: int = 0) -> dict[str, Any]:
        return {"id": role_id, "name": name, "permissions": str(permissions), "color": 0, "colors": {},
                "hoist": False, "position": 0 if role_id in self.guilds else 1, "managed": False,
                "mentionable": True, "flags": 0, "icon": None, "unicode_emoji": None}

    def _guild(self, guild_id: str) -> dict[str, Any]:
        main = guild_id == self.guild_id
        roles = [self._role(guild_id, "@everyone", VIEW_CHANNEL | SEND_MESSAGES)]
        roles += [self._role(rid, name) for rid, name in self.roles.items()] if main else []
        return {
            "id": guild_id, "name": self.guilds[guild_id], "icon": None, "splash": None, "discovery_splash": None,
            "owner_id": "900000000000000003", "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "roles": roles, "emojis": [],
            "stickers": [], "features": [], "mfa_level": 0, "system_channel_id": "800000000000000012" if main else None,
            "system_channel_flags": 0, "rules_channel_id": None, "max_members": 500000, "vanity_url_code": None,
            "description": None, "banner": None, "premium_tier": 0, "preferred_locale": "en-US",
            "public_updates_channel_id": None, "nsfw_level": 0, "premium_progress_bar_enabled": False,
            "joined_at": datetime.now(timezone.utc).isoformat(), "large": False, "unavailable": False,
            "member_count": 2, "voice_states": [], "presences": [], "threads": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
            "channels": [self._channel(c) for c, g in self.channel_guild.items() if g == guild_id],
            "members": [{"user": BOT_USER, "roles": [], "joined_at": datetime.now(timezone.utc).isoformat(),
                         "deaf": False, "mute": False, "flags": 0, "nick": None, "avatar": None, "pending": False}],
        }

    async def slash(self, sub: str, options: dict[str, Any] | None = None, *, channel: str = "800000000000000010",
                    user: str = "600000000000000001", permissions: int = MANAGE_CHANNELS | SEND_MESSAGES,
                    roles: list[str] | None = None, autocomplete: str | None = None, locale: str = "en-US",
                    guild_locale: str = "en-US") -> str:
        """A member runs `/tipoff <sub> ...` (or types into an autocompleted option); `locale`
        is the member's client language, `guild_locale` the server's preferred one."""
        interaction_id = self.snowflake()
        token = f"itoken-{interaction_id}"
        opts: list[dict[str, Any]] = []
        resolved: dict[str, Any] = {}
        for name, value in (options or {}).items():
            if isinstance(value, bytes):  # an attachment option
                att_id = self.snowflake()
                self.attachments[f"{att_id}.opml"] = value
                url = f"http://127.0.0.1:{self.port}/attachments/{att_id}.opml"
                resolved.setdefault("attachments", {})[att_id] = {
                    "id": att_id, "filename": "feeds.opml", "size": len(value), "url": url, "proxy_url": url,
                    "content_type": "text/x-opml"}
                opts.append({"name": name, "type": 11, "value": att_id})
            elif name == "mention":
                resolved.setdefault("roles", {})[value] = self._role(value, self.roles[value])
                opts.append({"name": name, "type": 8, "value": value})
            else:
                opts.append({"name": name, "type": 3, "value": value, **({"focused": True}
                                                                          if autocomplete == name else {})})
        member = {"user": {"id": user, "username": f"user{user[-2:]}", "discriminator": "0", "avatar": None,
                           "global_name": None, "public_flags": 0},
                  "roles": roles or [], "joined_at": datetime.now(timezone.utc).isoformat(), "deaf": False,
                  "mute": False, "flags": 0, "nick": None, "avatar": None, "pending": False,
                  "premium_since": None, "permissions": str(permissions)}
        guild = self.channel_guild[channel]
        data = {"id": interaction_id, "application_id": APP_ID, "type": 4 if autocomplete else 2, "token": token,
                "version": 1, "guild_id": guild, "channel_id": channel,
                "channel": {**self._channel(channel), "permissions": str(permissions)},
                "member": member, "app_permissions": str(SEND_MESSAGES | VIEW_CHANNEL), "locale": locale,
                "guild_locale": guild_locale, "entitlements": [], "authorizing_integration_owners": {"0": guild},
                "context": 0, "attachment_size_limit": 8 * 1024 * 1024,
                "data": {"id": self.snowflake(), "name": "tipoff", "type": 1, "guild_id": guild,
                         "options": [{"name": sub, "type": 1, "options": opts}],
                         **({"resolved": resolved} if resolved else {})}}
        await self._to_guild(guild, "INTERACTION_CREATE", data)
        return token

    async def press(self, message: Posted, custom_id: str, *, user: str = "600000000000000001",
                    permissions: int = MANAGE_CHANNELS | SEND_MESSAGES) -> str:
        """A member presses a button under a message the bot posted."""
        ids = [b.get("custom_id") for row in message.body.get("components") or [] for b in row.get("components", [])]
        assert custom_id in ids, f"no button {custom_id} on that message"
        interaction_id = self.snowflake()
        token = f"itoken-{interaction_id}"
        member = {"user": {"id": user, "username": f"user{user[-2:]}", "discriminator": "0", "avatar": None,
                           "global_name": None, "public_flags": 0},
                  "roles": [], "joined_at": datetime.now(timezone.utc).isoformat(), "deaf": False,
                  "mute": False, "flags": 0, "nick": None, "avatar": None, "pending": False,
                  "premium_since": None, "permissions": str(permissions)}
        guild = self.channel_guild[message.channel_id]
        data = {"id": interaction_id, "application_id": APP_ID, "type": 3, "token": token, "version": 1,
                "guild_id": guild, "channel_id": message.channel_id,
                "channel": {**self._channel(message.channel_id), "permissions": str(permissions)},
                "member": member, "app_permissions": str(SEND_MESSAGES | VIEW_CHANNEL), "locale": "en-US",
                "guild_locale": "en-US", "entitlements": [], "authorizing_integration_owners": {"0": guild},
                "context": 0, "attachment_size_limit": 8 * 1024 * 1024,
                "message": {**self._message(message.channel_id, message.body), "id": message.message_id},
                "data": {"custom_id": custom_id, "component_type": 2}}
        await self._to_guild(guild, "INTERACTION_CREATE", data)
        return token

    def answers(self, token: str) -> list[str]:
        """The text of every response to one interaction, in order."""
        out = []
        interaction = token.removeprefix("itoken-")
        for r in self.replies:
            if r.get("interaction") == interaction or r.get("token") == token:
                content = (r["data"] or {}).get("content")
                if content:
                    out.append(content)
                for choice in (r["data"] or {}).get("choices", []):
                    out.append(f"choice:{choice['value']}")
        return out

    def flags_of(self, token: str) -> list[int]:
        interaction = token.removeprefix("itoken-")
        return [int((r["data"] or {}).get("flags", 0)) for r in self.replies
                if r.get("interaction") == interaction or r.get("token") == token]

    def files_of(self, token: str) -> list[tuple[str, bytes]]:
        interaction = token.removeprefix("itoken-")
        return [f for r in self.replies if r.get("interaction") == interaction or r.get("token") == token
                for f in r["files"]]

    def posted_to(self, channel: str) -> list[Posted]:
        return [p for p in self.posted if p.channel_id == channel]


# The locales Discord accepts in *_localizations (https://discord.com/developers/docs/reference#locales)
DISCORD_LOCALES = {"id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no",
                   "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th", "zh-CN",
                   "ja", "zh-TW", "ko"}


def _localizations_valid(command: dict[str, Any]) -> bool:
    """Every name/description localization of a command and its options (at any depth)
    keyed by a locale Discord knows, each within the field's length."""
    for key, limit in (("name_localizations", 32), ("description_localizations", 100)):
        for locale, text in (command.get(key) or {}).items():
            if locale not in DISCORD_LOCALES or not isinstance(text, str) or not 1 <= len(text) <= limit:
                return False
    return all(_localizations_valid(o) for o in command.get("options") or [])
