"""Files replaced whole or not at all: a temp file beside the target, fsynced, renamed
over it, the directory fsynced. `write_atomically` for bytes in hand, `AtomicSpool` for
a file serialised in parts on the event loop (the TinyDB store's ~12 MB at 10k feeds),
which goes to disk as it is produced instead of being held whole in memory."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

SPOOL_BYTES = 1 << 20  # serialised bytes held before they go to the file (in a thread)


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _replace_durably(file: Any, tmp: Path, path: Path) -> None:
    """The temp file's content on disk, then renamed over `path`, then the rename on disk."""
    file.flush()
    os.fsync(file.fileno())
    file.close()
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_atomically(path: Path, data: bytes | list[bytes]) -> None:
    """Replace `path` with `data` (or its parts, in order) or leave it as it was: a temp
    file beside it, fsynced, renamed over it, the directory fsynced. A failed write (a
    full disk) removes its temp file."""
    tmp = _temp_beside(path)
    try:
        with open(tmp, "wb") as f:
            f.writelines([data] if isinstance(data, bytes) else data)
            _replace_durably(f, tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class AtomicSpool:
    """`write_atomically` for a file produced in parts on the event loop: the parts go
    to the temp file (in a thread) whenever SPOOL_BYTES of them are waiting, so a ~12 MB
    store is never in memory whole; `commit` fsyncs and renames it over `path`, and a
    failure at any step leaves `path` as it was and removes the temp file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = _temp_beside(path)
        self._file: Any = None
        self._parts: list[bytes] = []
        self._size = 0

    async def add(self, part: bytes) -> None:
        self._parts.append(part)
        self._size += len(part)
        if self._size >= SPOOL_BYTES:
            await asyncio.to_thread(self._drain)

    def _drain(self) -> None:
        if self._file is None:
            self._file = open(self.tmp, "wb")
        self._file.writelines(self._parts)
        self._parts, self._size = [], 0

    async def commit(self) -> None:
        await asyncio.to_thread(self._commit)

    def _commit(self) -> None:
        self._drain()
        _replace_durably(self._file, self.tmp, self.path)
        self._file = None

    async def discard(self) -> None:
        def drop() -> None:
            if self._file is not None:
                self._file.close()
                self._file = None
            self.tmp.unlink(missing_ok=True)
        self._parts = []
        await asyncio.to_thread(drop)
