"""Settings: safe embedded defaults, a persisted secret, and start-up stopped by bad values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import Settings, SettingsError, load_settings
from tests.support.app_server import ROOT, reflex_env


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "STORAGE_BACKEND", "SECRET_KEY", "S3_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_embedded_defaults(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'lorastudio.db'}"
    assert settings.redis_url is None
    assert settings.storage_backend == "local"
    assert settings.effective_storage_dir == (tmp_path / "files").resolve()


def test_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path).secret()
    second = load_settings(data_dir=tmp_path).secret()
    other = load_settings(data_dir=tmp_path / "elsewhere").secret()
    assert first == second and len(first) >= 48
    assert other != first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_postgres_url_gets_the_installed_driver() -> None:
    url = load_settings(database_url="postgresql://u@db:5432/app").database_url
    assert url.startswith("postgresql+psycopg://")


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"database_url": "not a url"}, "DATABASE_URL"),
        ({"database_url": "mysql://root@localhost/x"}, "DATABASE_URL"),
        ({"storage_backend": "ftp"}, "STORAGE_BACKEND"),
        ({"redis_url": "http://localhost:6379"}, "REDIS_URL"),
        ({"public_base_url": "localhost"}, "PUBLIC_BASE_URL"),
    ],
)
def test_bad_values_name_the_setting(overrides: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(**overrides)
    assert name in str(info.value)


def test_s3_backend_needs_a_bucket() -> None:
    with pytest.raises(SettingsError, match="S3_BUCKET"):
        load_settings(storage_backend="s3")


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("REDIS_URL=redis://127.0.0.1:6379/3\n")
    assert Settings().redis_url == "redis://127.0.0.1:6379/3"


@pytest.mark.parametrize(
    ("env", "name"),
    [({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL"), ({"STORAGE_BACKEND": "floppy"}, "STORAGE_BACKEND")],
)
def test_start_up_stops_with_the_name(env: dict[str, str], name: str, tmp_path: Path) -> None:
    """The real start-up path (rxconfig, as `reflex run` loads it) exits non-zero naming the setting."""
    result = subprocess.run(
        [sys.executable, "-c", "import rxconfig"],
        cwd=ROOT,
        env=reflex_env(DATA_DIR=str(tmp_path), **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert name in result.stderr and "Traceback" not in result.stderr
