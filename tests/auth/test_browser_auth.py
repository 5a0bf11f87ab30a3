"""In Chromium against the real app: sign-up, sign-in, sign-out, errors, redirects, account
deletion, the admin page, OpenID Connect through a real provider, and the app under its CSP."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.auth import PASSWORD, random_email

pytestmark = pytest.mark.browser
TIMEOUT = 20_000


def sign_up(page: Page, url: str, email: str, *, name: str = "Browser User", next_path: str = "") -> None:
    page.goto(f"{url}/signup" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.locator("#signin-submit").click()


def test_sign_up_sign_out_sign_in_and_wrong_password(auth_app, page: Page) -> None:
    email = random_email("flow")
    sign_up(page, auth_app.url, email, name="Flow Tester")
    expect(page.locator("#user-name")).to_have_text("Flow Tester", timeout=TIMEOUT)
    cookie = next(c for c in page.context.cookies() if c["name"] == "ls_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert "ls_session" not in page.evaluate("document.cookie")  # scripts cannot read it

    page.locator("#signout-form button").click()
    expect(page.locator("#form-notice")).to_contain_text("signed out", timeout=TIMEOUT)
    expect(page.locator("#signin-link")).to_be_visible()

    sign_in(page, email, "not my password 9")
    expect(page.locator("#form-error")).to_have_text("Email or password is incorrect.", timeout=TIMEOUT)
    expect(page.get_by_label("Password")).to_have_value("")
    sign_in(page, email)
    expect(page.locator("#user-name")).to_have_text("Flow Tester", timeout=TIMEOUT)


def test_redirect_to_sign_in_and_back(auth_app, page: Page) -> None:
    email = random_email("back")
    httpx.post(
        f"{auth_app.url}/auth/signup",
        data={"email": email, "display_name": "Back Again", "password": PASSWORD},
        headers={"Accept": "application/json"},
    ).raise_for_status()
    page.goto(f"{auth_app.url}/account")
    expect(page).to_have_url(re.compile(r"/signin\?next=/account"), timeout=TIMEOUT)
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/account/?$"), timeout=TIMEOUT)
    expect(page.locator("#account-email")).to_have_text(email, timeout=TIMEOUT)


def test_sign_up_errors_are_shown_by_the_field(auth_app, page: Page) -> None:
    page.goto(f"{auth_app.url}/signup")
    page.get_by_label("Email").fill(random_email("weak"))
    page.get_by_label("Name").fill("Weak")
    page.get_by_label("Password").fill("password1234")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#form-error")).to_contain_text("too common", timeout=TIMEOUT)
    expect(page.get_by_label("Password")).to_be_focused()


def test_delete_account(auth_app, page: Page) -> None:
    email = random_email("delete")
    sign_up(page, auth_app.url, email, next_path="/account")
    expect(page.locator("#account-email")).to_have_text(email, timeout=TIMEOUT)
    form = page.locator("#delete-form")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("I understand this cannot be undone.").check()
    form.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#form-notice")).to_contain_text("deleted", timeout=TIMEOUT)
    sign_in(page, email)
    expect(page.locator("#form-error")).to_have_text("Email or password is incorrect.", timeout=TIMEOUT)


def test_admin_page_is_for_admins_and_changes_roles(auth_app, page: Page) -> None:
    email = random_email("promote")
    sign_up(page, auth_app.url, email, name="Promote Me")
    expect(page.locator("#user-name")).to_have_text("Promote Me", timeout=TIMEOUT)
    expect(page.locator("#admin-menu")).to_have_count(0)  # a plain user sees no admin menu
    expect(page.locator("#creator-menu")).to_have_count(0)
    page.goto(f"{auth_app.url}/admin/users")
    expect(page).to_have_url(re.compile(r"/forbidden"), timeout=TIMEOUT)
    expect(page.get_by_text("It needs the admin role")).to_be_visible()

    page.context.clear_cookies()
    page.goto(f"{auth_app.url}/signin?next=/admin/users")
    sign_in(page, auth_app.admin_email, auth_app.admin_password)
    row = page.locator("tr", has_text=email)
    expect(row).to_be_visible(timeout=TIMEOUT)
    row.get_by_role("combobox").click()
    page.get_by_role("option", name="creator").click()
    expect(page.get_by_role("status")).to_contain_text(f"{email} is now creator", timeout=TIMEOUT)

    page.locator("#admin-menu").click()  # the admin's pages are one menu away
    page.get_by_role("menuitem", name="Configuration").click()
    expect(page).to_have_url(re.compile(r"/admin/config/?$"), timeout=TIMEOUT)


# --- OpenID Connect against the real provider -----------------------------------------------------


def idp_sign_in(page: Page, login: str) -> None:
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible(timeout=TIMEOUT)
    page.get_by_label("Username").fill(login)
    page.get_by_label("Password").fill(f"{login}-password")
    page.get_by_role("button", name="Sign in to the test IdP").click()


def test_oidc_sign_in_through_the_provider(auth_app, page: Page) -> None:
    page.goto(f"{auth_app.url}/signin?next=/account")
    page.get_by_role("link", name="Continue with Test IdP").click()
    idp_sign_in(page, "alice")
    expect(page).to_have_url(re.compile(r"/account/?$"), timeout=TIMEOUT)
    expect(page.locator("#account-email")).to_have_text("alice@example.test", timeout=TIMEOUT)
    expect(page.locator("#user-name")).to_have_text("Alice Liddell")


def _watch_provider(page: Page) -> tuple[list[str], list[str]]:
    """Record the authorization requests the app sends the browser to, and the callbacks."""
    starts: list[str] = []
    callbacks: list[str] = []

    def seen(request) -> None:  # noqa: ANN001
        if "/auth?" in request.url and "client_id=" in request.url:
            starts.append(request.url)
        if "/auth/oidc/test/callback" in request.url:
            callbacks.append(request.url)

    page.on("request", seen)
    return starts, callbacks


def _state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def test_oidc_wrong_state_is_refused(auth_app, page: Page) -> None:
    starts, _ = _watch_provider(page)
    page.goto(f"{auth_app.url}/auth/oidc/test/start")
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible(timeout=TIMEOUT)
    state = _state_of(starts[-1])
    page.goto(f"{auth_app.url}/auth/oidc/test/callback?code=some-code&state={state}x&iss={auth_app.idp.issuer}")
    expect(page.locator("#form-error")).to_contain_text("state mismatch", timeout=TIMEOUT)
    expect(page.locator("#signin-link")).to_be_visible()


def test_oidc_replayed_code_is_refused(auth_app, page: Page) -> None:
    starts, callbacks = _watch_provider(page)
    page.goto(f"{auth_app.url}/auth/oidc/test/start")
    idp_sign_in(page, "alice")
    expect(page.locator("#user-name")).to_have_text("Alice Liddell", timeout=TIMEOUT)
    first = callbacks[-1]
    old_code = parse_qs(urlsplit(first).query)["code"][0]

    # A new attempt from this browser (fresh state), answered with the code that was already used.
    page.context.clear_cookies()
    page.goto(f"{auth_app.url}/auth/oidc/test/start")
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible(timeout=TIMEOUT)
    state = _state_of(starts[-1])
    page.goto(f"{auth_app.url}/auth/oidc/test/callback?code={old_code}&state={state}&iss={auth_app.idp.issuer}")
    expect(page.locator("#form-error")).to_contain_text("already used or has expired", timeout=TIMEOUT)
    page.goto(first)  # the whole first answer again: its attempt is gone
    expect(page.locator("#form-error")).to_contain_text("state mismatch", timeout=TIMEOUT)
    expect(page.locator("#signin-link")).to_be_visible()


def test_oidc_tampered_id_token_is_refused(auth_app, page: Page) -> None:
    auth_app.idp.tamper_next_id_token()
    page.goto(f"{auth_app.url}/auth/oidc/test/start")
    idp_sign_in(page, "alice")
    expect(page.locator("#form-error")).to_contain_text("identity token", timeout=TIMEOUT)
    expect(page.locator("#signin-link")).to_be_visible()


def test_oidc_unverified_email_is_not_linked(auth_app, page: Page) -> None:
    httpx.post(
        f"{auth_app.url}/auth/signup",
        data={"email": "bob@example.test", "display_name": "Local Bob", "password": PASSWORD},
        headers={"Accept": "application/json"},
    )
    page.goto(f"{auth_app.url}/auth/oidc/test/start")
    idp_sign_in(page, "bob")
    expect(page.locator("#form-error")).to_contain_text("has not verified", timeout=TIMEOUT)
    expect(page.locator("#signin-link")).to_be_visible()


# --- the app under its Content-Security-Policy ---------------------------------------------------


def test_pages_websocket_and_wasm_work_under_the_csp(auth_app, page: Page) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text or "Refused to" in m.text else None,
    )
    for path in ("/", "/catalog", "/selftest", "/signup", "/signin"):
        response = page.goto(f"{auth_app.url}{path}")
        assert "script-src 'self' 'wasm-unsafe-eval' 'sha256-" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    # The provider button comes from the server over the websocket: events flow under the CSP.
    expect(page.get_by_role("link", name="Continue with Test IdP")).to_be_visible(timeout=TIMEOUT)
    # The engine's runtime, served by the app: its loader script and its wasm both run under the CSP.
    runtime = page.evaluate(
        """async () => {
            const base = '/runtime/mediapipe/0.10.29/';
            await new Promise((resolve, reject) => {
                const s = document.createElement('script');
                s.src = base + 'genai_wasm_internal.js';
                s.onload = resolve;
                s.onerror = () => reject(new Error('loader script blocked'));
                document.head.appendChild(s);
            });
            const r = await fetch(base + 'genai_wasm_internal.wasm');
            if (r.status !== 200) return 'status ' + r.status;
            await WebAssembly.compile(await r.arrayBuffer());
            return 'compiled';
        }"""
    )
    assert runtime == "compiled", runtime
    assert not violations, violations
    # And the policy is really enforced: an injected inline script does not run.
    injected = page.evaluate(
        """() => { const s = document.createElement('script'); s.textContent = 'window.__injected = 1';
                   document.body.appendChild(s); return window.__injected === 1; }"""
    )
    assert injected is False
    assert any("Content Security Policy" in v for v in violations)
