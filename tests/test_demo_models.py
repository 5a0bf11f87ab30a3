"""The tiny demo models exist after start-up, are generated once, and are served intact."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from app.demo_models import TINY_FILES, ensure_demo_models, missing_demo_models
from app.settings import load_settings

MIB = 1 << 20


def test_generated_once_and_repaired_when_damaged(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    directory = ensure_demo_models(settings)

    assert directory == tmp_path.resolve() / "demo-models"
    assert missing_demo_models(directory) == []
    for name in TINY_FILES:
        data = (directory / name).read_bytes()
        assert len(data) >= MIB and data[4:8] == b"TFL3", name
    stamps = {name: (directory / name).stat().st_mtime_ns for name in TINY_FILES}

    ensure_demo_models(settings)  # nothing missing: nothing rewritten
    assert {name: (directory / name).stat().st_mtime_ns for name in TINY_FILES} == stamps

    (directory / "tiny-lora-r8.bin").write_bytes(b"half a file")
    ensure_demo_models(settings)
    assert missing_demo_models(directory) == []
    assert (directory / "tiny-base.bin").stat().st_mtime_ns == stamps["tiny-base.bin"]
    assert not [p for p in directory.parent.iterdir() if p.name.startswith(".demo-models-")]


def test_app_serves_the_demo_models_uncompressed(app_server) -> None:
    for name in TINY_FILES:
        response = httpx.get(f"{app_server.url}/runtime/models/{name}", headers={"Accept-Encoding": "gzip, br"})
        assert response.status_code == 200, name
        assert "content-encoding" not in response.headers
        assert int(response.headers["content-length"]) == len(response.content) >= MIB
        assert response.content[4:8] == b"TFL3"


def test_index_lists_each_demo_model_with_its_digest(app_server) -> None:
    """The chat keys and verifies its stored copies by these digests: they must match the bytes."""
    response = httpx.get(f"{app_server.url}/runtime/models/index.json")
    assert response.status_code == 200
    entries = {entry["name"]: entry for entry in response.json()["models"]}
    assert set(entries) == set(TINY_FILES)
    for name, entry in entries.items():
        data = httpx.get(f"{app_server.url}{entry['url']}").content
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert entry["size"] == len(data)
        assert entry["kind"] == ("base" if name == "tiny-base.bin" else "lora")
