"""The sliding-window limiter, in process and on Redis (shared by workers)."""

from __future__ import annotations

import time

import pytest

from app.auth.ratelimit import MemoryRateLimiter, RedisRateLimiter, make_limiter
from app.settings import Rate
from tests.support import services


@pytest.fixture
def limiter(cache_backend):  # noqa: ANN001, ANN201
    return make_limiter(cache_backend)


def test_window_allows_limit_then_refuses_with_retry_after(limiter) -> None:
    rate = Rate(limit=3, window_s=60)
    decisions = [limiter.check("k", rate) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert 58 <= decisions[3].retry_after <= 60


def test_window_slides_and_refusals_do_not_extend_it(limiter) -> None:
    rate = Rate(limit=2, window_s=1)
    assert limiter.check("s", rate).allowed and limiter.check("s", rate).allowed
    for _ in range(20):  # hammering a closed window is not recorded
        assert not limiter.check("s", rate).allowed
    time.sleep(1.05)
    assert limiter.check("s", rate).allowed


def test_peek_and_record_count_failures_only(limiter) -> None:
    rate = Rate(limit=2, window_s=60)
    assert limiter.check("f", rate, mode="peek").allowed
    limiter.check("f", rate, mode="record")
    limiter.check("f", rate, mode="record")
    assert not limiter.check("f", rate, mode="peek").allowed
    limiter.reset("f")
    assert limiter.check("f", rate, mode="peek").remaining == 2


def test_keys_are_independent(limiter) -> None:
    rate = Rate(limit=1, window_s=60)
    assert limiter.check("a", rate).allowed and limiter.check("b", rate).allowed
    assert not limiter.check("a", rate).allowed


def test_two_limiters_on_one_redis_share_the_window() -> None:
    if not services.redis_reachable():
        services.unavailable("Redis not reachable")
    first, second = RedisRateLimiter(services.REDIS_URL), RedisRateLimiter(services.REDIS_URL)
    first.reset("shared")
    rate = Rate(limit=4, window_s=60)
    assert all(first.check("shared", rate).allowed for _ in range(2))
    assert all(second.check("shared", rate).allowed for _ in range(2))
    assert not first.check("shared", rate).allowed and not second.check("shared", rate).allowed


def test_memory_limiter_is_bounded() -> None:
    small = MemoryRateLimiter()
    small.max_keys = 100
    rate = Rate(limit=1, window_s=60)
    for i in range(1000):
        small.check(f"k{i}", rate)
    assert len(small._hits) <= 100


@pytest.mark.parametrize("text", ["10/minute", "10/60", "10/60s", "10 / 1 minute"])
def test_rate_settings_syntax(text: str) -> None:
    assert Rate.model_validate(text) == Rate(limit=10, window_s=60)


def _redis_limiters(count: int) -> list[RedisRateLimiter]:
    if not services.redis_reachable():
        services.unavailable("Redis not reachable")
    return [RedisRateLimiter(services.REDIS_URL) for _ in range(count)]


def test_leases_never_let_workers_exceed_a_large_limit_together() -> None:
    first, second = _redis_limiters(2)
    first.reset("busy")
    second.reset("busy")
    rate = Rate(limit=200, window_s=60)
    allowed = [limiter.check("busy", rate).allowed for _ in range(150) for limiter in (first, second)]
    assert sum(allowed) == 200  # every slot is recorded in Redis before a worker spends it
    refused = first.check("busy", rate)
    assert not refused.allowed and 1 <= refused.retry_after <= 60


def test_a_busy_key_costs_far_fewer_redis_calls_than_hits() -> None:
    (limiter,) = _redis_limiters(1)
    limiter.reset("hot")
    calls = 0
    script = limiter._script

    def counted(**kwargs):  # noqa: ANN003, ANN202
        nonlocal calls
        calls += 1
        return script(**kwargs)

    limiter._script = counted  # type: ignore[method-assign]
    rate = Rate(limit=100_000, window_s=60)
    assert all(limiter.check("hot", rate).allowed for _ in range(1000))
    assert calls < 60, calls
    window = limiter.client.zcard("lorastudio:rl:hot")
    assert 1000 <= window <= 1000 + limiter.max_lease  # spent + the live lease's unspent slots


def test_unspent_leased_slots_are_handed_back() -> None:
    (limiter,) = _redis_limiters(1)
    limiter.lease_ttl_s = 0.05
    limiter.reset("burst")
    rate = Rate(limit=100_000, window_s=60)
    for _ in range(40):
        limiter.check("burst", rate)
    time.sleep(0.1)  # the lease expires with slots unspent
    limiter.check("burst", rate)
    unspent = len(limiter._leases["burst"].members)
    assert limiter.client.zcard("lorastudio:rl:burst") == 41 + unspent


def test_small_limits_take_no_lease() -> None:
    (limiter,) = _redis_limiters(1)
    limiter.reset("small")
    rate = Rate(limit=10, window_s=60)
    for _ in range(5):
        limiter.check("small", rate)
    assert "small" not in limiter._leases
    assert limiter.client.zcard("lorastudio:rl:small") == 5
