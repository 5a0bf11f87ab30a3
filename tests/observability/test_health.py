"""Liveness vs readiness, and clear 503s, against a real PostgreSQL and Redis reached through a
proxy the test cuts and restores (the machine's services are never stopped)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.testclient import TestClient

from app.db import get_engine
from app.observability.middleware import ObservabilityMiddleware
from app.routes import build_api
from tests.support import services
from tests.support.loopback_proxy import LoopbackProxy


@pytest.fixture
def pg_proxy() -> Iterator[tuple[LoopbackProxy, str]]:
    if not services.postgres_reachable():
        services.unavailable(f"PostgreSQL not reachable at {services.POSTGRES_ADMIN_URL}")
    url = sa.engine.make_url(services.POSTGRES_ADMIN_URL)
    proxy = LoopbackProxy((url.host or "127.0.0.1", url.port or 5432)).start()
    yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxy.close()


@pytest.fixture
def redis_proxy() -> Iterator[tuple[LoopbackProxy, str]]:
    if not services.redis_reachable():
        services.unavailable(f"Redis not reachable at {services.REDIS_URL}")
    proxy = LoopbackProxy(("127.0.0.1", 6379)).start()
    yield proxy, f"redis://127.0.0.1:{proxy.port}/15"
    proxy.close()


def _client() -> TestClient:
    api = build_api()

    async def count_rows(_: Request) -> JSONResponse:
        with get_engine().connect() as conn:
            return JSONResponse({"n": conn.execute(sa.text("select 1")).scalar()})

    api.add_route("/probe-db", count_rows)
    return TestClient(ObservabilityMiddleware(api), raise_server_exceptions=False)


def test_liveness_never_touches_dependencies(settings_env) -> None:
    settings_env(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none", REDIS_URL="redis://127.0.0.1:1/0")
    response = _client().get("/healthz/live")
    assert response.status_code == 200 and response.json()["status"] == "alive"


def test_readiness_flips_with_the_database_and_requests_fail_fast_and_clearly(settings_env, pg_proxy) -> None:
    proxy, url = pg_proxy
    settings_env(DATABASE_URL=url, HEALTH_TIMEOUT_S="1.5", HEALTH_CACHE_S="0", DB_CONNECT_TIMEOUT_S="2")
    client = _client()
    ready = client.get("/healthz/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready" and ready.json()["checks"]["redis"] is None
    assert client.get("/probe-db").json() == {"n": 1}

    for mode in ("refuse", "blackhole"):  # a stopped server, then one that never answers
        proxy.set_mode(mode)
        start = time.monotonic()
        down = client.get("/healthz/ready")
        assert down.status_code == 503 and down.json()["status"] == "unready", mode
        assert down.json()["checks"]["database"]["ok"] is False
        assert time.monotonic() - start < 3, f"readiness must answer within its timeout ({mode})"
        assert client.get("/healthz/live").status_code == 200

        start = time.monotonic()
        page = client.get("/probe-db", headers={"Accept": "text/html"})
        assert page.status_code == 503 and "Temporarily unavailable" in page.text, mode
        assert page.headers["retry-after"] == "5"
        api = client.get("/probe-db")
        assert api.status_code == 503 and api.json()["error"] == "database_unavailable"
        assert time.monotonic() - start < 12, f"requests fail within the connect timeout ({mode})"

    proxy.set_mode("forward")
    deadline = time.monotonic() + 10
    while client.get("/healthz/ready").status_code != 200:
        assert time.monotonic() < deadline, "readiness did not come back with the database"
        time.sleep(0.2)
    assert client.get("/probe-db").json() == {"n": 1}, "the pool recovers without a restart"


def test_readiness_reports_redis_but_only_degrades(settings_env, redis_proxy, tmp_path) -> None:
    proxy, url = redis_proxy
    settings_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}", REDIS_URL=url, HEALTH_TIMEOUT_S="1", HEALTH_CACHE_S="0"
    )
    client = _client()
    body = client.get("/healthz/ready").json()
    assert body["status"] == "ready" and body["checks"]["redis"]["ok"] is True
    proxy.set_mode("refuse")
    response = client.get("/healthz/ready")
    assert response.status_code == 200 and response.json()["status"] == "degraded"
    assert response.json()["checks"]["redis"]["ok"] is False
    proxy.set_mode("forward")
    assert client.get("/healthz/ready").json()["status"] == "ready"


def test_readiness_checks_once_for_many_callers_and_reuses_the_result(settings_env, tmp_path, monkeypatch) -> None:
    import asyncio

    import httpx

    from app.routes import health
    from tests.support import aio

    settings_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}", REDIS_URL="", HEALTH_CACHE_S="5")
    monkeypatch.setattr(health._Recent, "result", None)
    calls = []

    def slow_check() -> None:
        calls.append(1)
        time.sleep(0.3)

    monkeypatch.setattr(health, "_check_database", slow_check)

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=build_api())
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            first = await asyncio.gather(*(client.get("/healthz/ready") for _ in range(20)))
            again = await client.get("/healthz/ready")
            return [r.status_code for r in [*first, again]]

    assert aio.run(burst()) == [200] * 21
    assert len(calls) == 1, "20 concurrent probes and one more within HEALTH_CACHE_S: one database check"
