"""The database backup and restore commands of docs/operations.md, run for real: pg_dump of a
migrated database with data, pg_restore into an empty one, and the app's prestart (wait +
migrate under the advisory lock) finds nothing left to do there."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.support import migrations, services

ROOT = Path(__file__).resolve().parents[2]


def _libpq_url(url: str) -> str:
    """pg_dump/pg_restore take a libpq URL (postgresql://), not SQLAlchemy's driver form."""
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_pg_dump_and_restore_round_trip(tmp_path: Path) -> None:
    if not services.postgres_reachable():
        services.unavailable(f"PostgreSQL not reachable at {services.POSTGRES_ADMIN_URL}")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        services.unavailable("pg_dump/pg_restore are not installed (Debian: postgresql-client)")
    source = services.create_postgres_database()
    target = services.create_postgres_database()
    try:
        migrations.upgrade(source)
        with sa.create_engine(source).begin() as conn:
            conn.execute(
                sa.text(
                    "insert into user_account (email, display_name, role, is_active, created_at, updated_at) "
                    "values ('ada@example.com', 'Ada', 'admin', true, now(), now())"
                )
            )
            head = conn.execute(sa.text("select version_num from alembic_version")).scalar()
        dump = tmp_path / "lorastudio.dump"
        subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", _libpq_url(source)], check=True, timeout=120
        )
        assert dump.stat().st_size > 0
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq_url(target)}", str(dump)],
            check=True,
            timeout=120,
        )
        with sa.create_engine(target).connect() as conn:
            assert conn.execute(sa.text("select display_name from user_account")).scalars().all() == ["Ada"]
            assert conn.execute(sa.text("select version_num from alembic_version")).scalar() == head

        # After a restore the app's start-up step migrates (here: nothing to do) and exits 0.
        env = {**os.environ, "DATABASE_URL": target, "DATA_DIR": str(tmp_path / "data")}
        result = subprocess.run(
            [sys.executable, "-m", "app.prestart"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
    finally:
        sa.create_engine(source).dispose()
        services.drop_postgres_database(source)
        services.drop_postgres_database(target)


def test_migrations_wait_for_the_replica_that_holds_the_migration_lock(tmp_path: Path) -> None:
    """Compose scale or a rollout without the Job: every container runs prestart at once. Each
    takes a PostgreSQL advisory lock before migrating, so one migrates while the others wait."""
    if not services.postgres_reachable():
        services.unavailable(f"PostgreSQL not reachable at {services.POSTGRES_ADMIN_URL}")
    from app.db import MIGRATION_LOCK_KEY

    url = services.create_postgres_database()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data")}
        with engine.connect() as holder:  # another replica, in the middle of migrating
            holder.execute(sa.text("select pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            waiting = subprocess.Popen(
                [sys.executable, "-m", "app.prestart"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            with contextlib.suppress(subprocess.TimeoutExpired):
                waiting.wait(timeout=8)
            assert waiting.poll() is None, "prestart migrated without waiting for the lock"
            with engine.connect() as conn:
                assert not sa.inspect(conn).has_table("alembic_version")
            holder.execute(sa.text("select pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            holder.commit()
        output = waiting.communicate(timeout=120)[0]
        assert waiting.returncode == 0, output
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from alembic_version")).scalar() == 1
    finally:
        engine.dispose()
        services.drop_postgres_database(url)
