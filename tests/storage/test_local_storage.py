"""The local backend: content addressing, atomic commit, limits, and nothing left behind on failure."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from app.storage import (
    DigestMismatchError,
    InvalidKeyError,
    LocalStorage,
    ObjectNotFoundError,
    TooLargeError,
    check_key,
)
from tests.support import aio


def _leftovers(storage: LocalStorage) -> list[str]:
    """Every file under the storage root that is not a committed object (temp files, strays)."""
    keys = set(storage.keys())
    return [str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if p.is_file() and p.name not in keys]


def test_put_stream_is_content_addressed(local_storage: LocalStorage) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))
    obj = local_storage.put_stream(chunks)
    digest = hashlib.sha256(data).hexdigest()
    assert (obj.key, obj.size, obj.created) == (digest, len(data), True)
    path = local_storage.local_path(digest)
    assert path is not None and path.read_bytes() == data
    assert path.relative_to(local_storage.root).parts == (digest[:2], digest[2:4], digest)
    with local_storage.open(digest) as handle:
        assert handle.read() == data
    assert local_storage.stat(digest).size == len(data)
    assert local_storage.exists(digest)
    assert list(local_storage.keys()) == [digest]
    assert local_storage.url_for(digest) == f"/files/{digest}"
    assert _leftovers(local_storage) == []


def test_duplicate_content_is_stored_once(local_storage: LocalStorage, tmp_path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"same bytes" * 1000)
    first = local_storage.put_file(source)
    second = local_storage.put_stream(iter([b"same bytes" * 500, b"same bytes" * 500]))
    assert first.key == second.key
    assert (first.created, second.created) == (True, False)
    assert list(local_storage.keys()) == [first.key]
    assert _leftovers(local_storage) == []


def test_staged_file_is_invisible_until_commit_and_discarded_on_exit(local_storage: LocalStorage) -> None:
    with local_storage.stage(iter([b"x" * 10])) as staged:
        assert staged.path.read_bytes() == b"x" * 10
        assert staged.sha256 == hashlib.sha256(b"x" * 10).hexdigest()
        assert not local_storage.exists(staged.sha256)
        assert list(local_storage.keys()) == []
    assert not staged.path.exists()
    assert _leftovers(local_storage) == []


def test_commit_inside_stage_keeps_the_object(local_storage: LocalStorage) -> None:
    with local_storage.stage(iter([b"payload"])) as staged:
        obj = local_storage.commit(staged)
    assert local_storage.exists(obj.key)
    assert _leftovers(local_storage) == []


def test_size_limit_stops_the_stream_and_leaves_nothing(local_storage: LocalStorage) -> None:
    consumed = []

    def source():
        for i in range(100):
            consumed.append(i)
            yield b"z" * 1024

    with pytest.raises(TooLargeError, match=r"larger than the limit of 10,240 bytes"):
        local_storage.put_stream(source(), max_bytes=10 * 1024)
    assert len(consumed) == 11  # stopped at the first chunk over the limit, not after reading everything
    assert list(local_storage.keys()) == []
    assert _leftovers(local_storage) == []


def test_expected_digest_mismatch_leaves_nothing(local_storage: LocalStorage) -> None:
    wrong = "0" * 64
    with pytest.raises(DigestMismatchError, match=f"expected {wrong}"):
        local_storage.put_stream(iter([b"content"]), expected_sha256=wrong)
    good = hashlib.sha256(b"content").hexdigest()
    assert local_storage.put_stream(iter([b"content"]), expected_sha256=good.upper()).key == good
    assert _leftovers(local_storage) == []


def test_failing_source_leaves_nothing(local_storage: LocalStorage) -> None:
    def source():
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        local_storage.put_stream(source())
    assert list(local_storage.keys()) == []
    assert _leftovers(local_storage) == []


def test_stage_async(local_storage: LocalStorage) -> None:
    async def chunks():
        for part in (b"a" * 100, b"b" * 100):
            yield part

    async def run():
        return await local_storage.stage_async(chunks(), max_bytes=1000)

    staged = aio.run(run())
    obj = local_storage.commit(staged)
    assert obj.key == hashlib.sha256(b"a" * 100 + b"b" * 100).hexdigest()
    assert not staged.path.exists()


@pytest.mark.parametrize(
    "bad",
    ["", "../../etc/passwd", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "0" * 62 + "/x", "0" * 64 + "\n"],
)
def test_only_hex_digests_become_paths(local_storage: LocalStorage, bad: str) -> None:
    with pytest.raises(InvalidKeyError):
        check_key(bad)
    with pytest.raises(InvalidKeyError):
        local_storage.path_for(bad)
    with pytest.raises(InvalidKeyError):
        local_storage.open(bad)
    with pytest.raises(InvalidKeyError):
        local_storage.url_for(bad)


def test_missing_objects_and_delete(local_storage: LocalStorage) -> None:
    missing = "ab" * 32
    with pytest.raises(ObjectNotFoundError):
        local_storage.stat(missing)
    with pytest.raises(ObjectNotFoundError):
        local_storage.open(missing)
    assert not local_storage.exists(missing)
    assert local_storage.delete(missing) is False
    obj = local_storage.put_stream(iter([b"to delete"]))
    assert local_storage.delete(obj.key) is True
    assert not local_storage.exists(obj.key)
    assert list(local_storage.root.glob("??")) == []  # empty fan-out folders are removed too


def test_keys_ignore_strays(local_storage: LocalStorage) -> None:
    obj = local_storage.put_stream(iter([b"real"]))
    (local_storage.root / "README").write_text("not an object")
    stray_dir = local_storage.root / "zz" / "zz"
    stray_dir.mkdir(parents=True)
    (stray_dir / ("0" * 64)).write_bytes(b"misplaced")
    assert list(local_storage.keys()) == [obj.key]


def test_purge_staging_removes_only_old_leftovers(local_storage: LocalStorage) -> None:
    staging = local_storage.staging_dir
    staging.mkdir(parents=True, exist_ok=True)
    old_file, old_dir, fresh = staging / "upload-old.part", staging / "intake-old", staging / "upload-new.part"
    old_file.write_bytes(b"x")
    old_dir.mkdir()
    (old_dir / "adapter.bin").write_bytes(b"y")
    fresh.write_bytes(b"z")
    day_ago = time.time() - 2 * 24 * 3600
    for path in (old_file, old_dir):
        os.utime(path, (day_ago, day_ago))
    kept = local_storage.put_stream(iter([b"committed"]))
    assert local_storage.purge_staging() == 2
    assert sorted(p.name for p in staging.iterdir()) == ["upload-new.part"]
    assert local_storage.exists(kept.key)
