"""Upload intake edge cases: lying zip headers, and a storage failure halfway through the commit."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from app.catalog.errors import AdapterRejectedError
from app.catalog.intake import Upload, ingest_adapter
from app.catalog.synthetic import random_factors, write_peft_adapter
from app.settings import Settings
from app.storage import LocalStorage, StagedFile
from tests.catalog.conftest import files_left


def _adapter_zip(tmp: Path, tiny) -> bytes:
    config, weights = write_peft_adapter(
        tmp / "ad", random_factors(tiny, rank=4, seed=1), rank=4, alpha=4, base_model_name="lorastudio/tiny-gemma2"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(config, "adapter_config.json")
        zf.write(weights, "adapter_model.safetensors")
    return buffer.getvalue()


def _set_declared_size(data: bytes, name: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size that the central directory declares for one entry."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", out, pos + 28)[0]
        if out[pos + 46 : pos + 46 + name_len] == name:
            struct.pack_into("<I", out, pos + 24, size)
            return bytes(out)
        pos = out.find(b"PK\x01\x02", pos + 4)
    raise AssertionError("entry not found")


def test_zip_declaring_fewer_bytes_than_it_holds(
    tmp_path: Path, tiny, settings: Settings, storage: LocalStorage
) -> None:
    data = _set_declared_size(_adapter_zip(tmp_path, tiny), b"adapter_model.safetensors", 100)
    with pytest.raises(AdapterRejectedError) as info:
        ingest_adapter([Upload("a.zip", iter([data]))], storage=storage, base=tiny, settings=settings)
    assert info.value.message == "the zip is corrupt (Bad CRC-32 for file 'adapter_model.safetensors')"
    assert files_left(storage) == []


def test_zip_declaring_a_huge_entry(tmp_path: Path, tiny, settings: Settings, storage: LocalStorage) -> None:
    data = _set_declared_size(_adapter_zip(tmp_path, tiny), b"adapter_model.safetensors", 0xFFFF0000)
    with pytest.raises(AdapterRejectedError) as info:
        ingest_adapter([Upload("a.zip", iter([data]))], storage=storage, base=tiny, settings=settings)
    assert info.value.message.startswith("zip entry 'adapter_model.safetensors' expands ")
    assert info.value.message.endswith(f"to {0xFFFF0000:,} bytes; refusing a likely zip bomb")
    assert files_left(storage) == []


class _FailingSecondCommit(LocalStorage):
    """Real local storage whose disk 'fills up' on the second commit."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.commits = 0

    def _commit(self, staged: StagedFile) -> bool:
        self.commits += 1
        if self.commits == 2:
            raise OSError(28, "No space left on device")
        return super()._commit(staged)


def test_storage_failure_during_commit_leaves_nothing(tmp_path: Path, tiny, settings: Settings) -> None:
    storage = _FailingSecondCommit(settings.effective_storage_dir)
    data = _adapter_zip(tmp_path, tiny)
    with pytest.raises(OSError, match="No space left on device"):
        ingest_adapter([Upload("a.zip", iter([data]))], storage=storage, base=tiny, settings=settings)
    assert storage.commits == 2
    assert files_left(storage) == []
    ok = ingest_adapter(
        [Upload("a.zip", iter([data]))], storage=LocalStorage(storage.root), base=tiny, settings=settings
    )
    assert all(f.created for f in ok.files)
