"""Intake follows the run-time configuration: an admin's size limit and accepted ranks apply at once."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from app.catalog.errors import AdapterRejectedError
from app.catalog.intake import Upload, ingest_adapter
from app.catalog.synthetic import random_factors, write_peft_adapter
from app.config import Actor, RuntimeConfig
from app.settings import Settings
from app.storage import LocalStorage

ADMIN = Actor("admin@example.org", user_id=1)


def _zip(tmp: Path, tiny, *, rank: int) -> bytes:
    config, weights = write_peft_adapter(
        tmp / f"r{rank}",
        random_factors(tiny, rank=rank, seed=3),
        rank=rank,
        alpha=rank,
        base_model_name="lorastudio/tiny-gemma2",
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(config, "adapter_config.json")
        zf.write(weights, "adapter_model.safetensors")
    return buffer.getvalue()


def test_overrides_decide_ranks_and_size(tmp_path: Path, tiny, settings: Settings, db_engine) -> None:
    storage = LocalStorage(settings.effective_storage_dir)
    config = RuntimeConfig(settings=settings, engine=db_engine, redis_url=None)
    rank8 = _zip(tmp_path, tiny, rank=8)

    accepted = ingest_adapter([Upload("a.zip", iter([rank8]))], storage=storage, base=tiny, config=config)
    assert accepted.files

    config.set("lora.ranks", "4, 16", actor=ADMIN)
    with pytest.raises(AdapterRejectedError, match="rank r=8 is not supported: .* ranks 4, 16"):
        ingest_adapter([Upload("a.zip", iter([rank8]))], storage=storage, base=tiny, config=config)

    config.reset("lora.ranks", actor=ADMIN)
    config.set("uploads.max_bytes", 1024, actor=ADMIN)
    with pytest.raises(AdapterRejectedError, match="larger than the upload limit of 1,024 bytes"):
        ingest_adapter([Upload("a.zip", iter([rank8]))], storage=storage, base=tiny, config=config)
