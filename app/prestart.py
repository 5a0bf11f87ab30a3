"""Run before the server in containers: wait for the database, then migrate to head.

Several replicas may start at once (Docker Compose scale, a Kubernetes rollout, the migration
Job): `app.db.migrate` takes a PostgreSQL advisory lock, so one migrates while the others wait,
then find nothing left to do.
"""

from __future__ import annotations

import sys
import time

import sqlalchemy as sa

from app.db import get_engine, migrate


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


def main() -> None:
    wait_for_database()
    migrate()


if __name__ == "__main__":
    main()
