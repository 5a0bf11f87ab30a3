"""Base model registration (upload in chunks, server path, URL + sha256) and the /files/ access rule."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.catalog import access, registry, service
from app.catalog.schemas import Actor, AdapterMetadata
from app.mediapipe_format import build_tiny_base, build_tiny_lora
from app.settings import Settings, load_settings
from app.storage import LocalStorage
from tests.catalog.conftest import catalog_rows, files_left, make_user
from tests.catalog.test_service import _peft


@pytest.fixture
def admin(db) -> Actor:  # noqa: ANN001
    return Actor.from_role(make_user(db, email="root@example.com", name="Root", role="admin").id, "admin")


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_base(tmp_path_factory.mktemp("base") / "tiny-base.bin")


FIELDS = {"name": "tiny-test", "title": "Tiny test base", "architecture": "tiny-gemma2"}


def test_register_from_an_allowed_path_only(db, admin, storage, tmp_path, tiny_base) -> None:
    imports = tmp_path / "import"
    imports.mkdir()
    settings = load_settings(data_dir=tmp_path / "data", base_model_import_dirs=[imports])
    inside = imports / "model.bin"
    inside.write_bytes(tiny_base.read_bytes())
    (imports / "escape.bin").symlink_to(tiny_base)  # resolves outside the import folder
    for path, message in (
        ("/etc/passwd", "only files inside"),
        (str(imports / "escape.bin"), "only files inside"),
        (str(imports / ".." / "import" / ".." / "x.bin"), "no such file on the server"),
        (str(imports), "not a regular file"),
    ):
        with pytest.raises(registry.BaseModelError, match=message):
            registry.register_from_path(db, path=path, storage=storage, actor=admin, settings=settings, **FIELDS)
    with pytest.raises(registry.BaseModelError, match="only admins"):
        registry.register_from_path(
            db, path=str(inside), storage=storage, actor=Actor(user_id=admin.user_id), settings=settings, **FIELDS
        )
    out = registry.register_from_path(db, path=str(inside), storage=storage, actor=admin, settings=settings, **FIELDS)
    assert out.sha256 == hashlib.sha256(tiny_base.read_bytes()).hexdigest() and out.source == "path"
    assert registry.active_base_model(db, architecture="tiny-gemma2").name == "tiny-test"


def test_only_matching_mediapipe_models_are_accepted(
    db, admin, storage, settings: Settings, tmp_path, tiny_base
) -> None:
    lora = build_tiny_lora(tmp_path / "lora.bin")
    cases = [
        (b"\0" * 4096, "tiny-gemma2", "not a MediaPipe .bin model: bytes 4-7 are not the TFL3 identifier"),
        (lora.read_bytes(), "tiny-gemma2", "this is a LoRA adapter, not a base model"),
        (tiny_base.read_bytes(), "gemma2-2b", "the file is not a Gemma2-2b model: "),
    ]
    for data, arch, message in cases:
        with pytest.raises(registry.BaseModelError, match=message):
            registry.register_from_file_source(
                db, source=iter([data]), storage=storage, actor=admin, settings=settings,
                **{**FIELDS, "architecture": arch},
            )  # fmt: skip
    assert files_left(storage) == [] and catalog_rows(db)["base_model"] == 0


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_register_from_url_checks_the_sha256(db, admin, storage, settings, tiny_base, file_server, tmp_path) -> None:
    (tmp_path / "www" / "base.bin").write_bytes(tiny_base.read_bytes())
    good = hashlib.sha256(tiny_base.read_bytes()).hexdigest()
    with pytest.raises(registry.BaseModelError, match=f"the file's sha256 is {good}, expected {'0' * 64}"):
        registry.register_from_url(
            db,
            url=f"{file_server}/base.bin",
            expected_sha256="0" * 64,
            storage=storage,
            actor=admin,
            settings=settings,
            **FIELDS,
        )
    assert files_left(storage) == [] and catalog_rows(db)["base_model"] == 0
    with pytest.raises(registry.BaseModelError, match="the URL answered HTTP 404"):
        registry.register_from_url(
            db,
            url=f"{file_server}/nope.bin",
            expected_sha256=good,
            storage=storage,
            actor=admin,
            settings=settings,
            **FIELDS,
        )
    with pytest.raises(registry.BaseModelError, match="must start with https:// or http://"):
        registry.register_from_url(
            db,
            url="file:///etc/passwd",
            expected_sha256=good,
            storage=storage,
            actor=admin,
            settings=settings,
            **FIELDS,
        )
    out = registry.register_from_url(
        db,
        url=f"{file_server}/base.bin",
        expected_sha256=good.upper(),
        storage=storage,
        actor=admin,
        settings=settings,
        **FIELDS,
    )
    assert out.sha256 == good and out.source == "url" and storage.exists(good)


def test_resumable_upload_checks_offsets_and_survives_a_break(
    db, admin, storage: LocalStorage, settings, tiny_base
) -> None:
    data = tiny_base.read_bytes()
    upload = registry.start_upload(db, storage=storage, actor=admin, size=len(data), settings=settings, **FIELDS)
    chunk = 300_000
    registry.append_chunk(db, upload_id=upload.id, offset=0, data=data[:chunk], storage=storage, actor=admin)
    # The client lost the answer and sends the same chunk again: refused with where to continue.
    with pytest.raises(registry.UploadOffsetError) as info:
        registry.append_chunk(db, upload_id=upload.id, offset=0, data=data[:chunk], storage=storage, actor=admin)
    assert info.value.expected == chunk
    # A crash left extra bytes on disk that were never confirmed: they are cut off, not trusted.
    part = storage.staging_dir / f"base-upload-{upload.id}.part"
    with open(part, "ab") as handle:
        handle.write(b"garbage")
    offset = registry.get_upload(db, upload_id=upload.id, actor=admin).received
    while offset < len(data):
        offset = registry.append_chunk(
            db, upload_id=upload.id, offset=offset, data=data[offset : offset + chunk], storage=storage, actor=admin
        ).received
    with pytest.raises(registry.BaseModelError, match="was declared as"):
        registry.append_chunk(db, upload_id=upload.id, offset=offset, data=b"x", storage=storage, actor=admin)
    out = registry.finish_upload(db, upload_id=upload.id, storage=storage, actor=admin)
    assert out.sha256 == hashlib.sha256(data).hexdigest() and not part.exists()
    assert list(storage.keys()) == [out.sha256]


def test_resumable_upload_with_a_wrong_sha256_keeps_nothing(
    db, admin, storage: LocalStorage, settings, tiny_base
) -> None:
    data = tiny_base.read_bytes()
    upload = registry.start_upload(
        db, storage=storage, actor=admin, size=len(data), settings=settings, expected_sha256="ab" * 32, **FIELDS
    )
    registry.append_chunk(db, upload_id=upload.id, offset=0, data=data, storage=storage, actor=admin)
    with pytest.raises(registry.BaseModelError, match="expected abab"):
        registry.finish_upload(db, upload_id=upload.id, storage=storage, actor=admin)
    assert files_left(storage) == [] and catalog_rows(db)["base_model"] == 0
    with pytest.raises(registry.BaseModelError, match="no such upload"):
        registry.get_upload(db, upload_id=upload.id, actor=admin)
    with pytest.raises(registry.BaseModelError, match="no such upload"):
        registry.get_upload(db, upload_id="../../etc/passwd", actor=admin)


def test_draft_files_are_served_to_their_author_and_admins_only(db, admin, storage, settings, tmp_path, tiny) -> None:
    ada = Actor.from_role(make_user(db, email="ada@example.com", name="Ada").id, "creator")
    bob = Actor.from_role(make_user(db, email="bob@example.com", name="Bob", role="user").id, "user")
    with pytest.raises(service.ForbiddenError, match="only creators can upload adapters"):
        service.upload_adapter(
            db, uploads=_peft(tmp_path, tiny, seed=41), storage=storage, actor=bob,
            metadata=AdapterMetadata(title="x"), base_model="tiny-gemma2", settings=settings,
        )  # fmt: skip
    detail = service.upload_adapter(
        db, uploads=_peft(tmp_path, tiny, seed=42), storage=storage, actor=ada,
        metadata=AdapterMetadata(title="Secret"), base_model="tiny-gemma2", settings=settings,
    )  # fmt: skip
    keys = [f.sha256 for f in detail.versions[0].files]
    for key in keys:
        assert access.may_download(db, key=key, actor=ada) and access.may_download(db, key=key, actor=admin)
        assert not access.may_download(db, key=key, actor=bob) and not access.may_download(db, key=key, actor=None)
    service.publish(db, slug=detail.slug, actor=ada)
    assert all(access.may_download(db, key=key, actor=None) for key in keys)
    assert access.may_download(db, key=os.urandom(32).hex(), actor=None)  # not an adapter file
