"""Base models: which architectures adapters are checked against, and the base files admins register.

A base file arrives three ways, all ending in the same check and commit: an upload (resumable:
chunks appended at a checked offset to a staging file, so a 2.6 GB upload survives a dropped
connection), a path on the server (admin only; resolved, and only inside BASE_MODEL_IMPORT_DIRS),
or a URL plus the sha256 the admin expects (downloaded server-side, streamed and hashed; a
mismatch stores nothing). The file must be a MediaPipe `.bin` whose LlmParameters match the
architecture and that is not a LoRA.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
from dataclasses import fields
from pathlib import Path

import httpx
from sqlmodel import Session, select

from app.catalog import caching
from app.catalog.base_models import GEMMA2_2B, BaseModelSpec, tiny_spec
from app.catalog.schemas import Actor, BaseModelOut
from app.mediapipe_format import ContainerError, ProtoError, decode_llm_parameters, read_container
from app.mediapipe_format.names import LLM_PARAMETERS, LORA_RANK
from app.models import BaseModelFile, BaseModelUpload
from app.models.base import utcnow
from app.settings import Settings, get_settings
from app.storage import DigestMismatchError, Storage, TooLargeError, check_key, is_key
from app.storage.base import StagedFile

ARCHITECTURES: dict[str, str] = {"gemma2-2b": "Gemma2-2b", "tiny-gemma2": "Tiny Gemma2 (demo)"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
CHUNK_LIMIT = 64 * 1024**2


class BaseModelError(ValueError):
    """A refused registration; the message is shown to the admin as is."""

    status_code = 400

    @property
    def message(self) -> str:
        return str(self)


class UploadOffsetError(BaseModelError):
    status_code = 409

    def __init__(self, expected: int) -> None:
        super().__init__(f"this upload continues at byte {expected:,}")
        self.expected = expected


@functools.cache
def spec_for(architecture: str) -> BaseModelSpec:
    if architecture == "gemma2-2b":
        return GEMMA2_2B
    if architecture == "tiny-gemma2":
        return tiny_spec()
    raise BaseModelError(f"unknown base architecture '{architecture[:32]}'; known: {', '.join(ARCHITECTURES)}")


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise BaseModelError("only admins can register base models")


def _check_fields(name: str, title: str, architecture: str) -> None:
    if not _NAME.match(name):
        raise BaseModelError("the name is lower-case letters, digits, '.', '_' and '-' (up to 80)")
    if not title.strip() or len(title) > 120:
        raise BaseModelError("give a title of 1 to 120 characters")
    spec_for(architecture)


def validate_base_file(path: Path, *, architecture: str) -> None:
    """A MediaPipe LLM `.bin` for this architecture, not a LoRA (the runtime does not check)."""
    spec = spec_for(architecture)
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head[4:8] != b"TFL3":
        raise BaseModelError("not a MediaPipe .bin model: bytes 4-7 are not the TFL3 identifier")
    try:
        info = read_container(path)
        if LLM_PARAMETERS not in info.metadata:
            raise BaseModelError("the file has no LlmParameters metadata: it is not a MediaPipe LLM")
        if LORA_RANK in info.metadata:
            raise BaseModelError("this is a LoRA adapter, not a base model")
        sizes = decode_llm_parameters(info.read_metadata_buffer(LLM_PARAMETERS, max_bytes=64 * 1024)).sizes()
    except (ContainerError, ProtoError) as exc:
        raise BaseModelError(f"not a readable MediaPipe .bin model ({exc})") from None
    want = spec.sizes
    differ = [
        f"{f.name} {getattr(sizes, f.name)} (expected {getattr(want, f.name)})"
        for f in fields(want)
        if f.name != "vocab_size" and getattr(sizes, f.name) != getattr(want, f.name)
    ]
    if differ:
        raise BaseModelError(f"the file is not a {spec.label} model: {', '.join(differ)}")


def _out(row: BaseModelFile, storage: Storage | None = None) -> BaseModelOut:
    return BaseModelOut(
        name=row.name,
        title=row.title,
        architecture=row.architecture,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        license_note=row.license_note,
        source=row.source,
        is_active=row.is_active,
        is_demo=row.is_demo,
        created_at=row.created_at,
        url=storage.url_for(row.storage_key, public=True) if storage else "",
    )


def _commit_base(
    session: Session,
    staged: StagedFile,
    *,
    storage: Storage,
    actor: Actor | None,
    name: str,
    title: str,
    architecture: str,
    license_note: str,
    source: str,
    is_demo: bool = False,
) -> BaseModelOut:
    """Check, store, record: the last step of every registration; a failure leaves nothing."""
    try:
        validate_base_file(staged.path, architecture=architecture)
        if session.exec(select(BaseModelFile).where(BaseModelFile.name == name)).first() is not None:
            raise BaseModelError(f"a base model named '{name}' already exists")
    except BaseException:
        staged.discard()
        raise
    obj = storage.commit(staged)
    try:
        row = BaseModelFile(
            name=name,
            title=title.strip(),
            architecture=architecture,
            sha256=obj.key,
            size_bytes=obj.size,
            storage_key=obj.key,
            license_note=license_note.strip()[:4000],
            source=source,
            is_demo=is_demo,
            created_by=(actor.user_id or None) if actor else None,
        )
        session.add(row)
        caching.mark_changed(session)
        session.commit()
    except BaseException:
        session.rollback()
        if obj.created:
            storage.delete(obj.key)
        raise
    return _out(row, storage)


def register_from_file_source(
    session: Session,
    *,
    source: object,
    storage: Storage,
    actor: Actor,
    name: str,
    title: str,
    architecture: str,
    license_note: str = "",
    expected_sha256: str | None = None,
    settings: Settings | None = None,
    source_label: str = "upload",
    is_demo: bool = False,
) -> BaseModelOut:
    """Register from a readable stream (a one-shot upload, or the CLI reading a file)."""
    if not is_demo:
        _require_admin(actor)
    _check_fields(name, title, architecture)
    limit = (settings or get_settings()).max_base_model_bytes
    try:
        staged = storage.stage(source, max_bytes=limit, expected_sha256=expected_sha256)  # type: ignore[arg-type]
    except (TooLargeError, DigestMismatchError) as exc:
        raise BaseModelError(str(exc)) from None
    return _commit_base(
        session,
        staged,
        storage=storage,
        actor=actor,
        name=name,
        title=title,
        architecture=architecture,
        license_note=license_note,
        source=source_label,
        is_demo=is_demo,
    )


def resolve_import_path(path: str, *, settings: Settings) -> Path:
    """The real file behind `path`, refused unless it lies inside an allowed import folder."""
    allowed = [d.resolve() for d in settings.effective_import_dirs]
    if not allowed:
        raise BaseModelError("registration by server path is off: set BASE_MODEL_IMPORT_DIRS")
    try:
        resolved = Path(path).expanduser().resolve(strict=True)
    except (OSError, RuntimeError):
        raise BaseModelError("no such file on the server") from None
    if not any(resolved == d or d in resolved.parents for d in allowed):
        raise BaseModelError(f"only files inside {', '.join(map(str, allowed))} can be registered")
    if not resolved.is_file():
        raise BaseModelError("the path is not a regular file")
    return resolved


def register_from_path(
    session: Session,
    *,
    path: str,
    storage: Storage,
    actor: Actor,
    name: str,
    title: str,
    architecture: str,
    license_note: str = "",
    settings: Settings | None = None,
) -> BaseModelOut:
    _require_admin(actor)
    settings = settings or get_settings()
    resolved = resolve_import_path(path, settings=settings)
    with open(resolved, "rb") as handle:
        return register_from_file_source(
            session,
            source=handle,
            storage=storage,
            actor=actor,
            name=name,
            title=title,
            architecture=architecture,
            license_note=license_note,
            settings=settings,
            source_label="path",
        )


def register_from_url(
    session: Session,
    *,
    url: str,
    expected_sha256: str,
    storage: Storage,
    actor: Actor,
    name: str,
    title: str,
    architecture: str,
    license_note: str = "",
    settings: Settings | None = None,
    client: httpx.Client | None = None,
) -> BaseModelOut:
    """Download server-side, streaming and hashing; a sha256 mismatch stores nothing."""
    _require_admin(actor)
    _check_fields(name, title, architecture)
    expected = (expected_sha256 or "").strip().lower()
    if not is_key(expected):
        raise BaseModelError("give the file's expected sha256 (64 hex digits)")
    if not url.startswith(("https://", "http://")):
        raise BaseModelError("the URL must start with https:// or http://")
    settings = settings or get_settings()
    own_client = client is None
    client = client or httpx.Client(follow_redirects=True, timeout=httpx.Timeout(30.0, read=120.0), max_redirects=5)
    writer = storage.staging_writer(max_bytes=settings.max_base_model_bytes, expected_sha256=expected)
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise BaseModelError(f"the URL answered HTTP {response.status_code}")
            for chunk in response.iter_bytes(1024 * 1024):
                writer.write(chunk)
        staged = writer.finish()
    except (TooLargeError, DigestMismatchError) as exc:
        raise BaseModelError(str(exc)) from None
    except httpx.HTTPError as exc:
        writer.abort()
        raise BaseModelError(f"the download failed: {type(exc).__name__}") from None
    except BaseException:
        writer.abort()
        raise
    finally:
        if own_client:
            client.close()
    return _commit_base(
        session,
        staged,
        storage=storage,
        actor=actor,
        name=name,
        title=title,
        architecture=architecture,
        license_note=license_note,
        source="url",
    )


# --- resumable upload ----------------------------------------------------------------------------


def _part_path(storage: Storage, upload_id: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", upload_id):
        raise BaseModelError("no such upload")
    return storage.staging_dir / f"base-upload-{upload_id}.part"


def start_upload(
    session: Session,
    *,
    storage: Storage,
    actor: Actor,
    name: str,
    title: str,
    architecture: str,
    size: int,
    license_note: str = "",
    expected_sha256: str | None = None,
    settings: Settings | None = None,
) -> BaseModelUpload:
    _require_admin(actor)
    _check_fields(name, title, architecture)
    limit = (settings or get_settings()).max_base_model_bytes
    if size <= 0 or size > limit:
        raise BaseModelError(f"the size must be between 1 and {limit:,} bytes")
    if expected_sha256:
        expected_sha256 = expected_sha256.strip().lower()
        if not is_key(expected_sha256):
            raise BaseModelError("the expected sha256 must be 64 hex digits")
    if session.exec(select(BaseModelFile).where(BaseModelFile.name == name)).first() is not None:
        raise BaseModelError(f"a base model named '{name}' already exists")
    upload = BaseModelUpload(
        id=secrets.token_hex(16),
        name=name,
        title=title.strip(),
        architecture=architecture,
        license_note=license_note.strip()[:4000],
        expected_size=size,
        expected_sha256=expected_sha256 or None,
        created_by=actor.user_id or None,
    )
    storage.staging_dir.mkdir(parents=True, exist_ok=True)
    _part_path(storage, upload.id).touch()
    session.add(upload)
    session.commit()
    return upload


def get_upload(session: Session, *, upload_id: str, actor: Actor) -> BaseModelUpload:
    _require_admin(actor)
    upload = session.get(BaseModelUpload, upload_id) if re.fullmatch(r"[0-9a-f]{32}", upload_id or "") else None
    if upload is None:
        raise BaseModelError("no such upload")
    return upload


def append_chunk(
    session: Session, *, upload_id: str, offset: int, data: bytes, storage: Storage, actor: Actor
) -> BaseModelUpload:
    """Append bytes at `offset`, which must be exactly where the upload stands (else 409 with it)."""
    upload = get_upload(session, upload_id=upload_id, actor=actor)
    part = _part_path(storage, upload.id)
    on_disk = part.stat().st_size if part.exists() else 0
    if on_disk != upload.received:  # a crash between write and commit: trust the file, re-sync
        upload.received = min(on_disk, upload.received)
        with open(part, "r+b") if part.exists() else open(part, "wb") as handle:
            handle.truncate(upload.received)
    if offset != upload.received:
        raise UploadOffsetError(upload.received)
    if len(data) > CHUNK_LIMIT:
        raise BaseModelError(f"chunks are at most {CHUNK_LIMIT:,} bytes")
    if upload.received + len(data) > upload.expected_size:
        raise BaseModelError(f"the upload was declared as {upload.expected_size:,} bytes")
    with open(part, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    upload.received += len(data)
    upload.updated_at = utcnow()
    session.add(upload)
    session.commit()
    return upload


def finish_upload(session: Session, *, upload_id: str, storage: Storage, actor: Actor) -> BaseModelOut:
    upload = get_upload(session, upload_id=upload_id, actor=actor)
    if upload.received != upload.expected_size:
        raise BaseModelError(f"the upload has {upload.received:,} of {upload.expected_size:,} bytes")
    part = _part_path(storage, upload.id)
    staged = storage.adopt(part)
    if upload.expected_sha256 and staged.sha256 != upload.expected_sha256:
        cancel_upload(session, upload_id=upload.id, storage=storage, actor=actor)
        raise BaseModelError(f"the file's sha256 is {staged.sha256}, expected {upload.expected_sha256}")
    fields_ = {
        "name": upload.name,
        "title": upload.title,
        "architecture": upload.architecture,
        "license_note": upload.license_note,
    }
    session.delete(upload)
    session.flush()
    try:
        return _commit_base(session, staged, storage=storage, actor=actor, source="upload", **fields_)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()


def cancel_upload(session: Session, *, upload_id: str, storage: Storage, actor: Actor) -> None:
    upload = get_upload(session, upload_id=upload_id, actor=actor)
    with contextlib.suppress(FileNotFoundError):
        _part_path(storage, upload.id).unlink()
    session.delete(upload)
    session.commit()


# --- reading and managing ----------------------------------------------------------------------


def list_base_models(
    session: Session, *, storage: Storage | None = None, active_only: bool = True
) -> list[BaseModelOut]:
    query = select(BaseModelFile).order_by(BaseModelFile.is_demo, BaseModelFile.created_at.desc())  # type: ignore[arg-type]
    if active_only:
        query = query.where(BaseModelFile.is_active)
    return [_out(row, storage) for row in session.exec(query).all()]


def get_base_model(session: Session, *, name: str, storage: Storage | None = None) -> BaseModelOut | None:
    if not _NAME.match(name):
        return None
    row = session.exec(select(BaseModelFile).where(BaseModelFile.name == name)).first()
    return _out(row, storage) if row else None


def active_base_model(session: Session, *, architecture: str, storage: Storage | None = None) -> BaseModelOut | None:
    """The file chat loads for an architecture: the newest active registration."""
    row = session.exec(
        select(BaseModelFile)
        .where(BaseModelFile.architecture == architecture, BaseModelFile.is_active)
        .order_by(BaseModelFile.created_at.desc(), BaseModelFile.id.desc())  # type: ignore[attr-defined]
    ).first()
    return _out(row, storage) if row else None


def set_base_model_active(session: Session, *, name: str, active: bool, actor: Actor) -> BaseModelOut:
    _require_admin(actor)
    row = session.exec(select(BaseModelFile).where(BaseModelFile.name == name)).first()
    if row is None:
        raise BaseModelError(f"no base model '{name[:80]}'")
    row.is_active = active
    row.updated_at = utcnow()
    session.add(row)
    caching.mark_changed(session)
    session.commit()
    return _out(row)


def base_model_keys(session: Session) -> set[str]:
    return set(session.exec(select(BaseModelFile.storage_key)).all())


__all__ = ["ARCHITECTURES", "BaseModelError", "check_key", "spec_for"]
