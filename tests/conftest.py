"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and Redis when reachable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from tests.support import migrations, services


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head, once per backend per test session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        migrations.upgrade(url)
        yield url
        return
    if not services.postgres_reachable():
        services.unavailable(f"PostgreSQL not reachable at {services.POSTGRES_ADMIN_URL}")
    url = services.create_postgres_database()
    try:
        migrations.upgrade(url)
        yield url
    finally:
        sa.create_engine(url).dispose()
        services.drop_postgres_database(url)


@pytest.fixture
def db_engine(db_url: str) -> Iterator[sa.engine.Engine]:
    from app.db import engine_for

    engine = engine_for(db_url)
    yield engine
    # Leave every table empty for the next test (same schema, no data).
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def db(db_engine: sa.engine.Engine) -> Iterator[Session]:
    with Session(db_engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture(params=["memory", "redis"])
def cache_backend(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the in-process fallback, or the URL of a flushed Redis database."""
    if request.param == "memory":
        yield None
        return
    if not services.redis_reachable():
        services.unavailable(f"Redis not reachable at {services.REDIS_URL}")
    redis.Redis.from_url(services.REDIS_URL).flushdb()
    yield services.REDIS_URL
    redis.Redis.from_url(services.REDIS_URL).flushdb()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory):
    """The real app on embedded defaults (SQLite, no Redis), once per test session."""
    from tests.support.app_server import AppServer

    server = AppServer(data_dir=tmp_path_factory.mktemp("app-data")).start()
    yield server
    server.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """pytest-playwright launches Debian's Chromium (no browser download), WebGPU on."""
    import os

    if not os.path.exists(CHROMIUM):
        services.unavailable(f"Chromium not installed at {CHROMIUM} (Debian: apt-get install chromium)")
    return {"executable_path": CHROMIUM, "headless": True, "args": [*CHROMIUM_ARGS, "--enable-unsafe-webgpu"]}
