"""How workers share Discord's shards out: the arithmetic, without Redis or Discord."""

from bot.sharding import fair_share, moves, preference, retry_delay


def test_fair_share_rounds_up():
    assert [fair_share(3, n) for n in (1, 2, 3, 4)] == [3, 2, 1, 1]
    assert fair_share(16, 3) == 6 and fair_share(1, 0) == 1


def test_a_lone_worker_takes_everything_and_a_crowded_one_lets_go_one_at_a_time():
    assert moves(3, 0, 1) == 3
    assert moves(3, 3, 2) == -1  # a second worker joined: one shard goes to it
    assert moves(3, 2, 2) == 0
    assert moves(8, 8, 4) == -1  # never more than one per round
    assert moves(3, 1, 1) == 2  # the other worker stopped: take its shards


def test_every_worker_tries_every_shard_from_its_own_start():
    for worker in ("w1", "w2", "host-a", "host-b"):
        order = preference(5, worker)
        assert sorted(order) == [0, 1, 2, 3, 4]
        assert order == [(order[0] + i) % 5 for i in range(5)]
    assert len({preference(16, f"w{n}")[0] for n in range(8)}) > 1  # not all at shard 0
    assert preference(1, "w1") == [0]


def test_a_failing_shard_is_retried_ever_more_slowly():
    assert [retry_delay(n) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
    assert retry_delay(30) == 3600.0  # at most 24 attempts a day per worker: far under Discord's 1,000
