"""Files replaced whole or not at all, and a big one written as it is produced."""

from __future__ import annotations

import errno

import pytest

from bot.store import atomic
from bot.store.atomic import AtomicSpool, write_atomically


async def test_a_spooled_file_goes_to_disk_as_it_is_made_and_appears_only_when_committed(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "SPOOL_BYTES", 1000)
    target = tmp_path / "store.json"
    write_atomically(target, b"old")
    spool = AtomicSpool(target)
    held = []
    for i in range(100):
        await spool.add(b"%03d" % i * 30)  # 90 bytes a part, 9,000 in all
        held.append(sum(map(len, spool._parts)))
    assert max(held) < 1000 + 90  # never more than a spool's worth in memory
    assert spool.tmp.stat().st_size >= 8000  # the rest is in the temp file already
    assert target.read_bytes() == b"old"  # ... and the file is the old one until the commit
    await spool.commit()
    assert target.read_bytes() == b"".join(b"%03d" % i * 30 for i in range(100))
    assert not spool.tmp.exists()


async def test_a_full_disk_while_spooling_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "SPOOL_BYTES", 100)
    target = tmp_path / "store.json"
    write_atomically(target, b"old")
    spool = AtomicSpool(target)
    await spool.add(b"x" * 150)
    real_open = open

    class Full:
        def __init__(self, f):
            self.f = f

        def writelines(self, parts):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)
    spool._file = Full(real_open(spool.tmp, "ab"))
    with pytest.raises(OSError, match="No space left"):
        await spool.add(b"y" * 150)
    await spool.discard()
    assert target.read_bytes() == b"old" and not spool.tmp.exists()
