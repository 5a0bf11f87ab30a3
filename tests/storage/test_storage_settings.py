"""The storage and upload settings refuse values that would break delivery or the runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import SettingsError, load_settings
from app.storage import LocalStorage, storage_from_settings
from app.storage.s3 import S3Storage


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.lora_ranks == [4, 8, 16]
    assert settings.s3_presign_expiry_s == 600
    storage = storage_from_settings(settings)
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "files").resolve()
    assert settings.effective_staging_dir == storage.staging_dir


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (
            {"lora_ranks": [4, 6]},
            "LORA_RANKS: Value error, ranks must be multiples of 4 between 4 and 256 (4x4 tiles), got [6]",
        ),
        ({"lora_ranks": []}, "LORA_RANKS: Value error, needs at least one rank"),
        ({"cdn_base_url": "ftp://cdn.example"}, "CDN_BASE_URL: Value error, must start with https:// or http://"),
        ({"s3_key_prefix": "../x/"}, "S3_KEY_PREFIX: Value error, must be empty or a relative path ending in '/'"),
        ({"s3_presign_expiry_s": 0}, "S3_PRESIGN_EXPIRY_S: Input should be greater than or equal to 1"),
        ({"s3_presign_expiry_s": 700_000}, "S3_PRESIGN_EXPIRY_S: Input should be less than or equal to 604800"),
        (
            {"s3_multipart_chunk_bytes": 1024},
            "S3_MULTIPART_CHUNK_BYTES: Input should be greater than or equal to 5242880",
        ),
        ({"storage_backend": "s3"}, "STORAGE_BACKEND=s3 needs S3_BUCKET"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, overrides: dict, fragment: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(data_dir=tmp_path, **overrides)
    assert fragment in info.value.message


def test_ranks_are_sorted_and_unique(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path, lora_ranks=[16, 4, 16, 8]).lora_ranks == [4, 8, 16]


def test_s3_settings_build_the_s3_backend(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        storage_backend="s3",
        s3_bucket="models",
        s3_endpoint_url="http://127.0.0.1:9",
        cdn_base_url="https://cdn.example/lora/",
        s3_presign_expiry_s=60,
        s3_access_key_id="id",
        s3_secret_access_key="secret",
    )
    storage = storage_from_settings(settings)
    assert isinstance(storage, S3Storage)
    assert storage.cdn_base_url == "https://cdn.example/lora"
    key = "ab" * 32
    assert storage.url_for(key, public=True) == f"https://cdn.example/lora/files/ab/{key}"
    assert "X-Amz-Expires=60" in storage.url_for(key)
