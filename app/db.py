"""The one database engine and session factory, shared by handlers, routes, CLI and tests."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from app.settings import get_settings


@functools.cache
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    # Bounded waits: while the database is unreachable a request fails fast with a clear 503
    # (app/observability/errors.py) instead of hanging.
    settings = get_settings()
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=10,
        connect_args={"connect_timeout": settings.db_connect_timeout_s},
    )


def get_engine() -> Engine:
    settings = get_settings()
    if settings.database_url == "" and not settings.data_dir.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return engine_for(settings.effective_database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


MIGRATION_LOCK_KEY = 727274  # PostgreSQL advisory lock shared by every process that migrates


def migrate(url: str | None = None) -> None:
    """Bring the database to the current schema (Alembic head); safe to run at every start.

    On PostgreSQL an advisory lock makes concurrent workers migrate one after another; on a SQLite
    file, a lock file beside it does (several workers start at once in the Redis topology).
    """
    from pathlib import Path

    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    url = url or get_settings().effective_database_url
    if url.startswith("sqlite") and get_settings().database_url == "":
        get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[1]
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    engine = engine_for(url)
    with _sqlite_migration_lock(url), engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                connection.commit()


@contextmanager
def _sqlite_migration_lock(url: str) -> Iterator[None]:
    import fcntl

    from sqlalchemy.engine import make_url

    database = make_url(url).database if url.startswith("sqlite") else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
