"""Dashboard query time over 1,000,000 events on PostgreSQL (target: p95 < 100 ms).

Seeds the events through the real write path (raw rows + rollups, 30 days, 50 adapters, 8 GPU
vendors), then times what the pages ask for, from the rollups only: the admin dashboard (all
tables and charts), a creator's dashboard (5 random adapters), 48 hours hourly, and the public
performance figures of a random adapter. Every call gets its own date range (7, 30 or 90 days
ending on a random recent day), so no two consecutive calls ask the same question. For scale,
the same percentiles by adapter computed straight from the raw events with percentile_cont are
timed too (what the rollups avoid).

With --baseline REV, app/analytics/queries.py as of git revision REV is loaded beside the
current one and both answer the same calls, interleaved (A B B A ...), so load on a shared
machine hits both alike: the ratio is the number to read.
Usage: .venv/bin/python bench/analytics_dashboard.py [--events 1000000] [--repeat 40] [--keep]
       [--baseline beb3e2e]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import statistics
import string
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.analytics import queries, store  # noqa: E402
from tests.support import migrations, services  # noqa: E402

TODAY = date(2026, 6, 30)
DAYS = 30
ADAPTERS = [f"adapter-{i:02d}" for i in range(50)]
VENDORS = ["nvidia", "amd", "intel", "apple", "qualcomm", "arm", "google", "unknown"]


KEPT_DB = "lorastudio_bench_dashboard"


def _database(keep: bool) -> tuple[str, bool]:
    """A fresh database, or with --keep the kept one (reused when it is already seeded)."""
    if not keep:
        return services.create_postgres_database(), False
    admin = sa.create_engine(services.POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    url = str(
        sa.engine.make_url(services.POSTGRES_ADMIN_URL).set(database=KEPT_DB).render_as_string(hide_password=False)
    )
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": KEPT_DB}).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{KEPT_DB}"'))
            return url, False
    with sa.create_engine(url, poolclass=sa.pool.NullPool).connect() as conn:
        seeded = conn.execute(sa.text("SELECT to_regclass('analytics_event') IS NOT NULL")).scalar_one()
        if seeded and conn.execute(sa.text("SELECT count(*) FROM analytics_event")).scalar_one():
            return url, True
    return url, False


def events(n: int, rng: random.Random):
    """Rows as the route would hand them to the writer (already validated), oldest first."""
    sessions = ["".join(rng.choices(string.ascii_letters, k=22)) for _ in range(n // 25)]
    start = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) - timedelta(days=DAYS - 1)
    weights = [1 / (i + 1) for i in range(len(ADAPTERS))]
    for i in range(n):
        at = start + timedelta(seconds=int(i / n * DAYS * 86400))
        kind = rng.choices(
            ["page_view", "capability_check", "engine_init", "lora_load", "generation_finished", "error"],
            [30, 5, 5, 10, 45, 5],
        )[0]
        event = {
            "v": 1,
            "type": kind,
            "session_id": rng.choice(sessions),
            "adapter_id": rng.choices(ADAPTERS, weights)[0],
            "gpu_vendor": rng.choice(VENDORS),
            "gpu_architecture": None,
            "browser": "chrome",
            "app_version": "0.1.0",
        }
        if kind == "page_view":
            event["page"] = rng.choice(["home", "catalog", "adapter", "chat"])
        elif kind == "capability_check":
            missing = rng.sample(["webgpu", "shader_f16", "storage_quota"], rng.randint(0, 1))
            event.update(ok=not missing, missing=missing)
        elif kind in ("engine_init", "lora_load"):
            event.update(outcome="ok", duration_ms=rng.randint(10, 9000))
        elif kind == "generation_finished":
            event.update(
                ttft_ms=rng.lognormvariate(6, 0.8),
                prefill_tokens_per_s=rng.uniform(100, 900),
                decode_tokens_per_s=rng.lognormvariate(3, 0.5),
                input_tokens=rng.randint(10, 2000),
                output_tokens=rng.randint(1, 800),
                cancelled=rng.random() < 0.05,
            )
        else:
            event.update(kind=rng.choice(["out_of_memory", "device_lost", "unknown"]), stage="init")
        yield store.to_row(event, received_at=at, user_id=rng.choice([None, rng.randint(1, 5000)]))


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def load_baseline(rev: str):  # noqa: ANN201 - a module
    """app/analytics/queries.py as of `rev`, importable beside the current one."""
    source = subprocess.run(
        ["git", "show", f"{rev}:app/analytics/queries.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_queries.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_queries", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_queries"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def random_range(rng: random.Random, module) -> object:  # noqa: ANN001
    days = rng.choice([7, 30, 90])
    return module.DateRange.last_days(days, today=TODAY - timedelta(days=rng.randint(0, 6)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--batch", type=int, default=20_000, help="events per write (the writer's batch)")
    parser.add_argument("--baseline", help="git revision whose queries.py to time beside the current one")
    parser.add_argument(
        "--keep", action="store_true", help=f"keep the seeded database ({KEPT_DB}) and reuse it next time"
    )
    args = parser.parse_args()
    if not services.postgres_reachable():
        raise SystemExit("needs PostgreSQL")
    url, reuse = _database(args.keep)
    engine = sa.create_engine(url)
    try:
        seeded_s = 0.0
        if not reuse:
            migrations.upgrade(url)
            rng = random.Random(3)
            seen = store.SeenCache()
            started = time.perf_counter()
            batch: list[dict] = []
            for row in events(args.events, rng):
                batch.append(row)
                if len(batch) == args.batch:
                    store.write_with_retry(engine, batch, seen_cache=seen)
                    batch = []
            if batch:
                store.write_with_retry(engine, batch, seen_cache=seen)
            seeded_s = time.perf_counter() - started
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")  # outside a transaction: a rolled-back ANALYZE keeps no statistics
        with engine.connect() as conn:
            raw = conn.exec_driver_sql("SELECT count(*) FROM analytics_event").scalar_one()
            rollup_rows = conn.exec_driver_sql("SELECT count(*) FROM analytics_rollup").scalar_one()

        implementations = {"current": queries}
        if args.baseline:
            implementations = {"baseline": load_baseline(args.baseline), "current": queries}
        end = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) + timedelta(days=1)

        def case_calls(module, name: str, rng: random.Random):  # noqa: ANN001, ANN202
            """One call of a case with freshly drawn parameters (the same draw for every implementation)."""
            dr = random_range(rng, module)
            owned = sorted(rng.sample(ADAPTERS, 5))
            adapter = rng.choice(ADAPTERS)
            hours_back = rng.randint(0, 24 * 7)
            current = module is queries
            if name == "admin dashboard":
                return lambda s: module.dashboard(s, date_range=dr)
            if name == "creator dashboard, 5 adapters":
                extra = {"creator_id": 1} if current else {}
                return lambda s: module.dashboard(s, date_range=dr, adapter_ids=owned, **extra)
            if name == "48 hours, hourly":
                stop = end - timedelta(hours=hours_back)
                return lambda s: module.hourly(s, start=stop - timedelta(hours=48), end=stop)
            if current:
                return lambda s: module.performance_facts(s, adapter_id=adapter, min_samples=20, today=TODAY)
            return lambda s: module.performance_fact(
                s, adapter_id=adapter, gpu_vendor="nvidia", min_samples=20, today=TODAY
            )

        names = ["admin dashboard", "creator dashboard, 5 adapters", "48 hours, hourly", "public performance figures"]
        results: dict[tuple[str, str], list[float]] = {(n, impl): [] for n in names for impl in implementations}
        cpu: dict[tuple[str, str], list[float]] = {(n, impl): [] for n in names for impl in implementations}
        order = list(implementations)
        for i in range(args.repeat + 1):  # the first round warms up
            for name in names:
                seed = f"{i}:{name}"
                for impl in order if i % 2 == 0 else reversed(order):
                    call = case_calls(implementations[impl], name, random.Random(seed))
                    with Session(engine) as session:
                        started, cpu_started = time.perf_counter(), time.process_time()
                        call(session)
                        wall = (time.perf_counter() - started) * 1000
                        used = (time.process_time() - cpu_started) * 1000
                    if i:
                        results[(name, impl)].append(wall)
                        cpu[(name, impl)].append(used)
        raw_sql = sa.text(
            "SELECT adapter_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY (attrs->>'decode_tokens_per_s')::float), "
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY (attrs->>'ttft_ms')::float) FROM analytics_event "
            "WHERE type = 'generation_finished' AND received_at >= :start GROUP BY adapter_id"
        )

        def raw_scan() -> None:
            with engine.connect() as conn:
                conn.execute(raw_sql, {"start": queries.DateRange.last_days(DAYS, today=TODAY).bounds[0]}).all()

        raw_scan()
        raw_ms = []
        for _ in range(3):
            started = time.perf_counter()
            raw_scan()
            raw_ms.append((time.perf_counter() - started) * 1000)
    finally:
        engine.dispose()
        if not args.keep:
            services.drop_postgres_database(url)

    if seeded_s:
        print(f"seeded {raw} events through the write path in {seeded_s:.0f} s ({raw / seeded_s:.0f} events/s)")
    else:
        print(f"reused {KEPT_DB} with {raw} events")
    print(f"{rollup_rows} rollup rows")
    worst = 0.0
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name in names:
        for impl in implementations:
            values, used = results[(name, impl)], cpu[(name, impl)]
            if impl == "current":
                worst = max(worst, p95(values))
            print(
                f"{name:32s} {impl:8s} p50 {statistics.median(values):7.1f} ms   p95 {p95(values):7.1f} ms"
                f"   (client CPU p50 {statistics.median(used):5.1f} ms)"
            )
        if len(implementations) == 2:
            ratio = p95(results[(name, "current")]) / p95(results[(name, "baseline")])
            print(f"{'':32s} current/baseline p95 ratio {ratio:.2f}")
    print(f"{'raw-event scan (percentiles only)':32s} p50 {statistics.median(raw_ms):7.1f} ms   (what rollups avoid)")
    ok = worst < 100
    print(f"worst p95 {worst:.1f} ms (target < 100 ms): {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
