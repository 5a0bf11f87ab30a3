"""`python -m app.catalog`: check and convert from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.catalog.__main__ import main
from app.catalog.synthetic import random_factors, write_peft_adapter


def test_check_and_convert(tmp_path: Path, tiny, capsys: pytest.CaptureFixture[str]) -> None:
    config, weights = write_peft_adapter(
        tmp_path / "ad",
        random_factors(tiny, rank=8, seed=2),
        rank=8,
        alpha=16,
        base_model_name="lorastudio/tiny-gemma2",
    )
    assert main(["check", "--tiny", str(config), str(weights)]) == 0
    out = capsys.readouterr().out
    assert "ok: peft adapter for the tiny test model, rank 8, modules q_proj, k_proj, v_proj, o_proj" in out
    assert main(["convert", "--tiny", str(config.parent), "--out", str(tmp_path / "x.bin")]) == 0
    assert (tmp_path / "x.bin").stat().st_size >= 1024 * 1024
    assert main(["check", str(config), str(weights)]) == 1  # not a Gemma2-2b adapter
    assert "rejected: the adapter was trained on 'lorastudio/tiny-gemma2', not Gemma2-2b" in capsys.readouterr().err


def test_sweep_storage_lists_then_removes_only_unreferenced_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import time

    from tests.support.auth import reset_caches

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("STORAGE_BACKEND", "local")
    monkeypatch.delenv("STORAGE_DIR", raising=False)
    reset_caches()
    try:
        from app.storage import get_storage

        storage = get_storage()
        orphan = storage.put_stream(iter([b"nobody refers to me"]))
        fresh = storage.put_stream(iter([b"written a moment ago"]))
        old = time.time() - 3 * 24 * 3600
        os.utime(storage.path_for(orphan.key), (old, old))

        assert main(["sweep-storage", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert f"would remove {orphan.key}" in out and "would remove 1 unreferenced file(s), 19 bytes" in out
        assert storage.exists(orphan.key)
        assert main(["sweep-storage"]) == 0
        assert "removed 1 unreferenced file(s), 19 bytes; 0 in use, 1 newer than 24 h" in capsys.readouterr().out
        assert not storage.exists(orphan.key) and storage.exists(fresh.key)
    finally:
        monkeypatch.undo()
        reset_caches()
