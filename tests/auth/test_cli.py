"""`python -m app.cli create-admin` on a fresh data directory."""

from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy as sa

from tests.support.auth import FAST_ARGON2


def run_cli(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **FAST_ARGON2, "DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": "", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_create_admin_then_promote_existing(tmp_path) -> None:  # noqa: ANN001
    created = run_cli(
        tmp_path, "create-admin", "--email", "Ops@Example.test", "--password-env", "PW", PW="ops admin pass 77"
    )
    assert created.returncode == 0, created.stderr
    assert "ops@example.test is an admin" in created.stdout
    weak = run_cli(tmp_path, "create-admin", "--email", "weak@example.test", "--password-env", "PW", PW="password")
    assert weak.returncode == 1 and "at least" in weak.stderr
    again = run_cli(tmp_path, "create-admin", "--email", "ops@example.test", "--no-password")
    assert again.returncode == 0
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'lorastudio.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select email, role from user_account")).all()
    assert rows == [("ops@example.test", "admin")]


def test_help_lists_commands(tmp_path) -> None:  # noqa: ANN001
    result = run_cli(tmp_path, "--help")
    assert result.returncode == 0 and "create-admin" in result.stdout
