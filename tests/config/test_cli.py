"""`python -m app.cli config ...`: the same validation and audit as the admin page, and workers follow."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from sqlmodel import Session, select

from app.config import RuntimeConfig
from app.models.config import ConfigAudit, ConfigOverride
from app.settings import load_settings
from tests.support import services
from tests.support.app_server import ROOT
from tests.support.auth import reset_caches


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "config", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def cli_env(db_url: str, db_engine, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "DATA_DIR": str(tmp_path), "SECRET_KEY": "cli-test-secret-never-printed-42"}


def _audits(db_engine) -> list[ConfigAudit]:
    with Session(db_engine) as session:
        return list(session.exec(select(ConfigAudit).order_by(ConfigAudit.id)))


def test_set_get_reset_list_audit(cli_env: dict[str, str], db_engine) -> None:
    done = _cli(cli_env, "set", "generation.temperature", "0.4")
    assert done.returncode == 0, done.stderr
    assert "generation.temperature: 0.8 -> 0.4" in done.stdout

    got = _cli(cli_env, "get", "generation.temperature")
    assert got.stdout.strip() == "generation.temperature = 0.4  (override)"

    listing = _cli(cli_env, "list", "--json")
    rows = {row["key"]: row for row in json.loads(listing.stdout)}
    assert rows["generation.temperature"]["value"] == 0.4 and rows["generation.temperature"]["source"] == "override"
    assert rows["secret_key"] == rows["secret_key"] | {"value": None, "secret": True, "editable": False}
    assert "cli-test-secret" not in listing.stdout + _cli(cli_env, "list").stdout

    assert _cli(cli_env, "reset", "generation.temperature").returncode == 0
    audit = _cli(cli_env, "audit").stdout.splitlines()
    assert len(audit) == 2 and "reset generation.temperature: 0.4 -> 0.8" in audit[0]
    assert "set generation.temperature: 0.8 -> 0.4" in audit[1]
    assert all(row.actor.startswith("cli:") for row in _audits(db_engine))


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("set", "generation.top_k", "many"), "generation.top_k: must be a whole number"),
        (("set", "generation.top_k", "0"), "generation.top_k: must be between 1 and 100"),
        (("set", "banner.text", "<script>x</script>"), "banner.text: must be plain text"),
        (("set", "banner.text", "x" * 300), "banner.text: is longer than 280 characters"),
        (("set", "no.such", "1"), "no.such: unknown key"),
        (("set", "secret_key", "new-secret-value"), "secret_key: is set in the environment only (SECRET_KEY)"),
        (("reset", "database_url"), "database_url: is set in the environment only"),
    ],
)
def test_refused_changes_exit_2_and_touch_nothing(
    cli_env: dict[str, str], db_engine, args, reason: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """In process (the same `main` the command line runs), so the refusal cases stay fast."""
    from app import cli

    for name, value in cli_env.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    try:
        assert cli.main(["config", *args]) == 2
    finally:
        reset_caches()
    out = capsys.readouterr()
    assert out.err.startswith(f"refused: {reason}")
    assert "new-secret-value" not in out.err + out.out
    assert _audits(db_engine) == []
    with Session(db_engine) as session:
        assert session.exec(select(ConfigOverride)).all() == []


def test_a_running_worker_follows_a_cli_change_through_redis(cli_env: dict[str, str], db_url: str, db_engine) -> None:
    if not services.redis_reachable():
        services.unavailable(f"Redis not reachable at {services.REDIS_URL}")
    worker = RuntimeConfig(
        settings=load_settings(database_url=db_url), engine=db_engine, redis_url=services.REDIS_URL
    ).start()
    try:
        assert worker.wait_connected(10)
        done = _cli({**cli_env, "REDIS_URL": services.REDIS_URL}, "set", "maintenance.enabled", "on")
        assert done.returncode == 0, done.stderr
        finished = time.monotonic()
        while worker.values["maintenance.enabled"] is not True:
            assert time.monotonic() - finished < 1.0, "the worker did not see the CLI's change within a second"
            time.sleep(0.01)
    finally:
        worker.close()
        client = redis.Redis.from_url(services.REDIS_URL)
        client.delete("lorastudio:config:version")
