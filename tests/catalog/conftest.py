from __future__ import annotations

from pathlib import Path

import pytest

from app.catalog.base_models import BaseModelSpec, tiny_spec
from app.settings import Settings, load_settings
from app.storage import LocalStorage


@pytest.fixture(scope="session")
def tiny() -> BaseModelSpec:
    """The tiny Gemma2-shaped base (H=128, 2 heads of 64, 1 KV head, MLP 256, 2 layers)."""
    return tiny_spec()


@pytest.fixture(scope="session")
def tiny4() -> BaseModelSpec:
    """A tiny base whose q/o projections are not square (4 heads of 64 on width 128), as in §8.4."""
    return tiny_spec(heads=4, kv_heads=2)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
def storage(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.effective_storage_dir)


def files_left(storage: LocalStorage) -> list[str]:
    """Every file under the storage root: committed objects, staged uploads, extracted or converted files."""
    if not storage.root.exists():
        return []
    return sorted(str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if not p.is_dir())


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Each test starts with an empty in-process cache (tables are emptied between tests too)."""
    from app.cache import get_cache

    get_cache.cache_clear()


def make_user(db, *, email: str, name: str, role: str = "creator"):  # noqa: ANN001, ANN201
    from app.models import User

    user = User(email=email, display_name=name, role=role)
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


@pytest.fixture
def people(db):  # noqa: ANN001, ANN201
    """Two creators and an admin."""
    return {
        "ada": make_user(db, email="ada@example.com", name="Ada Lovelace"),
        "bob": make_user(db, email="bob@example.com", name="Bob Builder"),
        "root": make_user(db, email="root@example.com", name="Admin", role="admin"),
    }


def catalog_rows(db) -> dict[str, int]:  # noqa: ANN001
    """Row counts of every catalog table (for 'nothing half-written' checks)."""
    import sqlalchemy as sa

    from app.models import Adapter, AdapterFile, AdapterTag, AdapterVersion, BaseModelFile, Favourite

    return {
        model.__tablename__: db.exec(sa.select(sa.func.count()).select_from(model)).one()[0]
        for model in (Adapter, AdapterFile, AdapterTag, AdapterVersion, BaseModelFile, Favourite)
    }
