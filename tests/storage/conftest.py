from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app import settings as settings_module
from app.storage import LocalStorage, Storage, get_storage


@pytest.fixture
def app_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[settings_module.Settings]:
    """The app's settings on a private data directory (embedded defaults otherwise)."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    for name in ("STORAGE_BACKEND", "STORAGE_DIR", "S3_BUCKET", "CDN_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings_module.get_settings.cache_clear()
    yield settings_module.get_settings()
    settings_module.get_settings.cache_clear()


@pytest.fixture
def local_storage(app_settings: settings_module.Settings) -> Storage:
    storage = get_storage()
    assert isinstance(storage, LocalStorage)
    return storage
