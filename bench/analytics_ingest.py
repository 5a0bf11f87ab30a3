"""Analytics ingest throughput on PostgreSQL with 2 workers, as a ratio to a bare batched INSERT.

Same run, same rows: (1) baseline: the rows inserted into `analytics_event` with SQLAlchemy
executemany in batches of 5,000, nothing else; (2) the real path: granian with 2 workers serving
POST /api/v1/events (shared API rate limiter, validation, Redis stream queue, background writers that COPY
the rows and maintain the rollups), loaded by concurrent clients sending batches of 200 events;
timed from the first request until every event is in the table. Targets: >= 5,000 events/s and
ratio >= 0.3. Needs PostgreSQL and Redis (see tests/support/services.py for the URLs).
Usage: .venv/bin/python bench/analytics_ingest.py [--events 100000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.analytics import store  # noqa: E402
from app.analytics.schema import BROWSER_EVENT  # noqa: E402
from tests.analytics.factory import random_event, session_id  # noqa: E402
from tests.support import migrations, services  # noqa: E402
from tests.support.app_server import free_port  # noqa: E402

BENCH_REDIS = "redis://127.0.0.1:6379/14"


def make_batches(n: int, batch: int, seed: int = 7) -> list[list[dict]]:
    rng = random.Random(seed)
    sessions = [session_id(rng) for _ in range(max(10, n // 20))]
    events = [random_event(rng, sessions) for _ in range(n)]
    return [events[i : i + batch] for i in range(0, n, batch)]


def baseline(url: str, batches: list[list[dict]]) -> float:
    engine = sa.create_engine(url)
    now = datetime.now(UTC)
    rows = [
        store.to_row(BROWSER_EVENT.validate_python(e).model_dump(), received_at=now, user_id=None)
        for batch in batches
        for e in batch
    ]
    started = time.perf_counter()
    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(sa.insert(store.EVENTS), rows[i : i + 5000])
    elapsed = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE analytics_event"))
    engine.dispose()
    return len(rows) / elapsed


async def load(port: int, bodies: list[bytes], concurrency: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"content-type": "application/json"}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            response = await client.post(f"http://127.0.0.1:{port}/api/v1/events", content=body, headers=headers)
            if response.status_code != 202:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return time.perf_counter() - started


def wait_ready(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"granian exited with {process.returncode}")
        try:
            httpx.post(f"http://127.0.0.1:{port}/api/v1/events", json={"events": []}, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("granian did not start")


def count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM analytics_event")).scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not services.postgres_reachable() or not services.redis_reachable(BENCH_REDIS):
        raise SystemExit("needs PostgreSQL and Redis")
    url = services.create_postgres_database()
    try:
        migrations.upgrade(url)
        batches = make_batches(args.events, args.batch)
        bodies = [json.dumps({"events": batch}).encode() for batch in batches]
        total = sum(len(batch) for batch in batches)
        base_rate = baseline(url, batches)

        redis.Redis.from_url(BENCH_REDIS).flushdb()
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": BENCH_REDIS,
            "RATE_LIMIT_API": "100000/1",  # the highest the settings accept: the limiter runs, never refusing
            "ANALYTICS_QUEUE_CAPACITY": str(10 * total),
        }
        granian = Path(sys.executable).with_name("granian")
        cmd = [str(granian), "--interface", "asgi", "--workers", str(args.workers), "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--log-level", "warning", "bench.analytics_ingest_app:app"]
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
        engine = sa.create_engine(url)
        try:
            wait_ready(port, process)
            started = time.perf_counter()
            accept_s = asyncio.run(load(port, bodies, args.concurrency))
            while count(engine) < total:
                time.sleep(0.05)
            stored_s = time.perf_counter() - started
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=60)
        final = count(engine)
        with engine.connect() as conn:
            rolled = conn.execute(
                sa.text(
                    "SELECT sum(count) FROM analytics_rollup WHERE grain='h' AND dim='all' AND metric NOT LIKE '%:%'"
                )
            ).scalar_one()
        engine.dispose()
    finally:
        services.drop_postgres_database(url)

    rate = total / stored_s
    ratio = rate / base_rate
    print(f"events: {total} in batches of {args.batch}, {args.concurrency} clients, {args.workers} granian workers")
    print(f"load average after the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared machine)")
    print(f"baseline bare batched INSERT:         {base_rate:10.0f} events/s")
    print(f"ingest accepted (HTTP 202):           {total / accept_s:10.0f} events/s")
    print(f"ingest end-to-end (stored + rollups): {rate:10.0f} events/s")
    print(f"ratio to baseline:                    {ratio:10.2f}   (target >= 0.3)")
    print(f"rows after shutdown: {final}, events in rollups: {rolled}")
    ok = rate >= 5000 and ratio >= 0.3 and final == total and rolled == total
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
