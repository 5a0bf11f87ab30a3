"""Catalog search through the app's JSON API with 10,000 adapters in PostgreSQL, against a bare
Starlette JSON route served the same way (granian, one worker) on the same machine in the same run.

Reports p50/p95 latency and requests/s for `GET /api/v1/adapters?...`, and the throughput ratio
to the bare route (target >= 0.5). Two query mixes: "warm" (300 distinct queries, as a catalog's
popular searches: mostly answered from the cache) and "cold" (every query distinct: each one goes
to PostgreSQL's GIN index). Also the database-only p95 of the search query without HTTP or cache.

Usage: .venv/bin/python bench/search.py [--adapters 10000] [--seconds 8] [--concurrency 16]
Needs PostgreSQL (BENCH_POSTGRES_URL, default the test server at 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.app_server import AppServer, free_port, reflex_env  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WORDS = (  # noqa: SIM905 - reads better as prose
    "pirate poetry sonnet code python rust sql legal medical chef recipe travel haiku story fantasy "
    "science math tutor french spanish german summary email support sales marketing tweet review "
    "rhyme shakespeare noir detective comedy kids bedtime fitness yoga finance tax json regex shell "
    "linux docker kubernetes translate grammar essay history philosophy chess music lyrics"
).split()
TAGS = WORDS[:30]
TASKS = ("general", "chat", "code", "writing", "summarization", "translation")
LICENSES = ("apache-2.0", "mit", "cc-by-4.0", "gemma")


# --- the bare baseline -------------------------------------------------------------------------


def bare_app():  # noqa: ANN201 - granian imports this factory
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    payload = {"items": [{"slug": f"adapter-{i}", "title": "A title", "rank": 8} for i in range(24)], "total": 24}

    async def bare(request):  # noqa: ANN001, ANN202
        return JSONResponse(payload)

    return Starlette(routes=[Route("/bare", bare)])


# --- data --------------------------------------------------------------------------------------


def create_database() -> str:
    name = f"lorastudio_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return sa.engine.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fill(url: str, n: int) -> None:
    from app.catalog.search import search_text_for
    from app.models import Adapter, AdapterTag, User
    from app.models.base import utcnow
    from tests.support import migrations

    migrations.upgrade(url)
    rng = random.Random(7)
    engine = sa.create_engine(url)
    now = utcnow()
    with engine.begin() as conn:
        users = [
            {"email": f"u{i}@bench.example", "display_name": f"{rng.choice(WORDS).title()} Maker {i}", "role": "creator",
             "is_active": True, "email_verified": False, "created_at": now, "updated_at": now}
            for i in range(500)
        ]  # fmt: skip
        columns = {c.name for c in User.__table__.columns}
        conn.execute(sa.insert(User), [{k: v for k, v in u.items() if k in columns} for u in users])
        user_rows = conn.execute(sa.select(User.id, User.display_name)).all()
        adapters, tags = [], []
        for i in range(n):
            uid, uname = rng.choice(user_rows)
            words = rng.sample(WORDS, 3)
            title = f"{words[0].title()} {words[1]} adapter {i}"
            summary = f"A {words[2]} LoRA for {rng.choice(WORDS)} and {rng.choice(WORDS)}."
            chosen = rng.sample(TAGS, rng.randint(1, 4))
            adapters.append(
                {
                    "slug": f"bench-{i}", "title": title, "summary": summary, "description_md": "", "tags": chosen,
                    "task_type": rng.choice(TASKS), "languages": ["en"], "license": rng.choice(LICENSES),
                    "author_id": uid, "base_model": "gemma2-2b", "rank": rng.choice((4, 8, 16)), "alpha": 16.0,
                    "use_rslora": False, "target_modules": ["q_proj", "v_proj"], "generation": {},
                    "example_prompts": [], "status": "published" if rng.random() < 0.95 else "draft",
                    "is_demo": False, "download_count": int(rng.paretovariate(1.2) * 10),
                    "favourite_count": rng.randint(0, 50),
                    "search_text": search_text_for(title=title, summary=summary, tags=chosen, author_name=uname),
                    "created_at": now, "updated_at": now,
                }
            )  # fmt: skip
        for start in range(0, n, 2000):
            conn.execute(sa.insert(Adapter), adapters[start : start + 2000])
        ids = conn.execute(sa.select(Adapter.id, Adapter.tags)).all()
        for adapter_id, chosen in ids:
            tags.extend({"adapter_id": adapter_id, "tag": t} for t in chosen)
        conn.execute(sa.insert(AdapterTag), tags)
        conn.execute(sa.text("ANALYZE"))


def query_pool(size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = []
    for i in range(size):
        kind = rng.random()
        if kind < 0.6:
            q = " ".join(rng.sample(WORDS, rng.choice((1, 1, 2))))
            if rng.random() < 0.3:
                q = q[: max(3, len(q) - 2)]  # a prefix, as people type
            params = {"q": q}
        elif kind < 0.8:
            params = {"tag": rng.choice(TAGS), "sort": rng.choice(("popular", "newest", "favourites"))}
        else:
            params = {"sort": rng.choice(("popular", "newest", "favourites")), "page": rng.randint(1, 20)}
        if size > 1000:
            params["page"] = str(1 + i % 3)  # cold: make every query distinct
            params["per_page"] = str(20 + i % 5)
        pool.append("/api/v1/adapters?" + httpx.QueryParams(params).__str__())
    return pool


# --- load --------------------------------------------------------------------------------------


async def load(base: str, paths: list[str], *, seconds: float, concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                path = paths[counter % len(paths)]
                counter += 1
                t0 = time.perf_counter()
                r = await client.get(path)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def summary(name: str, lat: list[float], seconds: float, errors: int) -> float:
    rps = len(lat) / seconds
    q = statistics.quantiles(lat, n=100)
    print(f"  {name:<22} {rps:8.0f} req/s   p50 {q[49] * 1000:6.1f} ms   p95 {q[94] * 1000:6.1f} ms   errors {errors}")
    return rps


def db_only_p95(url: str, pool: list[str]) -> float:
    from sqlmodel import Session

    from app.catalog.schemas import SearchParams
    from app.catalog.search import _query

    engine = sa.create_engine(url)
    times = []
    with Session(engine) as session:
        for path in pool[:400]:
            params = SearchParams.model_validate(dict(httpx.URL(path).params))
            t0 = time.perf_counter()
            _query(session, params)
            times.append(time.perf_counter() - t0)
    return statistics.quantiles(times, n=100)[94] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--adapters", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    url = create_database()
    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    app = bare = None
    try:
        t0 = time.perf_counter()
        fill(url, args.adapters)
        print(f"{args.adapters:,} adapters in PostgreSQL in {time.perf_counter() - t0:.1f} s")
        env = {
            "DATABASE_URL": url,
            "SEED_DEMO_CATALOG": "false",
            "RATE_LIMIT_API": "100000/1",  # the highest the settings allow: no 429s in the run
            "LOG_LEVEL": "warning",
        }
        app = AppServer(data_dir=work / "app", env=env).start()
        port = free_port()
        bare = subprocess.Popen(
            [str(Path(sys.executable).with_name("granian")), "--interface", "asgi", "--workers", "1", "--host",
             "127.0.0.1", "--port", str(port), "--log-level", "warning", "--factory", "bench.search:bare_app"],
            cwd=ROOT, env=reflex_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        bare_url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{bare_url}/bare").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        warm, cold = query_pool(300, 1), query_pool(200_000, 2)
        assert httpx.get(app.url + warm[0]).status_code == 200, httpx.get(app.url + warm[0]).text
        print(f"database only (no HTTP, no cache): p95 {db_only_p95(url, cold):.1f} ms")
        asyncio.run(load(app.url, warm, seconds=2, concurrency=args.concurrency))  # warm up: fills the cache
        asyncio.run(load(bare_url, ["/bare"], seconds=1, concurrency=args.concurrency))
        results: dict[str, list[float]] = {"bare": [], "warm": [], "cold": []}
        for round_no in range(2):
            print(f"round {round_no + 1} ({args.concurrency} concurrent clients, {args.seconds:.0f} s each)")
            for name, base, paths in (
                ("bare", bare_url, ["/bare"]),
                ("warm", app.url, warm),
                ("cold", app.url, cold[round_no::2]),
            ):
                lat, errors = asyncio.run(load(base, paths, seconds=args.seconds, concurrency=args.concurrency))
                label = {"bare": "bare Starlette route", "warm": "search (warm mix)", "cold": "search (cold mix)"}[name]
                results[name].append(summary(label, lat, args.seconds, errors))
        bare_rps = statistics.median(results["bare"])
        for name in ("warm", "cold"):
            ratio = statistics.median(results[name]) / bare_rps
            verdict = "meets" if ratio >= 0.5 else "below"
            print(f"throughput ratio, search ({name}) / bare route: {ratio:.2f} ({verdict} the 0.5 target)")
    finally:
        if bare is not None:
            bare.terminate()
            bare.wait(10)
        if app is not None:
            app.stop()
        drop_database(url)


if __name__ == "__main__":
    main()
