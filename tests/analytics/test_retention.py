"""Retention purge, server-side events, and the sketch's promise."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session

from app.analytics import lifecycle, sketch, store
from app.analytics.schema import BROWSER_EVENT
from tests.analytics.conftest import count
from tests.analytics.factory import event


def _rows(at: datetime, n: int) -> list[dict]:
    data = BROWSER_EVENT.validate_python(event()).model_dump()
    return [store.to_row(data, received_at=at, user_id=None) for _ in range(n)]


def test_purge_deletes_only_expired_raw_events_and_keeps_rollups(db_engine: sa.Engine) -> None:
    now = datetime(2026, 5, 20, 12, tzinfo=UTC)
    store.write_with_retry(db_engine, _rows(now - timedelta(days=40), 3))
    store.write_with_retry(db_engine, _rows(now - timedelta(days=29), 2))
    store.write_with_retry(db_engine, _rows(now, 1))
    with db_engine.connect() as conn:
        rollups_before = conn.execute(
            sa.text(
                "SELECT sum(count) FROM analytics_rollup WHERE grain='d' AND dim='all' AND metric='generation_finished'"
            )
        ).scalar_one()
    with Session(db_engine) as session:
        result = store.purge(session, retention_days=30, now=now, chunk=2)  # several chunks
    assert result.events == 3
    assert count(db_engine) == 3
    assert result.seen > 0 and count(db_engine, "analytics_seen") > 0  # today's and yesterday's stay
    with db_engine.connect() as conn:
        rollups_after = conn.execute(
            sa.text(
                "SELECT sum(count) FROM analytics_rollup WHERE grain='d' AND dim='all' AND metric='generation_finished'"
            )
        ).scalar_one()
    assert rollups_before == rollups_after == 6


def test_server_events_are_recorded_and_validated(db_engine: sa.Engine, pipeline: lifecycle.Pipeline) -> None:
    lifecycle.record_server_event(
        {"v": 1, "type": "sign_in", "method": "password", "outcome": "ok", "app_version": "0.1.0"}, user_id=42
    )
    lifecycle.record_server_event(
        {
            "v": 1,
            "type": "file_download",
            "file_kind": "lora",
            "bytes": 4_000_000,
            "adapter_id": "poet-v2",
            "app_version": "0.1.0",
        }
    )
    with pytest.raises(ValidationError):
        lifecycle.record_server_event(
            {"v": 1, "type": "sign_in", "method": "carrier pigeon", "outcome": "ok", "app_version": "0.1.0"}
        )
    lifecycle.stop()
    with db_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT type, user_id, adapter_id FROM analytics_event ORDER BY id")).all()
        users = conn.execute(
            sa.text("SELECT sum(count) FROM analytics_rollup WHERE metric='active_users'")
        ).scalar_one()
    assert [tuple(row) for row in rows] == [("sign_in", 42, None), ("file_download", None, "poet-v2")]
    assert users == 1  # the signed-in user counted once, on the whole-site row (no session id)


def test_without_a_running_writer_server_events_are_written_at_once(
    db_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    lifecycle.stop()
    monkeypatch.setattr("app.analytics.lifecycle.get_engine", lambda: db_engine)
    lifecycle.record_server_event({"type": "sign_up", "method": "oidc"}, user_id=5)  # version and app version filled in
    assert count(db_engine) == 1
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT app_version FROM analytics_event")).scalar_one() == lifecycle.APP_VERSION


@pytest.mark.parametrize("seed", range(5))
def test_sketch_quantiles_stay_within_the_stated_accuracy_after_merging(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(rng.uniform(-3, 8), rng.uniform(0.1, 3)) for _ in range(rng.randint(1, 3000))]
    values += [0.0] * rng.randint(0, 5)
    parts, position = [], 0
    while position < len(values):
        size = rng.randint(1, 300)
        parts.append(sketch.from_values(values[position : position + size]))
        position += size
    merged = sketch.merge(parts)
    assert sketch.total(merged) == len(values)
    for q in (0.0, 0.1, 0.5, 0.9, 0.99, 1.0):
        assert sketch.within_tolerance(sketch.quantile(merged, q), sketch.exact_quantile(values, q))
