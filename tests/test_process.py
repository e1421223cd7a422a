"""Process-wide tuning a long-running tipoff applies at start (bench/pipeline.py
measures what it buys: loop stalls, peak memory)."""

import ctypes
import platform
import sys

import pytest

from bot import service


def test_tuning_sets_the_gil_switch_interval_and_caps_malloc_arenas(monkeypatch):
    calls = []
    monkeypatch.setattr(service, "cap_malloc_arenas", lambda n: calls.append(n) or True)
    before = sys.getswitchinterval()
    try:
        service.tune_process()
        assert sys.getswitchinterval() == pytest.approx(service.GIL_SWITCH_INTERVAL)
    finally:
        sys.setswitchinterval(before)
    assert calls == [service.MALLOC_ARENAS]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")
def test_arenas_are_capped_through_mallopt_unless_the_operator_chose(monkeypatch):
    seen = []

    class Libc:
        def mallopt(self, param, value):
            seen.append((param, value))
            return 1

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    assert service.cap_malloc_arenas(2) is True
    assert seen == [(-8, 2)]  # M_ARENA_MAX
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert service.cap_malloc_arenas(2) is False and len(seen) == 1


def test_a_c_library_without_mallopt_changes_nothing(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: object())  # musl, macOS: no mallopt
    assert service.cap_malloc_arenas(2) is False
