"""The storage interface shared by every backend, and the staging step they all use.

Files are content-addressed: the key of an object is the sha256 of its bytes (64 lowercase hex
digits). Writing happens in two steps so that callers can check a file before it becomes
visible: `stage` streams the bytes into a private temporary file while hashing them, and
`commit` moves a staged file to its key in one atomic step. `put_stream` does both.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

_KEY = re.compile(r"[0-9a-f]{64}")
READ_CHUNK = 1024 * 1024


class StorageError(Exception):
    """Base of every storage failure; its message is safe to show to the uploader."""


class InvalidKeyError(StorageError):
    pass


class ObjectNotFoundError(StorageError):
    pass


class TooLargeError(StorageError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than the limit of {limit:,} bytes")
        self.limit = limit


class DigestMismatchError(StorageError):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"the file's sha256 is {actual}, expected {expected}")
        self.expected = expected
        self.actual = actual


def check_key(key: str) -> str:
    """Every path or object name is built from a key that passed this check (no traversal)."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidKeyError(f"not a sha256 key: {key!r:.80}")
    return key


def is_key(value: str) -> bool:
    return isinstance(value, str) and bool(_KEY.fullmatch(value))


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    created: bool
    """False when identical content was already stored (a duplicate upload)."""


@dataclass(frozen=True)
class ObjectStat:
    key: str
    size: int
    modified: float = 0.0
    """Seconds since the epoch of the last write, or of the last commit of the same bytes again."""


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


Source = Iterable[bytes] | _Readable | BinaryIO


class StagedFile:
    """A fully received, hashed file that is not in storage yet.

    Used as a context manager it deletes its temporary file on exit unless it was committed,
    so a failed check leaves nothing behind.
    """

    def __init__(self, path: Path, sha256: str, size: int) -> None:
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.committed = False

    def open(self) -> BinaryIO:
        return open(self.path, "rb")  # noqa: SIM115 - returned to the caller

    def discard(self) -> None:
        if not self.committed:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


class StagingWriter:
    """Receives chunks (from sync or async code), enforces the size limit and hashes as it goes."""

    def __init__(self, directory: Path, *, max_bytes: int | None, expected_sha256: str | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=directory)
        self._file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self._hash = hashlib.sha256()
        self._size = 0
        self._max = max_bytes
        self._expected = expected_sha256.lower() if expected_sha256 else None
        if self._expected is not None:
            check_key(self._expected)
        self._done = False

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._size += len(chunk)
        if self._max is not None and self._size > self._max:
            self.abort()
            raise TooLargeError(self._max)
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> StagedFile:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._done = True
        digest = self._hash.hexdigest()
        if self._expected is not None and digest != self._expected:
            self.abort()
            raise DigestMismatchError(self._expected, digest)
        return StagedFile(self.path, digest, self._size)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._done = True


def iter_source(source: Source, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
    read = getattr(source, "read", None)
    if callable(read):
        while True:
            chunk = read(chunk_size)
            if not chunk:
                return
            yield chunk
    else:
        yield from source  # type: ignore[misc]


class Storage(ABC):
    """One interface for the local directory and S3; the catalog never touches paths or buckets."""

    name: str

    def __init__(self, *, staging_dir: Path) -> None:
        self.staging_dir = staging_dir

    # -- writing ---------------------------------------------------------------------------
    def staging_writer(self, *, max_bytes: int | None, expected_sha256: str | None = None) -> StagingWriter:
        return StagingWriter(self.staging_dir, max_bytes=max_bytes, expected_sha256=expected_sha256)

    def stage(self, source: Source, *, max_bytes: int | None = None, expected_sha256: str | None = None) -> StagedFile:
        writer = self.staging_writer(max_bytes=max_bytes, expected_sha256=expected_sha256)
        try:
            for chunk in iter_source(source):
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.finish()

    async def stage_async(
        self, source: AsyncIterable[bytes], *, max_bytes: int | None = None, expected_sha256: str | None = None
    ) -> StagedFile:
        writer = self.staging_writer(max_bytes=max_bytes, expected_sha256=expected_sha256)
        try:
            async for chunk in source:
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.finish()

    def adopt(self, path: Path) -> StagedFile:
        """Hash a file written inside the staging directory (a conversion output) so it can be committed."""
        resolved = path.resolve()
        if self.staging_dir.resolve() not in resolved.parents:
            raise StorageError("only files inside the staging directory can be committed")
        digest = hashlib.sha256()
        size = 0
        with open(resolved, "rb") as handle:
            while chunk := handle.read(READ_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return StagedFile(resolved, digest.hexdigest(), size)

    def commit(self, staged: StagedFile) -> StoredObject:
        """Make a staged file visible under its sha256 key; identical content is stored once."""
        if staged.committed:
            raise StorageError("this staged file was already committed")
        try:
            created = self._commit(staged)
        finally:
            staged.discard()
        staged.committed = True
        return StoredObject(key=staged.sha256, size=staged.size, created=created)

    def put_stream(
        self, source: Source, *, max_bytes: int | None = None, expected_sha256: str | None = None
    ) -> StoredObject:
        with self.stage(source, max_bytes=max_bytes, expected_sha256=expected_sha256) as staged:
            return self.commit(staged)

    def put_file(self, path: Path, *, max_bytes: int | None = None, expected_sha256: str | None = None) -> StoredObject:
        with open(path, "rb") as handle:
            return self.put_stream(handle, max_bytes=max_bytes, expected_sha256=expected_sha256)

    @abstractmethod
    def _commit(self, staged: StagedFile) -> bool:
        """Move the staged bytes to their key; return False if the key already existed."""

    def purge_staging(self, *, older_than_s: float = 24 * 3600) -> int:
        """Remove what crashed or abandoned uploads left in staging; returns the number of entries.

        Only old entries go: another worker may be receiving an upload right now.
        """
        if not self.staging_dir.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in self.staging_dir.iterdir():
            try:
                if entry.lstat().st_mtime >= cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed += 1
            except FileNotFoundError:
                continue
        return removed

    # -- reading ---------------------------------------------------------------------------
    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the object (close it)."""

    @abstractmethod
    def stat(self, key: str) -> ObjectStat:
        """Size of the object; raises ObjectNotFoundError."""

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove the object; False if it was not there."""

    @abstractmethod
    def keys(self) -> Iterator[str]:
        """Every stored key (for audits, garbage collection and tests)."""

    @abstractmethod
    def url_for(self, key: str, *, public: bool = False) -> str:
        """Where a browser fetches the object: the app's route, a presigned URL or the CDN."""

    def local_path(self, key: str) -> Path | None:
        """The file on this machine, when the backend keeps one (the delivery route serves it)."""
        return None
