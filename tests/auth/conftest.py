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


class AuthApp:
    def __init__(self, server, idp, admin_email: str, admin_password: str) -> None:  # noqa: ANN001
        self.server, self.idp = server, idp
        self.url = server.url
        self.admin_email, self.admin_password = admin_email, admin_password


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory) -> Iterator[AuthApp]:  # noqa: ANN001
    """The real app (reflex run --env prod) with the test OpenID provider, linking on, strict CSP."""
    from tests.support.app_server import AppServer, free_port
    from tests.support.auth import OIDCProvider

    port, idp_port = free_port(), free_port()
    data_dir = tmp_path_factory.mktemp("auth-app")
    idp = OIDCProvider(
        port=idp_port,
        redirect_uris=[f"http://127.0.0.1:{port}/auth/oidc/test/callback"],
        log_path=data_dir / "idp.log",
    ).start()
    env = {
        **FAST_ARGON2,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "OIDC_PROVIDERS": idp.settings_json(),
        "OIDC_LINK_VERIFIED_EMAIL": "true",
        "CSP_ALLOW_EVAL": "false",
        "RATE_LIMIT_SIGNIN": "300/minute",
        "RATE_LIMIT_SIGNUP": "300/hour",
        "FIRST_ADMIN_EMAIL": "root@example.test",
        "FIRST_ADMIN_PASSWORD": "root admin password 1",
    }
    server = AppServer(data_dir=data_dir / "app", env=env, port=port)
    try:
        server.start()
        yield AuthApp(server, idp, "root@example.test", "root admin password 1")
    finally:
        server.stop()
        idp.stop()
