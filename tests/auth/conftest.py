"""Fixtures for the auth tests: settings per test, an in-process app client, users per role."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from tests.support.auth import FAST_ARGON2, make_user, random_email, reset_caches

Configure = Callable[..., None]


@pytest.fixture
def auth_settings(db_url: str, tmp_path) -> Iterator[Configure]:  # noqa: ANN001
    """Point the app's settings at this test's database; call it again with extra settings."""
    with pytest.MonkeyPatch.context() as mp:

        def configure(**extra: str) -> None:
            env = {
                "DATABASE_URL": db_url,
                "DATA_DIR": str(tmp_path / "data"),
                "SECRET_KEY": "test-secret-key-" * 3,
                "REDIS_URL": "",
                **FAST_ARGON2,
                **extra,
            }
            for key, value in env.items():
                mp.setenv(key, value)
            reset_caches()

        configure()
        yield configure
    reset_caches()


@pytest.fixture
def api(auth_settings: Configure, db) -> Iterator[TestClient]:  # noqa: ANN001
    """Our HTTP routes with their middleware, in process (no Reflex), as the browser sees them."""
    from app.routes import build_api
    from app.routes.middleware import SecurityHeadersMiddleware

    with TestClient(SecurityHeadersMiddleware(build_api()), base_url="http://testserver") as client:
        yield client


@pytest.fixture
def users(db, auth_settings: Configure) -> dict[str, object]:  # noqa: ANN001
    """One account per role."""
    return {role: make_user(db, email=random_email(role), role=role) for role in ("user", "creator", "admin")}
