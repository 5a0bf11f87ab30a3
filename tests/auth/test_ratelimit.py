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
