"""The dashboard's signing secret, shared by `tipoff run` and `tipoff dashboard-link`
(a link printed by one is checked by the other): a file beside the embedded store,
made once with owner-only permissions, or a key in the shared Redis."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from bot.config import Settings

KEY_FILE = "dashboard.key"


def file_secret(data_dir: Path) -> bytes:
    """The secret in data_dir/dashboard.key, made (0600) when missing."""
    path = Path(data_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    text = path.read_text().strip()
    if len(text) < 32:
        raise ValueError(f"{path} does not hold a dashboard secret: delete it and a new one is made")
    return bytes.fromhex(text) if all(c in "0123456789abcdef" for c in text) else text.encode()


async def redis_secret(url: str, prefix: str) -> bytes:
    """The secret under {prefix}dashboard:secret, made when missing (the first worker's wins)."""
    import redis.asyncio as aioredis

    r: Any = aioredis.from_url(url, socket_connect_timeout=5, socket_timeout=15)
    try:
        key = f"{prefix}dashboard:secret"
        await r.set(key, secrets.token_hex(32), nx=True)
        return bytes.fromhex((await r.get(key)).decode())
    finally:
        await r.aclose()


async def dashboard_secret(settings: Settings) -> bytes:
    if settings.store_url:
        return await redis_secret(settings.store_url, settings.store_prefix)
    return file_secret(settings.data_dir)
