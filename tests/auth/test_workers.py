"""Two app worker processes on one Redis share the sign-in limit (and the sessions)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.support import services
from tests.support.app_server import free_port
from tests.support.auth import FAST_ARGON2, PASSWORD

WORKER_APP = "app.routes:build_api"  # the same routes and middleware the Reflex app mounts


@pytest.fixture
def two_workers(tmp_path):  # noqa: ANN001, ANN201
    if not services.redis_reachable():
        services.unavailable("Redis not reachable")
    import redis

    redis.Redis.from_url(services.REDIS_URL).flushdb()
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    env = {
        **os.environ,
        **FAST_ARGON2,
        "DATABASE_URL": db_url,
        "DATA_DIR": str(tmp_path),
        "REDIS_URL": services.REDIS_URL,
        "SECRET_KEY": "shared-secret-key-" * 3,
    }
    subprocess.run(
        [sys.executable, "-c", "from app.db import migrate; migrate()"], env=env, check=True, capture_output=True
    )
    workers = []
    urls = []
    for _ in range(2):
        port = free_port()
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    WORKER_APP,
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/api/auth/me", timeout=2).status_code == 401:
                        break
                assert time.monotonic() < deadline, "worker did not start"
                time.sleep(0.2)
        redis.Redis.from_url(services.REDIS_URL).flushdb()  # forget the readiness probes
        yield urls
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=10)


def test_two_workers_share_the_sign_in_limit_and_sessions(two_workers) -> None:
    first, second = two_workers
    json = {"Accept": "application/json"}
    signup = httpx.post(
        f"{first}/auth/signup",
        data={"email": "shared@example.test", "display_name": "Shared", "password": PASSWORD},
        headers=json,
    )
    assert signup.status_code == 200
    # A session made by one worker is known to the other (sessions live in Redis).
    me = httpx.get(f"{second}/api/auth/me", cookies={"ls_session": signup.cookies["ls_session"]})
    assert me.json()["email"] == "shared@example.test"

    statuses = []
    for i in range(10):  # five failures on each worker
        url = first if i % 2 == 0 else second
        attempt = httpx.post(
            f"{url}/auth/signin", data={"email": "shared@example.test", "password": "wrong wrong 1"}, headers=json
        )
        statuses.append(attempt.status_code)
    assert statuses == [401] * 10
    for url in (first, second):
        eleventh = httpx.post(
            f"{url}/auth/signin", data={"email": "shared@example.test", "password": PASSWORD}, headers=json
        )
        assert eleventh.status_code == 429 and int(eleventh.headers["retry-after"]) > 0
