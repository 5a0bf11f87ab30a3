"""The sign-in HTTP routes with their middleware, in process: cookies, sessions, limits, CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.models import AuthSession
from app.models.base import utcnow
from tests.support.auth import PASSWORD, make_user

JSON = {"Accept": "application/json"}
SAME_ORIGIN = {"Origin": "http://testserver"}


def sign_in(api, email: str, password: str = PASSWORD, **headers: str):  # noqa: ANN001, ANN201
    return api.post("/auth/signin", data={"email": email, "password": password}, headers={**JSON, **headers})


def test_form_sign_up_without_javascript_sets_a_safe_cookie(api, db) -> None:
    response = api.post(
        "/auth/signup",
        data={"email": "New@Example.test", "display_name": "New", "password": PASSWORD, "next": "/account"},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/account"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("ls_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie and "Path=/" in cookie
    assert api.get("/api/auth/me").json()["email"] == "new@example.test"


def test_https_deployments_get_secure_host_only_cookies(api, db, auth_settings) -> None:
    auth_settings(PUBLIC_BASE_URL="https://studio.example.test")
    make_user(db, email="s@example.test")
    response = sign_in(api, "s@example.test", Origin="https://studio.example.test")
    cookie = next(c for c in response.headers.get_list("set-cookie") if "ls_session" in c)
    assert cookie.startswith("__Host-ls_session=") and "Secure" in cookie and "HttpOnly" in cookie
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_failed_sign_in_is_generic(api, db) -> None:
    make_user(db, email="known@example.test")
    wrong = sign_in(api, "known@example.test", "wrong password 1")
    unknown = sign_in(api, "unknown@example.test")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == unknown.json()["error"] == "Email or password is incorrect."


@pytest.fixture
def limited_api(api, auth_settings, cache_backend):  # noqa: ANN001, ANN201
    auth_settings(REDIS_URL=cache_backend or "")
    return api


def test_eleventh_failed_sign_in_within_a_minute_gets_429(limited_api, db) -> None:
    make_user(db, email="target@example.test")
    for _ in range(10):
        assert sign_in(limited_api, "target@example.test", "wrong password 1").status_code == 401
    refused = sign_in(limited_api, "target@example.test", PASSWORD)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Try again in" in refused.json()["error"]


def test_per_account_limit_cannot_lock_the_owner_out_of_their_browser(
    limited_api, db, auth_settings, cache_backend
) -> None:
    auth_settings(TRUSTED_PROXY_HOPS="1", REDIS_URL=cache_backend or "")
    make_user(db, email="victim@example.test")
    owner = sign_in(limited_api, "victim@example.test", **{"X-Forwarded-For": "10.0.0.1"})
    assert owner.status_code == 200
    device_cookie = owner.cookies.get("ls_device")
    limited_api.cookies.clear()
    for i in range(10):  # an attacker spreads failures over many addresses
        attempt = sign_in(limited_api, "victim@example.test", "guess guess 1", **{"X-Forwarded-For": f"10.9.0.{i}"})
        assert attempt.status_code == 401
    locked = sign_in(limited_api, "victim@example.test", PASSWORD, **{"X-Forwarded-For": "10.9.1.1"})
    assert locked.status_code == 429 and "for this account" in locked.json()["error"]
    limited_api.cookies.set("ls_device", device_cookie)
    assert sign_in(limited_api, "victim@example.test", **{"X-Forwarded-For": "10.0.0.1"}).status_code == 200


def test_stolen_cookie_is_useless_after_sign_out(api, db) -> None:
    make_user(db, email="thief@example.test")
    token = sign_in(api, "thief@example.test").cookies["ls_session"]
    assert api.get("/api/auth/me").status_code == 200
    api.post("/auth/signout", headers={**JSON, **SAME_ORIGIN})
    api.cookies.set("ls_session", token)  # the copy an attacker kept
    assert api.get("/api/auth/me").status_code == 401


def test_session_id_in_the_url_is_ignored(api, db) -> None:
    make_user(db, email="url@example.test")
    token = sign_in(api, "url@example.test").cookies["ls_session"]
    api.cookies.clear()
    for query in (f"ls_session={token}", f"session={token}", f"token={token}", f"sid={token}"):
        assert api.get(f"/api/auth/me?{query}").status_code == 401
    assert api.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    api.cookies.set("ls_session", token)  # the same token as a cookie does work
    assert api.get("/api/auth/me").status_code == 200


def test_idle_session_expires(api, db, auth_settings) -> None:
    auth_settings(SESSION_IDLE_TIMEOUT_S="600")
    make_user(db, email="idle@example.test")
    sign_in(api, "idle@example.test")
    assert api.get("/api/auth/me").status_code == 200
    db.exec(sa.update(AuthSession).values(last_seen_at=utcnow() - timedelta(seconds=601)))
    db.commit()
    assert api.get("/api/auth/me").status_code == 401


def test_absolute_session_expiry(api, db) -> None:
    make_user(db, email="abs@example.test")
    sign_in(api, "abs@example.test")
    db.exec(sa.update(AuthSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    assert api.get("/api/auth/me").status_code == 401


def test_password_change_signs_out_other_sessions(api, db) -> None:
    make_user(db, email="change@example.test")
    other = sign_in(api, "change@example.test").cookies["ls_session"]
    api.cookies.clear()
    sign_in(api, "change@example.test")
    bad = api.post(
        "/auth/password",
        data={"current_password": "not the password", "new_password": "brand new secret 5"},
        headers={**JSON, **SAME_ORIGIN},
    )
    assert bad.status_code == 400 and bad.json()["field"] == "current_password"
    good = api.post(
        "/auth/password",
        data={"current_password": PASSWORD, "new_password": "brand new secret 5"},
        headers={**JSON, **SAME_ORIGIN},
    )
    assert good.json() == {"ok": True, "redirect": "/account?notice=password_changed"}
    assert api.get("/api/auth/me").status_code == 200
    api.cookies.set("ls_session", other)
    assert api.get("/api/auth/me").status_code == 401


def test_sign_out_everywhere_and_delete_account(api, db) -> None:
    make_user(db, email="gone@example.test")
    elsewhere = sign_in(api, "gone@example.test").cookies["ls_session"]
    api.cookies.clear()
    sign_in(api, "gone@example.test")
    api.post("/auth/signout-everywhere", headers={**JSON, **SAME_ORIGIN})
    api.cookies.set("ls_session", elsewhere)
    assert api.get("/api/auth/me").status_code == 401
    api.cookies.clear()
    sign_in(api, "gone@example.test")
    wrong = api.post("/auth/delete", data={"password": "nope nope 1"}, headers={**JSON, **SAME_ORIGIN})
    assert wrong.status_code == 400
    deleted = api.post("/auth/delete", data={"password": PASSWORD}, headers={**JSON, **SAME_ORIGIN})
    assert deleted.json()["redirect"] == "/signin?notice=deleted"
    assert sign_in(api, "gone@example.test").status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Referer": "https://evil.example/page"},
    ],
)
def test_cross_site_posts_are_refused(api, db, headers: dict[str, str]) -> None:
    make_user(db, email="csrf@example.test")
    sign_in(api, "csrf@example.test")
    for path in ("/auth/signout", "/auth/signin", "/auth/signout-everywhere"):
        response = api.post(path, data={"email": "csrf@example.test", "password": PASSWORD}, headers=headers)
        assert response.status_code == 403, path
    assert api.get("/api/auth/me").status_code == 200  # still signed in


def test_other_origins_cannot_read_the_json_api_with_our_cookie(api, db) -> None:
    make_user(db, email="read@example.test")
    sign_in(api, "read@example.test")
    assert api.get("/api/auth/me", headers={"Origin": "http://127.0.0.1:9999"}).status_code == 403
    assert api.get("/api/auth/me", headers={"Sec-Fetch-Site": "same-site"}).status_code == 403
    assert api.get("/api/auth/me", headers=SAME_ORIGIN).status_code == 200
    assert api.get("/api/auth/me").status_code == 200


def test_api_routes_are_rate_limited_with_retry_after(api, db, auth_settings) -> None:
    auth_settings(RATE_LIMIT_API="3/minute")
    assert [api.get("/api/auth/me").status_code for _ in range(3)] == [401, 401, 401]
    limited = api.get("/api/auth/me")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_security_headers_on_every_response(api) -> None:
    for response in (api.get("/api/auth/me"), api.get("/nothing-here"), api.post("/auth/signin", data={})):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "'wasm-unsafe-eval'" in csp
        assert "connect-src 'self'" in csp
    assert api.get("/api/auth/me").headers["cache-control"] == "no-store"


def test_oversized_and_hostile_form_posts(api, db) -> None:
    huge = api.post("/auth/signin", content=b"email=" + b"a" * 100_000, headers=JSON)
    assert huge.status_code == 413
    long_field = api.post(
        "/auth/signup", data={"email": "a" * 5000 + "@x.test", "display_name": "x", "password": PASSWORD}, headers=JSON
    )
    assert long_field.status_code == 400 and long_field.json()["field"] == "email"
    sneaky = api.post(
        "/auth/signup",
        data={"email": "ok@example.test", "display_name": "<b onmouseover=alert(1)>", "password": PASSWORD},
        headers=JSON,
    )
    assert sneaky.status_code == 200
    assert api.get("/api/auth/me").json()["display_name"] == "<b onmouseover=alert(1)>"  # JSON, inert text


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/%0d%0aSet-Cookie:x", "x"],
)
def test_next_never_leaves_the_site(api, db, target: str) -> None:
    make_user(db, email="nx@example.test")
    response = api.post(
        "/auth/signin",
        data={"email": "nx@example.test", "password": PASSWORD, "next": target},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    location = response.headers["location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert "evil" not in location or location.startswith("/%")


def test_content_security_policy_hashes_each_inline_script() -> None:
    import base64
    import hashlib

    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from app.routes.middleware import SecurityHeadersMiddleware

    script = b"console.log('boot')"
    html = b"<html><script>" + script + b"</script><script src='/x.js'></script></html>"
    app = Starlette(routes=[Route("/", lambda request: HTMLResponse(html))])
    csp = TestClient(SecurityHeadersMiddleware(app)).get("/").headers["content-security-policy"]
    digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
    assert f"'sha256-{digest}'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
