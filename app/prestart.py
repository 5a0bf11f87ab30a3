"""Run before the server in containers: wait for the database, then migrate to head.

Several replicas may start at once (Docker Compose scale, a Kubernetes rollout without the
migration Job): on PostgreSQL a session advisory lock lets one migrate while the others wait,
then find nothing left to do.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from app.db import get_engine

ROOT = Path(__file__).resolve().parents[1]
MIGRATION_LOCK_KEY = 0x4C6F5261  # "LoRa": any constant shared by every replica


def wait_for_database(*, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with get_engine().connect() as conn:
                conn.execute(sa.text("select 1"))
            return
        except sa.exc.OperationalError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"database not reachable after {timeout_s:.0f}s: {exc.orig}") from None
            print("waiting for the database...", file=sys.stderr)
            time.sleep(2)


@contextlib.contextmanager
def migration_lock() -> Iterator[None]:
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        yield  # SQLite: one process on one machine
        return
    with engine.connect() as conn:
        conn.execute(sa.text("select pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(sa.text("select pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})


def migrate() -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    with migration_lock():
        command.upgrade(config, "head")


def main() -> None:
    wait_for_database()
    migrate()


if __name__ == "__main__":
    main()
