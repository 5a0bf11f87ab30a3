"""Helpers for the auth tests: settings for one test, in-process clients, users of each role."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
OIDC_DIR = ROOT / "tests" / "oidc"

# Cheap hashing for tests (the real parameters are measured in bench/auth_cost.py).
FAST_ARGON2 = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192"}
PASSWORD = "correct horse battery 7"


def reset_caches() -> None:
    """Forget every cached settings-derived object so the next call reads the environment."""
    from app import cache
    from app.auth import oidc, ratelimit, sessions
    from app.config import runtime
    from app.settings import get_settings

    get_settings.cache_clear()
    runtime.get_runtime_config.cache_clear()
    cache.get_cache.cache_clear()
    ratelimit.get_limiter.cache_clear()
    sessions.get_session_store.cache_clear()
    oidc._metadata.clear()
    oidc._jwks.clear()


def make_user(db, *, email: str, role: str = "user", password: str = PASSWORD, name: str = "Test User"):  # noqa: ANN001, ANN201
    from app.auth import passwords
    from app.models import User

    user = User(email=email, display_name=name, password_hash=passwords.hash_password(password), role=role)
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


def ensure_oidc_provider_installed() -> None:
    """`npm ci` for the test identity provider when its node_modules are missing."""
    if (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to install the test OpenID provider (tests/oidc)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=OIDC_DIR, check=True, timeout=300)


class OIDCProvider:
    """npm oidc-provider on loopback (tests/oidc/provider.mjs)."""

    client_id = "lorastudio-test"
    client_secret = "lorastudio-test-secret"  # noqa: S105 - a test fixture's secret

    def __init__(self, *, port: int, redirect_uris: list[str], log_path: Path) -> None:
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.redirect_uris = redirect_uris
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> OIDCProvider:
        ensure_oidc_provider_installed()
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is needed for the test OpenID provider")
        env = {
            **os.environ,
            "OIDC_PORT": str(self.port),
            "OIDC_REDIRECTS": ",".join(self.redirect_uris),
            "OIDC_CLIENT_ID": self.client_id,
            "OIDC_CLIENT_SECRET": self.client_secret,
        }
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [node, "provider.mjs"], cwd=OIDC_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"test OpenID provider did not start:\n{self.log_path.read_text(errors='replace')}")

    def settings_json(self, name: str = "test") -> str:
        import json

        return json.dumps(
            [
                {
                    "name": name,
                    "issuer": self.issuer,
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "label": "Test IdP",
                }
            ]
        )

    def tamper_next_id_token(self) -> None:
        httpx.post(f"{self.issuer}/__test/tamper", timeout=5).raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@contextlib.contextmanager
def temporary_env(**values: str) -> Iterator[None]:
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def random_email(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.test"
