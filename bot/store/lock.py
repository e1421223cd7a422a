"""One tipoff per data dir. Two instances on one store are the most common cause of
duplicate alerts in feed bots, so a second `tipoff run` is refused at once, naming the
pid of the one already running. The lock is an flock, so it dies with its process."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from bot.store.base import StoreError


class DataDirLocked(StoreError):
    def __init__(self, data_dir: Path, pid: str) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"data dir {data_dir} is in use by another tipoff ({who}); "
            "stop it first, or give this one its own --data DIR"
        )
        self.pid = pid


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / "tipoff.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise DataDirLocked(self.data_dir, pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
