"""The storage sweep: files of a deleted account's drafts go, files in use and fresh files stay."""

from __future__ import annotations

import os
import time

from app.auth import accounts
from app.catalog import service
from app.catalog.sweep import sweep_unreferenced
from tests.catalog.conftest import files_left
from tests.catalog.test_service import _upload, actor

DAY = 24 * 3600


def _keys_of(db, slug: str) -> set[str]:  # noqa: ANN001
    detail = service.get_adapter(db, slug, actor=service.Actor(user_id=0, is_admin=True))
    return {f.sha256 for version in detail.versions for f in version.files}


def test_a_deleted_accounts_draft_files_are_swept_and_public_ones_stay(
    db, people, storage, settings, tmp_path, tiny
) -> None:
    ada = actor(people["ada"])
    public = _upload(db, storage, settings, tmp_path, tiny, ada, seed=60, title="Stays")
    service.publish(db, slug=public, actor=ada)
    draft = _upload(db, storage, settings, tmp_path, tiny, ada, seed=61, title="Goes")
    public_keys = _keys_of(db, public)
    draft_keys = _keys_of(db, draft) - public_keys  # identical files (the same adapter_config.json) are shared
    accounts.delete_account(db, user_id=people["ada"].id, confirm_email="ada@example.com")
    stored = set(storage.keys())
    assert draft_keys <= stored  # the rows are gone, the files not yet

    fresh = sweep_unreferenced(db, storage=storage)  # just written: inside the grace period
    assert fresh.removed == [] and fresh.too_young == len(draft_keys)

    later = time.time() + 2 * DAY
    dry = sweep_unreferenced(db, storage=storage, now=later, dry_run=True)
    assert set(dry.removed) == draft_keys and set(storage.keys()) == stored

    report = sweep_unreferenced(db, storage=storage, now=later)
    assert set(report.removed) == draft_keys and report.bytes_freed > 0
    assert set(storage.keys()) == public_keys
    assert report.in_use == len(public_keys)
    assert not [name for name in files_left(storage) if any(k in name for k in draft_keys)]


def test_committing_the_same_bytes_again_marks_the_file_as_in_use(storage) -> None:  # noqa: ANN001
    stored = storage.put_stream(iter([b"lora bytes" * 100]))
    path = storage.path_for(stored.key)
    old = time.time() - 3 * DAY
    os.utime(path, (old, old))
    assert storage.stat(stored.key).modified < time.time() - 2 * DAY
    again = storage.put_stream(iter([b"lora bytes" * 100]))
    assert not again.created and storage.stat(stored.key).modified > time.time() - 60
