"""Rollups equal a direct computation over the raw events, for random data.

Counts, sums and distinct counts must match exactly; percentiles come from log-bucket
histograms and must be within sketch.RELATIVE_ACCURACY (1%) of the exact value of the same rank
(floor(q*(n-1)) of the sorted values), the tolerance stated in app/analytics/sketch.py.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from app.analytics import queries, sketch, store
from app.analytics.schema import BROWSER_EVENT
from tests.analytics.factory import ADAPTERS, random_event, session_id

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 6


def _seed(engine: sa.Engine, rng: random.Random, n: int) -> None:
    sessions = [session_id(rng) for _ in range(60)]
    rows = []
    for _ in range(n):
        data = BROWSER_EVENT.validate_python(random_event(rng, sessions)).model_dump()
        at = START + timedelta(seconds=rng.randrange(DAYS * 86400))
        rows.append(store.to_row(data, received_at=at, user_id=rng.choice([None, None, 1, 2, 3, 4, 5])))
    rng.shuffle(rows)  # batches arrive out of time order
    position = 0
    while position < len(rows):
        size = rng.randint(1, 400)
        store.write_with_retry(engine, rows[position : position + size])
        position += size


def _raw(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM analytics_event"))]
    for row in rows:
        if isinstance(row["attrs"], str):
            row["attrs"] = json.loads(row["attrs"])
        at = row["received_at"]
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        row["received_at"] = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return rows


def _assert_percentiles(perf: queries.Performance, gens: list[dict]) -> None:
    assert perf.samples == len(gens)
    ttft = [g["attrs"]["ttft_ms"] for g in gens if g["attrs"].get("ttft_ms") is not None]
    decode = [g["attrs"]["decode_tokens_per_s"] for g in gens if g["attrs"].get("decode_tokens_per_s") is not None]
    for q, approx_ttft, approx_decode in (
        (0.5, perf.ttft_p50_ms, perf.decode_p50_tps),
        (0.9, perf.ttft_p90_ms, perf.decode_p90_tps),
    ):
        assert sketch.within_tolerance(approx_ttft, sketch.exact_quantile(ttft, q)), (q, approx_ttft, ttft)
        assert sketch.within_tolerance(approx_decode, sketch.exact_quantile(decode, q)), (q, approx_decode)
    prefill = [g["attrs"]["prefill_tokens_per_s"] for g in gens if g["attrs"].get("prefill_tokens_per_s") is not None]
    if prefill:
        assert perf.prefill_mean_tps == pytest.approx(sum(prefill) / len(prefill))
    else:
        assert perf.prefill_mean_tps is None


def _authors(engine: sa.Engine, owned: list[str]) -> int:
    """Catalog rows: one creator authors `owned`, another the other adapters. Returns the first's id."""
    from app.models.catalog import Adapter
    from tests.support.auth import make_user

    with Session(engine, expire_on_commit=False) as db:
        mine = make_user(db, email="mine@example.test", role="creator", password="x" * 12)
        other = make_user(db, email="other@example.test", role="creator", password="x" * 12)
        for slug in ADAPTERS:
            db.add(Adapter(slug=slug, title=slug, author_id=mine.id if slug in owned else other.id, rank=8))
        db.commit()
        return mine.id


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_direct_computation(db_engine: sa.Engine, seed: int) -> None:
    rng = random.Random(seed)
    owned = sorted(rng.sample(ADAPTERS, 2))
    creator_id = _authors(db_engine, owned)
    _seed(db_engine, rng, 3000)
    raw = _raw(db_engine)
    assert len(raw) == 3000
    first = START.date() + timedelta(days=rng.randint(0, 2))
    dr = queries.DateRange(first, first + timedelta(days=rng.randint(1, 3)))
    start, end = dr.bounds
    in_range = [r for r in raw if start <= r["received_at"] < end]

    with Session(db_engine) as session:
        board = queries.dashboard(session, date_range=dr)
        creator = queries.dashboard(session, date_range=dr, adapter_ids=owned, creator_id=creator_id)
        summed = queries.activity(session, date_range=dr, adapter_ids=owned)
        hours = queries.hourly(session, start=start, end=start + timedelta(hours=30))
        facts = {
            (a, v): queries.performance_fact(
                session, adapter_id=a, gpu_vendor=v, min_samples=5, days=DAYS + 30, today=date(2026, 3, 31)
            )
            for a in ADAPTERS[:2]
            for v in ("nvidia", "amd")
        }

    # Activity per day, whole site: exact distinct counts.
    for point in board.activity:
        day_rows = [r for r in in_range if r["received_at"].date() == point.day]
        assert point.active_sessions == len({r["session_id"] for r in day_rows})
        assert point.active_users == len({r["user_id"] for r in day_rows if r["user_id"] is not None})
        kinds = Counter(r["type"] for r in day_rows)
        assert (point.chats, point.model_loads, point.page_views, point.errors) == (
            kinds["generation_finished"],
            kinds["engine_init"],
            kinds["page_view"],
            kinds["error"],
        )
    # Creator: their adapters only; exact distinct sessions and users over all of them (someone
    # using two of their adapters counts once).
    assert [p.day for p in creator.activity] == [p.day for p in summed] == dr.days()
    double_counted = 0
    for point, bare in zip(creator.activity, summed):
        day_rows = [r for r in in_range if r["received_at"].date() == point.day and r["adapter_id"] in owned]
        assert point.active_sessions == len({r["session_id"] for r in day_rows})
        assert point.active_users == len({r["user_id"] for r in day_rows if r["user_id"] is not None})
        assert point.chats == bare.chats == sum(r["type"] == "generation_finished" for r in day_rows)
        # Without the creator's id (a bare set of adapters): summed per adapter.
        per_adapter = sum(len({r["session_id"] for r in day_rows if r["adapter_id"] == a}) for a in owned)
        assert bare.active_sessions == per_adapter
        double_counted += per_adapter - point.active_sessions
    assert double_counted > 0  # the data does have people on both adapters: the test can tell

    # Top adapters.
    gens = [r for r in in_range if r["type"] == "generation_finished"]
    expected_top = {
        a: (
            sum(1 for g in gens if g["adapter_id"] == a),
            sum(1 for g in gens if g["adapter_id"] == a and not g["attrs"]["cancelled"]),
            sum(g["attrs"]["output_tokens"] for g in gens if g["adapter_id"] == a),
        )
        for a in ADAPTERS
    }
    assert {u.adapter_id: (u.chats, u.completed, u.output_tokens) for u in board.top_adapters} == {
        a: v
        for a, v in expected_top.items()
        if v[0] or any(r["adapter_id"] == a and r["type"] == "lora_load" for r in in_range)
    }
    assert {u.adapter_id for u in creator.top_adapters} <= set(owned)

    # Percentiles by adapter, by GPU vendor, and by vendor for the creator's adapters.
    by_adapter = defaultdict(list)
    by_vendor = defaultdict(list)
    creator_vendor = defaultdict(list)
    for g in gens:
        by_vendor[g["gpu_vendor"]].append(g)
        if g["adapter_id"]:
            by_adapter[g["adapter_id"]].append(g)
        if g["adapter_id"] in owned:
            creator_vendor[g["gpu_vendor"]].append(g)
    assert {p.key for p in board.performance_by_adapter} == set(by_adapter)
    for perf in board.performance_by_adapter:
        _assert_percentiles(perf, by_adapter[perf.key])
    assert {p.key for p in board.performance_by_gpu} == set(by_vendor)
    for perf in board.performance_by_gpu:
        _assert_percentiles(perf, by_vendor[perf.key])
    assert {p.key for p in creator.performance_by_gpu} == set(creator_vendor)
    for perf in creator.performance_by_gpu:
        _assert_percentiles(perf, creator_vendor[perf.key])
    assert {p.key for p in creator.performance_by_adapter} <= set(owned)

    # Errors by kind, with the rate per tracked operation.
    operations = sum(r["type"] in queries.OPERATIONS for r in in_range)
    errors = Counter(r["attrs"]["kind"] for r in in_range if r["type"] == "error")
    assert {e.kind: e.count for e in board.errors} == dict(errors)
    for e in board.errors:
        assert e.rate == pytest.approx(errors[e.kind] / operations)

    # Capability gaps.
    checks = [r for r in in_range if r["type"] == "capability_check"]
    missing = Counter(m for r in checks for m in r["attrs"]["missing"])
    assert board.capability_checks == len(checks)
    assert {g.capability: g.count for g in board.capability_gaps} == dict(missing)

    # Hourly rollups.
    for point in hours:
        hour_rows = [r for r in raw if point.hour <= r["received_at"] < point.hour + timedelta(hours=1)]
        assert point.events == len(hour_rows)
        hour_gens = [r for r in hour_rows if r["type"] == "generation_finished"]
        assert point.chats == len(hour_gens)
        ttft = [g["attrs"]["ttft_ms"] for g in hour_gens if g["attrs"].get("ttft_ms") is not None]
        assert sketch.within_tolerance(point.ttft_p50_ms, sketch.exact_quantile(ttft, 0.5))
    assert sum(p.events for p in hours) == sum(
        1 for r in raw if start <= r["received_at"] < start + timedelta(hours=30)
    )

    # The public fact: median decode speed for an adapter on a vendor, only with enough samples.
    for (adapter, vendor), fact in facts.items():
        values = [
            g["attrs"]["decode_tokens_per_s"]
            for g in raw
            if g["type"] == "generation_finished"
            and g["adapter_id"] == adapter
            and g["gpu_vendor"] == vendor
            and g["attrs"].get("decode_tokens_per_s") is not None
        ]
        if len(values) < 5:
            assert fact is None
        else:
            assert fact is not None and fact.samples == len(values)
            assert sketch.within_tolerance(fact.median_decode_tps, sketch.exact_quantile(values, 0.5))


def test_performance_fact_needs_enough_samples(db_engine: sa.Engine) -> None:
    from tests.analytics.factory import event

    now = datetime.now(UTC)
    speeds = [10.0, 20.0, 30.0, 40.0, 50.0]
    rows = [
        store.to_row(
            BROWSER_EVENT.validate_python(event(decode_tokens_per_s=s, gpu_vendor="amd")).model_dump(),
            received_at=now,
            user_id=None,
        )
        for s in speeds
    ]
    store.write_with_retry(db_engine, rows[:4])
    with Session(db_engine) as session:
        assert queries.performance_fact(session, adapter_id="sql-helper", gpu_vendor="amd", min_samples=5) is None
    store.write_with_retry(db_engine, rows[4:])
    with Session(db_engine) as session:
        fact = queries.performance_fact(session, adapter_id="sql-helper", gpu_vendor="amd", min_samples=5)
        assert queries.performance_fact(session, adapter_id="sql-helper", gpu_vendor="nvidia", min_samples=5) is None
    assert fact is not None and fact.samples == 5
    assert sketch.within_tolerance(fact.median_decode_tps, 30.0)
