"""Server-side sessions, in the database and in Redis: revocation and expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.auth.sessions import DatabaseSessionStore, RedisSessionStore, SessionStore, token_id
from app.db import engine_for
from app.models.base import utcnow
from tests.support import services


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):  # noqa: ANN204
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(params=["database", "redis"])
def store_factory(request, db, db_url):  # noqa: ANN001, ANN201
    """Build a store of each kind with a fake clock and short timeouts."""
    if request.param == "redis":
        if not services.redis_reachable():
            services.unavailable("Redis not reachable")
        import redis

        redis.Redis.from_url(services.REDIS_URL).flushdb()

    def make(clock: Clock, *, idle_s: int = 600, absolute_s: int = 3600) -> SessionStore:
        if request.param == "redis":
            return RedisSessionStore(services.REDIS_URL, idle_s=idle_s, absolute_s=absolute_s, clock=clock)
        return DatabaseSessionStore(engine_for(db_url), idle_s=idle_s, absolute_s=absolute_s, clock=clock)

    return make


@pytest.fixture
def user_ids(db, auth_settings) -> list[int]:  # noqa: ANN001
    from tests.support.auth import make_user, random_email

    return [make_user(db, email=random_email()).id for _ in range(2)]


def test_create_resolve_and_revoke(store_factory, user_ids) -> None:
    store = store_factory(Clock())
    token, info = store.create(user_ids[0], user_agent="UA", ip="127.0.0.1")
    assert info.id == token_id(token) and token not in info.id
    assert store.resolve(token).user_id == user_ids[0]
    store.revoke(token)
    assert store.resolve(token) is None  # a copied cookie is useless after sign-out


def test_idle_and_absolute_expiry(store_factory, user_ids) -> None:
    clock = Clock()
    store = store_factory(clock, idle_s=600, absolute_s=3600)
    idle, _ = store.create(user_ids[0])
    clock.advance(seconds=599)
    assert store.resolve(idle) is not None  # activity within the idle window keeps it alive
    clock.advance(seconds=601)
    assert store.resolve(idle) is None

    active, _ = store.create(user_ids[0])
    for _ in range(7):  # active every 9 minutes, yet the absolute limit ends it after an hour
        clock.advance(seconds=540)
        alive = store.resolve(active) is not None
    assert not alive


def test_revoke_all_and_keep_current(store_factory, user_ids) -> None:
    store = store_factory(Clock())
    current, _ = store.create(user_ids[0])
    other, _ = store.create(user_ids[0])
    stranger, _ = store.create(user_ids[1])
    assert store.revoke_all(user_ids[0], keep_token=current) == 1
    assert store.resolve(current) and store.resolve(other) is None and store.resolve(stranger)
    assert [s.id for s in store.list_for_user(user_ids[0])] == [token_id(current)]
    store.revoke_all(user_ids[0])
    assert store.resolve(current) is None and store.resolve(stranger)


@pytest.mark.parametrize("token", ["", "x", "a" * 10_000, "'; DROP TABLE auth_session; --", "\x00"])
def test_garbage_tokens_resolve_to_nobody(store_factory, user_ids, token: str) -> None:
    store = store_factory(Clock())
    store.create(user_ids[0])
    assert store.resolve(token) is None
