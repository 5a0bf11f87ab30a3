"""Sign-in cost and rate-limiter overhead, measured on this machine.

    python bench/auth_cost.py [--redis redis://127.0.0.1:6379/15] [--requests 2000]

1. argon2id with the configured parameters (settings: ARGON2_*): wall time per hash (target:
   50-250 ms) and verifications per second per core (CPU time, one lane).
2. Full sign-ins per second through the real route (in process, SQLite, one thread).
3. Rate-limiter overhead: GET /api/auth/me (signed in) through the app's routes with and without
   the API rate-limit middleware, interleaved in rounds; the ratio of median CPU time per request
   (target: at most 1.1), with the in-process limiter and, when --redis is given, with Redis:
   once as the app runs it (a busy key leases slots, see RedisRateLimiter) and once with leases off
   (one Lua round trip per request), to show what the leases buy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _configure(data_dir: str, redis_url: str | None, *, fast_hash: bool) -> None:
    os.environ.update(
        {
            "DATA_DIR": data_dir,
            "DATABASE_URL": "",
            "REDIS_URL": redis_url or "",
            "SECRET_KEY": "bench-secret-key-" * 3,
            "RATE_LIMIT_API": "100000/minute",
            "RATE_LIMIT_SIGNIN": "100000/minute",
            "RATE_LIMIT_SIGNIN_FAILURES": "100000/minute",
        }
    )
    for key in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB"):
        os.environ.pop(key, None)
    if fast_hash:
        os.environ.update({"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192"})
    from tests.support.auth import reset_caches

    reset_caches()


def bench_argon2(rounds: int = 12) -> dict[str, float]:
    from app.auth import passwords
    from app.settings import get_settings

    settings = get_settings()
    password = "correct horse battery staple"
    passwords.hash_password(password)  # warm up
    walls, cpus = [], []
    digest = ""
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        digest = passwords.hash_password(password)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    verify_cpu = []
    for _ in range(rounds):
        cpu = time.process_time()
        passwords.verify_password(digest, password)
        verify_cpu.append(time.process_time() - cpu)
    return {
        "params": f"argon2id t={settings.argon2_time_cost} m={settings.argon2_memory_kib}KiB p={settings.argon2_parallelism}",
        "hash_ms": statistics.median(walls) * 1000,
        "hash_cpu_ms": statistics.median(cpus) * 1000,
        "verify_per_s_per_core": 1 / statistics.median(verify_cpu),
    }


class Driver:
    """Calls an ASGI app directly (no sockets), the same way for both variants."""

    def __init__(self, app, cookie: str) -> None:  # noqa: ANN001
        self.app = app
        self.headers = [(b"host", b"bench"), (b"cookie", cookie.encode()), (b"accept", b"application/json")]

    async def get(self, path: str) -> int:
        status = 0
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": self.headers,
            "client": ("127.0.0.1", 5000),
            "server": ("bench", 80),
        }

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status


async def _time_requests(driver: Driver, count: int) -> float:
    """CPU seconds per request: on a shared machine, wall time mostly measures the neighbours."""
    start = time.process_time()
    for _ in range(count):
        status = await driver.get("/api/auth/me")
        assert status == 200, status
    return (time.process_time() - start) / count


def _signed_in_cookie() -> str:
    from app.auth import accounts, sessions
    from app.db import migrate, session_scope

    migrate()
    with session_scope() as db:
        user = accounts.find_by_email(db, "bench@example.test") or accounts.sign_up(
            db, email="bench@example.test", password="bench password 42", display_name="Bench"
        )
        user_id = user.id
    token, _ = sessions.get_session_store().create(user_id)
    return f"{sessions.cookie_name()}={token}"


def bench_signin(count: int = 20) -> float:
    """Full sign-ins per second through POST /auth/signin (one thread, SQLite)."""
    from starlette.testclient import TestClient

    from app.routes import build_api

    _signed_in_cookie()
    with TestClient(build_api()) as client:
        start = time.perf_counter()
        for _ in range(count):
            response = client.post(
                "/auth/signin",
                data={"email": "bench@example.test", "password": "bench password 42"},
                headers={"Accept": "application/json"},
            )
            assert response.status_code == 200, response.text
        return count / (time.perf_counter() - start)


def bench_limiter(requests: int, rounds: int = 15) -> dict[str, float]:
    """Median per-request time of GET /api/auth/me with and without the API limiter."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from app.routes import build_api
    from app.routes.auth import auth_routes
    from app.routes.middleware import CSRFOriginMiddleware

    cookie = _signed_in_cookie()
    with_limit = Driver(build_api(), cookie)
    without = Driver(Starlette(routes=auth_routes(), middleware=[Middleware(CSRFOriginMiddleware)]), cookie)

    async def run() -> tuple[list[float], list[float]]:
        await _time_requests(with_limit, 200)  # warm up both
        await _time_requests(without, 200)
        a, b = [], []
        for _ in range(rounds):
            b.append(await _time_requests(without, requests))
            a.append(await _time_requests(with_limit, requests))
        return a, b

    limited, plain = asyncio.run(run())
    return {
        "with_us": statistics.median(limited) * 1e6,
        "without_us": statistics.median(plain) * 1e6,
        "ratio": statistics.median(limited) / statistics.median(plain),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--redis", default=None, help="also measure the limiter on this Redis (a scratch db!)")
    parser.add_argument("--requests", type=int, default=1000, help="requests per round (15 rounds per variant)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        _configure(data_dir, None, fast_hash=False)
        cost = bench_argon2()
        print(
            f"{cost['params']}: {cost['hash_cpu_ms']:.0f} ms CPU per hash (target 50-250 ms; wall "
            f"{cost['hash_ms']:.0f} ms on this machine now), {cost['verify_per_s_per_core']:.1f} verifications/s per core"
        )
        print(f"full sign-ins through POST /auth/signin: {bench_signin():.1f}/s (one thread)")
    from app.auth.ratelimit import RedisRateLimiter

    variants = [("in-process limiter", None, None), ("Redis limiter", args.redis, None)]
    variants.append(("Redis limiter, leases off", args.redis, 1))
    for label, redis_url, max_lease in variants:
        if label.startswith("Redis") and not redis_url:
            print(f"{label}: skipped (pass --redis URL)")
            continue
        default_lease = RedisRateLimiter.max_lease
        RedisRateLimiter.max_lease = max_lease or default_lease
        with tempfile.TemporaryDirectory() as data_dir:
            _configure(data_dir, redis_url, fast_hash=True)
            if redis_url:
                import redis

                redis.Redis.from_url(redis_url).flushdb()
            result = bench_limiter(args.requests)
            sessions = "Redis" if redis_url else "SQLite"
            print(
                f"{label} (sessions in {sessions}): GET /api/auth/me {result['with_us']:.0f} us with, "
                f"{result['without_us']:.0f} us without -> ratio {result['ratio']:.3f} (target <= 1.1)"
            )
        RedisRateLimiter.max_lease = default_lease
    return 0


if __name__ == "__main__":
    sys.exit(main())
