"""Fixtures for analytics: the ingest route on a test client, its writer on the test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.analytics import lifecycle, wiring
from app.analytics.pipeline import MemoryQueue
from app.routes.events import event_routes
from tests.support.auth import reset_caches


@pytest.fixture(autouse=True)
def _app_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app's own settings (run-time config lookups) use a temporary DATA_DIR, not ./data."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "app-data"))
    reset_caches()
    yield
    monkeypatch.undo()
    reset_caches()


@pytest.fixture(autouse=True)
def _fresh_adapter_authors() -> Iterator[None]:
    """The writer remembers adapter authors per process; each test has its own catalog rows."""
    wiring.forget_adapter_authors()
    yield
    wiring.forget_adapter_authors()


@pytest.fixture
def pipeline(db_engine: sa.Engine) -> Iterator[lifecycle.Pipeline]:
    """The write path (in-process queue) writing to the test database; stopped (drained) after."""
    lifecycle.stop()
    started = lifecycle.start(engine=db_engine, queue=MemoryQueue(capacity=1_000_000))
    yield started
    lifecycle.stop()


@pytest.fixture
def client(pipeline: lifecycle.Pipeline) -> Iterator[TestClient]:
    app = Starlette(routes=event_routes())
    with TestClient(app) as test_client:
        yield test_client


def stored(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.text("SELECT * FROM analytics_event ORDER BY id"))]


def count(engine: sa.Engine, table: str = "analytics_event") -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
