"""The analytics route and writer inside the real app (`reflex run --env prod`)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.analytics.factory import event
from tests.support import migrations
from tests.support.app_server import AppServer
from tests.support.auth import FAST_ARGON2, PASSWORD


def _count(db: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{db}", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM analytics_event")).scalar_one()


def test_real_app_writes_everything_it_accepted_on_clean_shutdown(tmp_path: Path) -> None:
    """The lifespan task starts the writer with the app and drains the queue when it stops."""
    data = tmp_path / "data"
    data.mkdir()
    db = data / "lorastudio.db"
    migrations.upgrade(f"sqlite:///{db}")
    # A writer that would wait a minute before writing: only the shutdown flush can store these.
    env = {"ANALYTICS_FLUSH_INTERVAL_S": "60", "ANALYTICS_FLUSH_MAX_EVENTS": "100000", **FAST_ARGON2}
    server = AppServer(data_dir=data, env=env)
    server.start()
    try:
        sent = 0
        for i in range(20):
            batch = [event(session_id=f"app-session-{i:03d}-xxxxx") for _ in range(25)]
            response = httpx.post(f"{server.url}/api/v1/events", json={"events": batch}, timeout=10)
            assert response.status_code == 202, response.text
            sent += response.json()["accepted"]
        signup = httpx.post(
            f"{server.url}/auth/signup",
            data={"email": "new@example.test", "display_name": "New", "password": PASSWORD},
            headers={"Accept": "application/json"},
            timeout=30,
        )
        assert signup.status_code == 200, signup.text
        for path in ("/admin/analytics", "/creator/analytics"):
            assert httpx.get(f"{server.url}{path}", timeout=10, follow_redirects=True).status_code == 200
        time.sleep(0.5)
        assert _count(db) == 0  # still queued
    finally:
        server.stop()
    assert server.process is not None and server.process.returncode is not None
    assert _count(db) == sent + 1 == 501, server.log_tail()  # and the server's own sign_up event
    engine = sa.create_engine(f"sqlite:///{db}", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        kinds = conn.execute(
            sa.text("SELECT type, user_id IS NOT NULL FROM analytics_event WHERE type = 'sign_up'")
        ).all()
    assert [tuple(k) for k in kinds] == [("sign_up", True)]
