"""Liveness and readiness, separately, for orchestrators and load balancers.

- GET /healthz/live: the worker's event loop answers. No dependency is checked, so an outage
  of PostgreSQL never makes an orchestrator restart healthy workers.
- GET /healthz/ready: 200 while the database answers (503 otherwise, within
  HEALTH_TIMEOUT_S); Redis is reported but only degrades: the cache falls back, and taking
  every worker out of rotation would not bring Redis back.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time

import anyio
import redis
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth.guard import PUBLIC, requires
from app.db import get_engine
from app.settings import get_settings

_NO_STORE = {"Cache-Control": "no-store"}


@requires(PUBLIC, reason="liveness probe for orchestrators; reveals nothing")
async def live(_: Request) -> JSONResponse:
    return JSONResponse({"status": "alive", "pid": os.getpid()}, headers=_NO_STORE)


def _check_database() -> None:
    with get_engine().connect() as conn:
        conn.execute(sa.text("select 1"))


@functools.cache
def _redis_client(url: str, timeout_s: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


def _check_redis() -> None:
    settings = get_settings()
    assert settings.redis_url is not None
    _redis_client(settings.redis_url, settings.health_timeout_s).ping()


async def _run_check(check, timeout_s: float) -> dict[str, object]:  # noqa: ANN001
    start = time.perf_counter()
    try:
        with anyio.fail_after(timeout_s):
            await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
    except TimeoutError:
        return {"ok": False, "error": "timeout", "ms": round(timeout_s * 1000)}
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the type says which
        return {"ok": False, "error": type(exc).__name__, "ms": round((time.perf_counter() - start) * 1000, 1)}
    return {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 1)}


async def _run_checks() -> dict[str, object]:
    settings = get_settings()
    checks: dict[str, object] = {}
    async with anyio.create_task_group() as group:

        async def run(name: str, check) -> None:  # noqa: ANN001
            checks[name] = await _run_check(check, settings.health_timeout_s)

        group.start_soon(run, "database", _check_database)
        if settings.redis_url:
            group.start_soon(run, "redis", _check_redis)
    if not settings.redis_url:
        checks["redis"] = None  # not configured: in-process cache, one worker
    return checks


class _Recent:
    """The last result, shared for HEALTH_CACHE_S, and one check in flight per worker: probes
    and load balancers calling often (or a load spike) never queue up database round trips,
    and a busy thread pool cannot make a healthy worker look unready."""

    result: dict[str, object] | None = None
    at = float("-inf")
    task: asyncio.Task[dict[str, object]] | None = None


async def _dependency_checks() -> dict[str, object]:
    if _Recent.result is not None and time.monotonic() - _Recent.at < get_settings().health_cache_s:
        return _Recent.result
    if _Recent.task is None or _Recent.task.done():
        _Recent.task = asyncio.ensure_future(_run_checks())
    result = await asyncio.shield(_Recent.task)
    _Recent.result, _Recent.at = result, time.monotonic()
    return result


@requires(PUBLIC, reason="readiness probe for load balancers; reports only up/down per dependency")
async def ready(_: Request) -> JSONResponse:
    checks = await _dependency_checks()
    database_ok = checks["database"]["ok"]  # type: ignore[index]
    redis_ok = checks["redis"] is None or checks["redis"]["ok"]  # type: ignore[index]
    status = "ready" if database_ok and redis_ok else "degraded" if database_ok else "unready"
    return JSONResponse(
        {"status": status, "checks": checks}, status_code=200 if database_ok else 503, headers=_NO_STORE
    )


def health_routes() -> list[Route]:
    return [Route("/healthz/live", live, methods=["GET"]), Route("/healthz/ready", ready, methods=["GET"])]
