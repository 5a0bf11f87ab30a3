"""HTTP details of signing in: cookies, CSRF origin checks, client addresses, safe redirects,
rate-limit responses, and the messages the sign-in pages show for each error code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import quote, urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.auth import sessions
from app.auth.ratelimit import Decision
from app.settings import get_settings

DEVICE_COOKIE = "ls_device"
DEVICE_COOKIE_MAX_AGE = 365 * 86400
MAX_NEXT_LENGTH = 512

# Every error code a page may receive in ?error=CODE, and what it tells the user.
ERROR_MESSAGES: dict[str, str] = {
    "invalid": "Email or password is incorrect.",
    "disabled": "This account has been disabled. Contact an administrator.",
    "rate": "Too many attempts. Wait a little and try again.",
    "csrf": "This form was sent from another site and was refused. Reload the page and try again.",
    "signup_closed": "Sign-up is closed on this site. Ask an administrator for an account.",
    "account": "That did not work. Check the form and try again.",
    "too_large": "The form was too large.",
    "oidc_unknown": "That sign-in provider is not configured on this site.",
    "oidc_state": "The sign-in response did not match the request this browser started (state mismatch). "
    "Start the sign-in again.",
    "oidc_code": "The identity provider refused the sign-in code: it was already used or has expired. "
    "Start the sign-in again.",
    "oidc_token": "The identity token from the provider failed verification (signature, issuer, audience, "
    "expiry or nonce), so it was rejected.",
    "oidc_denied": "The sign-in was cancelled at the identity provider.",
    "oidc_provider": "The identity provider could not be reached or answered with an error. Try again later.",
    "oidc_no_email": "The identity provider did not share an email address, which an account needs.",
    "oidc_link_off": "An account with this email already exists. Sign in with your password; linking sign-in "
    "providers to existing accounts is turned off on this site.",
    "oidc_unverified": "An account with this email already exists, and the identity provider has not verified "
    "that this email is yours, so the two were not linked. Sign in with your password.",
    "oidc_gone": "This sign-in is linked to an account that no longer exists.",
}


# Codes for ?notice=CODE: news that is not an error.
NOTICE_MESSAGES: dict[str, str] = {
    "signed_out": "You have been signed out.",
    "signed_out_everywhere": "You have been signed out on every device.",
    "expired": "Your session has ended. Sign in again.",
    "deleted": "Your account and its data have been deleted.",
    "password_changed": "Password changed. Your other sessions have been signed out.",
}


def error_message(code: str) -> str:
    return ERROR_MESSAGES.get(code, "")


def notice_message(code: str) -> str:
    return NOTICE_MESSAGES.get(code, "")


# --- where a request comes from ------------------------------------------------------------------


def client_ip(conn: HTTPConnection) -> str:
    """The peer address, or with TRUSTED_PROXY_HOPS=n the n-th address from the right in
    X-Forwarded-For (the one our own proxies saw); the header is ignored otherwise."""
    hops = get_settings().trusted_proxy_hops
    if hops:
        forwarded = [part.strip() for part in conn.headers.get("x-forwarded-for", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops][:64]
    return (conn.client.host if conn.client else "unknown")[:64]


def request_origin(conn: HTTPConnection) -> str:
    scheme = conn.url.scheme
    if get_settings().trusted_proxy_hops and conn.headers.get("x-forwarded-proto") in {"http", "https"}:
        scheme = conn.headers["x-forwarded-proto"]
    return f"{scheme}://{conn.headers.get('host', '')}"


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def same_origin(request: Request) -> bool:
    """CSRF check for state-changing requests: the browser must say it is on our own origin.

    Browsers send Origin (or at least Sec-Fetch-Site) on every POST; a request with neither is
    not from a browser, so no cookie of a victim rides on it. Together with SameSite=Lax cookies
    this refuses cross-site form posts and fetches.
    """
    allowed = {request_origin(request), get_settings().public_origin}
    origin = request.headers.get("origin")
    if origin is not None:
        return origin in allowed
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in {"same-origin", "none"}
    referer = request.headers.get("referer")
    if referer:
        return _origin_of(referer) in allowed
    return True


def safe_next(raw: str | None, default: str = "/") -> str:
    """A local path to go to after signing in; anything that could leave the site becomes default."""
    if not raw or len(raw) > MAX_NEXT_LENGTH:
        return default
    raw = raw.strip()
    if not raw.startswith("/") or raw.startswith(("//", "/\\")) or any(ord(ch) < 0x20 for ch in raw) or "\\" in raw:
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return default
    if parts.path.rstrip("/") in {"/signin", "/signup", "/auth/signout"}:
        return default
    return raw


def signin_redirect_url(next_path: str = "/", *, error: str = "") -> str:
    next_path = safe_next(_path_only(next_path))
    query = [f"next={quote(next_path, safe='/')}"] if next_path != "/" else []
    if error:
        query.append(f"error={quote(error)}")
    return "/signin" + ("?" + "&".join(query) if query else "")


def _path_only(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "") if parts.path else "/"


# --- cookies -------------------------------------------------------------------------------------


def set_session_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        sessions.cookie_name(),
        token,
        max_age=settings.session_absolute_timeout_s,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response) -> None:
    settings = get_settings()
    response.delete_cookie(
        sessions.cookie_name(), path="/", secure=settings.secure_cookies, httponly=True, samesite="lax"
    )


def _device_mac(user_id: int, nonce: str) -> str:
    key = hashlib.sha256(("device-cookie:" + get_settings().secret()).encode()).digest()
    return hmac.new(key, f"{user_id}.{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


def set_device_cookie(response: Response, user_id: int) -> None:
    """Marks this browser as one the account signed in from, so the per-account failed-sign-in
    limit (which an attacker could trip on purpose) does not lock its owner out here."""
    nonce = secrets.token_urlsafe(12)
    response.set_cookie(
        DEVICE_COOKIE,
        f"{user_id}.{nonce}.{_device_mac(user_id, nonce)}",
        max_age=DEVICE_COOKIE_MAX_AGE,
        path="/",
        secure=get_settings().secure_cookies,
        httponly=True,
        samesite="lax",
    )


def device_nonce(request: Request, user_id: int | None) -> str | None:
    """The device id when this browser carries a valid device cookie for this user."""
    raw = request.cookies.get(DEVICE_COOKIE, "")
    parts = raw.split(".")
    if user_id is None or len(parts) != 3 or not parts[0].isdigit() or int(parts[0]) != user_id:
        return None
    if not hmac.compare_digest(parts[2], _device_mac(user_id, parts[1])):
        return None
    return parts[1]


# --- responses -----------------------------------------------------------------------------------


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def too_many(request: Request, decision: Decision, *, message: str = "") -> Response:
    """429 with Retry-After; JSON for scripts, a short page for a plain form post."""
    seconds = decision.retry_after
    text = (message or "Too many attempts.") + f" Try again in {_humanize(seconds)}."
    headers = {"Retry-After": str(seconds)}
    if wants_json(request):
        body = {"ok": False, "error": text, "retry_after": seconds, "code": "rate"}
        return JSONResponse(body, status_code=429, headers=headers)
    return Response(text, status_code=429, headers=headers, media_type="text/plain")


def _humanize(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"


def form_result(
    request: Request,
    *,
    ok: bool,
    redirect: str = "/",
    error: str = "",
    code: str = "account",
    field: str | None = None,
    status: int = 400,
    page: str = "/signin",
    next_path: str = "/",
    headers: dict[str, str] | None = None,
) -> Response:
    """JSON for the page's fetch; for a plain form post (no JavaScript), a redirect."""
    if wants_json(request):
        if ok:
            return JSONResponse({"ok": True, "redirect": redirect}, headers=headers)
        body = {"ok": False, "error": error, "field": field, "code": code}
        return JSONResponse(body, status_code=status, headers=headers)
    if ok:
        return RedirectResponse(redirect, status_code=303, headers=headers)
    next_path = safe_next(next_path)
    query = f"error={quote(code)}" + (f"&next={quote(next_path, safe='/')}" if next_path != "/" else "")
    return RedirectResponse(f"{page}?{query}", status_code=303, headers=headers)
