"""Sliding windows for commands per chat and per person (pure)."""

from bot.throttle import RateWindow


def test_a_window_lets_limit_events_through_per_period_per_key():
    w = RateWindow(3, period=60.0)
    for t in (0.0, 1.0, 2.0):
        assert w.wait("chat", t) == 0.0
        w.note("chat", t)
    assert w.wait("chat", 10.0) == 50.0  # the first event leaves the window at 60 s
    assert w.wait("other", 10.0) == 0.0  # keys are apart
    assert w.wait("chat", 60.0) == 0.0
    w.note("chat", 60.0)
    assert w.wait("chat", 60.5) == 0.5  # the second (at 1 s) leaves at 61 s


def test_idle_keys_are_forgotten():
    w = RateWindow(1, period=1.0)
    for n in range(10_005):
        w.note(f"k{n}", float(n))
    assert len(w._events) < 100
