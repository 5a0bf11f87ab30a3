"""The tiny demo models the self-test page loads, generated on first start into DATA_DIR/demo-models.

They are built by the app (random weights, ~1 MiB each) instead of being shipped or downloaded, so
a fresh install can prove the in-browser engine works without a network or a licensed model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from app import runtime_assets
from app.mediapipe_format.cli import TINY_LORA_RANKS, write_tiny_set
from app.settings import Settings

log = logging.getLogger("lorastudio.demo_models")

TINY_FILES = (runtime_assets.TINY_BASE, *(f"tiny-lora-r{rank}.bin" for rank in TINY_LORA_RANKS))
_MIN_BYTES = 1 << 20  # the runtime rejects (or hangs on) smaller .bin files


def missing_demo_models(directory: Path) -> list[str]:
    return [name for name in TINY_FILES if not _usable(directory / name)]


def _usable(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size >= _MIN_BYTES
    except OSError:
        return False


def ensure_demo_models(settings: Settings) -> Path:
    """Write the tiny models if any is missing; idempotent and safe with several workers at once.

    Each file is generated into a private temporary folder beside the target and moved into place
    with an atomic rename, so a browser never sees a half-written model.
    """
    directory = runtime_assets.demo_models_dir(settings)
    missing = missing_demo_models(directory)
    if not missing:
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".demo-models-", dir=directory.parent))
    try:
        written = {path.name: path for path in write_tiny_set(scratch)}
        for name in missing:
            if name not in written:
                raise RuntimeError(f"the tiny-model generator did not write {name}")
            os.replace(written[name], directory / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("wrote demo models %s into %s", ", ".join(missing), directory)
    return directory


_digests: dict[tuple[str, int, int], str] = {}


def demo_model_index(directory: Path) -> list[dict[str, object]]:
    """Name, size and sha256 of each demo model, so browsers can key and verify their local copies.

    Digests are cached per (name, size, mtime): the files are written once and then only read.
    """
    entries: list[dict[str, object]] = []
    for name in TINY_FILES:
        path = directory / name
        if not _usable(path):
            continue
        stat = path.stat()
        key = (name, stat.st_size, stat.st_mtime_ns)
        if key not in _digests:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            _digests[key] = digest.hexdigest()
        rank = int(name.removeprefix("tiny-lora-r").removesuffix(".bin")) if name.startswith("tiny-lora-r") else None
        entries.append(
            {
                "name": name,
                "kind": "lora" if rank else "base",
                "rank": rank,
                "size": stat.st_size,
                "sha256": _digests[key],
                "url": f"{runtime_assets.DEMO_MODEL_URL_BASE}/{name}",
            }
        )
    return entries
