"""From uploaded bytes to checked, converted files in storage — or a rejection and nothing left.

Accepted uploads: `adapter_config.json` + `adapter_model.safetensors`; one zip holding them; or
an already converted MediaPipe LoRA `.bin`. Every upload is streamed to the staging area with
the size limit and hashed on the way; checks and conversion run on the staged copies; only when
everything passed are the files committed (content-addressed, so a duplicate upload stores
nothing new). Any failure removes every staged, extracted and converted file.

The database part of an upload (the adapter/version rows) belongs to the caller: it runs inside
its own transaction after `ingest_adapter` and calls `IntakeResult.rollback` if that fails.
"""

from __future__ import annotations

import contextlib
import posixpath
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.catalog.archive import extract_adapter
from app.catalog.base_models import GEMMA2_2B, BaseModelSpec
from app.catalog.errors import AdapterRejectedError
from app.catalog.mediapipe_lora import validate_mediapipe_lora
from app.catalog.peft import CONFIG_NAME, WEIGHTS_NAME, convert_peft, validate_peft
from app.config import RuntimeConfig, get_runtime_config
from app.settings import Settings
from app.storage import Storage, TooLargeError
from app.storage.base import Source, StagedFile

FileRole = Literal["mediapipe-lora", "peft-weights", "peft-config"]
PEFT_ROLES: dict[FileRole, str] = {"peft-config": CONFIG_NAME, "peft-weights": WEIGHTS_NAME}


@dataclass(frozen=True)
class Upload:
    filename: str
    source: Source


@dataclass(frozen=True)
class IntakeFile:
    role: FileRole
    key: str
    size: int
    created: bool
    """False when these exact bytes were already stored (a duplicate upload)."""


@dataclass(frozen=True)
class IntakeResult:
    source_format: Literal["peft", "mediapipe"]
    base_label: str
    rank: int
    alpha: float | None
    use_rslora: bool
    target_modules: tuple[str, ...]
    include_mlp: bool
    files: tuple[IntakeFile, ...]

    @property
    def lora_file(self) -> IntakeFile:
        return next(f for f in self.files if f.role == "mediapipe-lora")

    @property
    def duplicate(self) -> bool:
        return not self.lora_file.created

    def rollback(self, storage: Storage) -> None:
        """Undo the commit when the caller's database step fails (only files this intake created)."""
        for item in self.files:
            if item.created:
                storage.delete(item.key)


def display_name(filename: str) -> str:
    """The last path component, shortened: safe to echo in a message, never used as a path."""
    name = posixpath.basename(filename.replace("\\", "/")).strip() or "the upload"
    return name if len(name) <= 80 else name[:77] + "..."


def _is_zip(name: str, staged: StagedFile) -> bool:
    with open(staged.path, "rb") as handle:
        head = handle.read(4)
    return name.lower().endswith(".zip") or head in (b"PK\x03\x04", b"PK\x05\x06")


def ingest_adapter(
    uploads: Sequence[Upload],
    *,
    storage: Storage,
    base: BaseModelSpec = GEMMA2_2B,
    settings: Settings | None = None,
    config: RuntimeConfig | None = None,
) -> IntakeResult:
    """Check, convert and store an adapter upload; raises AdapterRejectedError with the reason.

    Size limit and accepted ranks come from the run-time configuration (an admin may change them),
    or from `settings` when a caller passes fixed ones.
    """
    if settings is None:
        values = (config or get_runtime_config()).values
        limit, ranks = int(values["uploads.max_bytes"]), list(values["lora.ranks"])  # type: ignore[call-overload]
    else:
        limit, ranks = settings.max_adapter_upload_bytes, settings.lora_ranks
    if not uploads:
        raise AdapterRejectedError("no file was uploaded")
    if len(uploads) > 2:
        raise AdapterRejectedError(
            f"{len(uploads)} files were uploaded; upload {CONFIG_NAME} + {WEIGHTS_NAME}, one zip, or one .bin"
        )
    workdir = storage.staging_dir / f"intake-{uuid.uuid4().hex}"
    staged: list[StagedFile] = []
    try:
        workdir.mkdir(parents=True)
        named: list[tuple[str, StagedFile]] = []
        for upload in uploads:
            name = display_name(upload.filename)
            try:
                item = storage.stage(upload.source, max_bytes=limit)
            except TooLargeError:
                raise AdapterRejectedError(f"{name} is larger than the upload limit of {limit:,} bytes") from None
            staged.append(item)
            if item.size == 0:
                raise AdapterRejectedError(f"{name} is empty (0 bytes)")
            named.append((name, item))
        return _ingest(named, storage=storage, base=base, ranks=ranks, limit=limit, workdir=workdir)
    finally:
        for item in staged:
            item.discard()
        shutil.rmtree(workdir, ignore_errors=True)


def _ingest(
    named: list[tuple[str, StagedFile]],
    *,
    storage: Storage,
    base: BaseModelSpec,
    ranks: Sequence[int],
    limit: int,
    workdir: Path,
) -> IntakeResult:
    by_ext = {Path(name.lower()).suffix: (name, item) for name, item in named}
    if len(named) == 1:
        name, item = named[0]
        lower = name.lower()
        if _is_zip(name, item):
            files = extract_adapter(item.path, workdir / "unzipped", max_unpacked_bytes=limit)
            return _peft(files.config, files.weights, storage=storage, base=base, ranks=ranks, workdir=workdir)
        if lower.endswith(".bin"):
            checked = validate_mediapipe_lora(item.path, display_name=name, base=base, ranks=ranks)
            stored = _commit(storage, [("mediapipe-lora", item)])
            modules = ("q_proj", "k_proj", "v_proj", "o_proj") + (
                ("gate_proj", "up_proj", "down_proj") if checked.include_mlp else ()
            )
            return IntakeResult(
                source_format="mediapipe",
                base_label=base.label,
                rank=checked.rank,
                alpha=None,
                use_rslora=False,
                target_modules=modules,
                include_mlp=checked.include_mlp,
                files=stored,
            )
        if lower.endswith(".safetensors"):
            raise AdapterRejectedError(f"{CONFIG_NAME} is missing: upload it together with {name} (or both in one zip)")
        if lower.endswith(".json"):
            raise AdapterRejectedError(
                f"{WEIGHTS_NAME} is missing: upload it together with {name} (or both in one zip)"
            )
    elif set(by_ext) == {".json", ".safetensors"}:
        return _peft(
            by_ext[".json"][1].path,
            by_ext[".safetensors"][1].path,
            storage=storage,
            base=base,
            ranks=ranks,
            workdir=workdir,
        )
    elif ".json" in by_ext and any(ext in by_ext for ext in (".bin", ".pt", ".pth")):
        raise AdapterRejectedError(
            "PyTorch adapter_model.bin files are pickles and are not accepted; save the adapter with "
            f"safe_serialization=True and upload {WEIGHTS_NAME}"
        )
    names = ", ".join(name for name, _ in named)
    raise AdapterRejectedError(
        f"cannot tell what {names} is: upload {CONFIG_NAME} + {WEIGHTS_NAME}, one zip holding them, "
        "or a converted MediaPipe LoRA .bin"
    )


def _peft(
    config: Path, weights: Path, *, storage: Storage, base: BaseModelSpec, ranks: Sequence[int], workdir: Path
) -> IntakeResult:
    adapter = validate_peft(config, weights, base=base, ranks=ranks)
    converted = convert_peft(adapter, workdir / "adapter.bin")
    files: list[tuple[FileRole, StagedFile]] = [
        ("mediapipe-lora", storage.adopt(converted.path)),
        ("peft-weights", storage.adopt(weights)),
        ("peft-config", storage.adopt(config)),
    ]
    stored = _commit(storage, files)
    return IntakeResult(
        source_format="peft",
        base_label=base.label,
        rank=adapter.rank,
        alpha=adapter.alpha,
        use_rslora=adapter.use_rslora,
        target_modules=adapter.target_modules,
        include_mlp=converted.include_mlp,
        files=stored,
    )


def _commit(storage: Storage, files: Sequence[tuple[FileRole, StagedFile]]) -> tuple[IntakeFile, ...]:
    done: list[IntakeFile] = []
    try:
        for role, item in files:
            obj = storage.commit(item)
            done.append(IntakeFile(role=role, key=obj.key, size=obj.size, created=obj.created))
    except BaseException:
        for item_done in done:
            if item_done.created:
                with contextlib.suppress(Exception):
                    storage.delete(item_done.key)
        raise
    return tuple(done)
