"""Take a PEFT adapter out of an uploaded zip without trusting the archive.

Every entry name is checked (no absolute paths, `..`, backslashes, drive letters, symlinks,
encryption) before anything is read; declared sizes are checked against the limit and the
compression ratio against zip-bomb levels; extraction then counts real bytes, so a lying
header cannot write more than allowed. Only the two adapter files are extracted, under names we
choose, into a directory the caller owns.
"""

from __future__ import annotations

import contextlib
import posixpath
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from app.catalog.errors import AdapterRejectedError

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
PICKLE_WEIGHTS = ("adapter_model.bin", "adapter_model.pt", "adapter_model.pth")
MAX_ENTRIES = 1000
MAX_RATIO = 100  # uncompressed/compressed; real adapters compress about 1.1:1
RATIO_FLOOR = 1024 * 1024  # small entries may compress well (JSON)
READ_CHUNK = 1024 * 1024


class ArchiveError(AdapterRejectedError):
    """The zip cannot be accepted; the message names the entry and the reason."""


@dataclass(frozen=True)
class AdapterFiles:
    config: Path
    weights: Path


def _unsafe_reason(name: str) -> str | None:
    if not name or "\x00" in name:
        return "an empty or NUL-containing name"
    if "\\" in name:
        return "a backslash in its path"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "a '..' path component"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _copy_limited(source: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, budget: int) -> int:
    written = 0
    with source.open(info) as src, open(dest, "wb") as out:
        while True:
            chunk = src.read(READ_CHUNK)
            if not chunk:
                break
            written += len(chunk)
            if written > budget or written > info.file_size:
                raise ArchiveError(f"zip entry {info.filename!r} unpacks to more bytes than it declares")
            out.write(chunk)
    return written


def extract_adapter(archive: Path, dest: Path, *, max_unpacked_bytes: int) -> AdapterFiles:
    """Extract adapter_config.json and adapter_model.safetensors from ``archive`` into ``dest``."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"the upload is not a valid zip archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ArchiveError(f"the zip has {len(infos):,} entries; at most {MAX_ENTRIES:,} are accepted")
        for info in infos:
            reason = _unsafe_reason(info.filename)
            if reason:
                raise ArchiveError(f"zip entry {info.filename!r:.200} has {reason}; refusing the archive")
            if _is_symlink(info):
                raise ArchiveError(f"zip entry {info.filename!r} is a symbolic link; refusing the archive")
        files = [i for i in infos if not i.is_dir()]

        def pick(basename: str) -> zipfile.ZipInfo | None:
            found = [i for i in files if posixpath.basename(i.filename) == basename]
            if len(found) > 1:
                names = ", ".join(repr(i.filename) for i in found)
                raise ArchiveError(f"the zip holds more than one {basename} ({names}); upload one adapter per zip")
            return found[0] if found else None

        config, weights = pick(CONFIG_NAME), pick(WEIGHTS_NAME)
        if weights is None:
            pickled = [i.filename for i in files if posixpath.basename(i.filename) in PICKLE_WEIGHTS]
            if pickled:
                raise ArchiveError(
                    f"the zip holds {pickled[0]!r}, a PyTorch pickle; save the adapter with "
                    "safe_serialization=True (adapter_model.safetensors) and upload that"
                )
            raise ArchiveError(f"the zip holds no {WEIGHTS_NAME}")
        if config is None:
            raise ArchiveError(f"the zip holds no {CONFIG_NAME}")
        if posixpath.dirname(config.filename) != posixpath.dirname(weights.filename):
            raise ArchiveError(f"{config.filename!r} and {weights.filename!r} are in different folders of the zip")

        needed = (config, weights)
        for info in needed:
            if info.flag_bits & 0x1:
                raise ArchiveError(f"zip entry {info.filename!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ArchiveError(f"zip entry {info.filename!r} uses an unsupported compression method")
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                ratio = info.file_size // max(info.compress_size, 1)
                raise ArchiveError(
                    f"zip entry {info.filename!r} expands {ratio:,}:1 to {info.file_size:,} bytes; "
                    "refusing a likely zip bomb"
                )
        unpacked = config.file_size + weights.file_size
        if unpacked > max_unpacked_bytes:
            raise ArchiveError(
                f"the adapter files in the zip unpack to {unpacked:,} bytes, more than the limit of "
                f"{max_unpacked_bytes:,}"
            )

        dest.mkdir(parents=True, exist_ok=True)
        out = AdapterFiles(config=dest / CONFIG_NAME, weights=dest / WEIGHTS_NAME)
        try:
            budget = max_unpacked_bytes
            budget -= _copy_limited(zf, config, out.config, budget)
            _copy_limited(zf, weights, out.weights, budget)
        except zipfile.BadZipFile as exc:
            _remove(out)
            raise ArchiveError(f"the zip is corrupt ({exc})") from None
        except BaseException:
            _remove(out)
            raise
        return out


def _remove(files: AdapterFiles) -> None:
    for path in (files.config, files.weights):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
