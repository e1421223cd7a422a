"""Who may see the dashboard, as plain functions over a secret: one-time sign-in links,
session cookies and CSRF tokens, each an HMAC-signed token (nothing to look up to
check one; what is spent, a used link or a signed-out session, is remembered by the
store until the token would have expired anyway). Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

LINK_LIFE = 15 * 60.0  # a sign-in link works once, within this
OPERATOR = "*"  # the scope of the operator's session: every chat


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid token grants: `scope` (OPERATOR, or one chat's destination name)
    until `expires`; `id` names the token (a link is spent by it, a session ended)."""

    kind: str  # "link" or "session"
    scope: str
    id: str
    expires: float

    @property
    def operator(self) -> bool:
        return self.scope == OPERATOR

    def sees(self, destination: str) -> bool:
        """Whether this grant may read and change that chat's things (a forum topic's
        chat is the chat)."""
        return self.operator or destination == self.scope or destination.startswith(self.scope + "/")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def issue(secret: bytes, kind: str, scope: str, now: float, life: float) -> str:
    """A signed token granting `scope` for `life` seconds."""
    body = _b64(orjson.dumps({"k": kind, "s": scope, "i": secrets.token_urlsafe(12), "e": int(now + life)}))
    return f"{body}.{_mac(secret, body)}"


def check(secret: bytes, token: str, kind: str, now: float) -> Grant | None:
    """The grant of a token of that kind, signed with `secret` and not expired; else None."""
    body, _, mac = token.partition(".")
    if not body or not mac or len(token) > 2000 or not hmac.compare_digest(mac, _mac(secret, body)):
        return None
    try:
        data: Any = orjson.loads(_unb64(body))
        grant = Grant(str(data["k"]), str(data["s"]), str(data["i"]), float(data["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    if grant.kind != kind or grant.expires <= now:
        return None
    return grant


def csrf_token(secret: bytes, session_id: str) -> str:
    """The token every form of a session carries (a page of another site cannot know it)."""
    return _mac(secret, "csrf:" + session_id)


def csrf_ok(secret: bytes, session_id: str, token: str) -> bool:
    return bool(token) and hmac.compare_digest(token, csrf_token(secret, session_id))
