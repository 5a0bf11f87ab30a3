"""Local directory backend: the default for one process on a laptop.

Layout: ROOT/ab/cd/abcd…(64 hex). Paths are built only from keys that passed `check_key`, so
nothing a user sends can reach outside ROOT. Staging lives in ROOT/.staging so that the final
`os.replace` is a same-filesystem atomic rename.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from app.storage.base import ObjectNotFoundError, ObjectStat, StagedFile, Storage, check_key, is_key

FILES_ROUTE = "/files"


class LocalStorage(Storage):
    name = "local"

    def __init__(self, root: Path, *, route_prefix: str = FILES_ROUTE) -> None:
        self.root = root.resolve()
        super().__init__(staging_dir=self.root / ".staging")
        self.route_prefix = route_prefix.rstrip("/")

    def path_for(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def _commit(self, staged: StagedFile) -> bool:
        final = self.path_for(staged.sha256)
        if final.is_file():
            # The same bytes again: mark the file as in use, so a sweep of unreferenced files
            # (app/catalog/sweep.py) leaves it alone while the new reference is written.
            with contextlib.suppress(OSError):
                os.utime(final)
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(staged.path, 0o644)
        # Identical content under one name: a concurrent commit of the same bytes is harmless.
        os.replace(staged.path, final)
        _fsync_dir(final.parent)
        return True

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.path_for(key), "rb")  # noqa: SIM115 - returned to the caller
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no stored file {key}") from None

    def stat(self, key: str) -> ObjectStat:
        try:
            st = self.path_for(key).stat()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no stored file {key}") from None
        return ObjectStat(key=key, size=st.st_size, modified=st.st_mtime)

    def delete(self, key: str) -> bool:
        path = self.path_for(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        for parent in (path.parent, path.parent.parent):
            with contextlib.suppress(OSError):
                parent.rmdir()  # only when empty
        return True

    def keys(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for entry in sorted(second.iterdir()):
                    if is_key(entry.name) and entry.name[:2] == first.name and entry.name[2:4] == second.name:
                        yield entry.name

    def url_for(self, key: str, *, public: bool = False) -> str:
        return f"{self.route_prefix}/{check_key(key)}"

    def local_path(self, key: str) -> Path | None:
        return self.path_for(key)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
