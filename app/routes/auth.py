"""Sign-in, sign-up, sign-out, password, account deletion, OpenID callbacks, and the account API.

These are real HTTP form posts (the page enhances them with fetch and asks for JSON), because
only an HTTP response can set the HttpOnly session cookie; Reflex state learns the user from that
cookie on every event. Every route is declared in the guard; CSRF (origin) checks and the JSON API
rate limit are applied by the middleware in app/routes/middleware.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.analytics.lifecycle import note_server_event
from app.auth import accounts, oidc, web
from app.auth.guard import PUBLIC, current_principal, requires
from app.auth.ratelimit import get_limiter
from app.auth.sessions import get_session_store
from app.config import get_runtime_config
from app.db import session_scope
from app.models import Role
from app.settings import Rate, get_settings

log = logging.getLogger("lorastudio.auth")

MAX_FORM_BYTES = 16 * 1024
MAX_FIELD_LENGTH = 4096
OIDC_COOKIE = "ls_oidc"


class FormTooLargeError(ValueError):
    pass


def _rate(key: str) -> Rate:
    """A limit from the run-time configuration (an admin may change it without a restart)."""
    return get_runtime_config().values[key]  # type: ignore[return-value]


async def read_fields(request: Request) -> dict[str, str]:
    """The posted fields (urlencoded form or JSON object), refusing oversized bodies early."""
    declared = request.headers.get("content-length")
    if declared and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise FormTooLargeError
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLargeError
    text = body.decode("utf-8", "replace")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(text or "{}")
        except ValueError:
            data = {}
        pairs = data.items() if isinstance(data, dict) else []
    else:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=30)
    return {str(k): v for k, v in pairs if isinstance(v, str) and len(v) <= MAX_FIELD_LENGTH}


def _user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:200]


def _start_session(response: Response, request: Request, user_id: int) -> None:
    store = get_session_store()
    old = request.cookies.get(web.sessions.cookie_name())
    if old:
        store.revoke(old)  # a fresh token at every sign-in: no session fixation
    token, _ = store.create(user_id, user_agent=_user_agent(request), ip=web.client_ip(request))
    web.set_session_cookie(response, token)
    web.set_device_cookie(response, user_id)


def _too_large(request: Request, page: str) -> Response:
    return web.form_result(request, ok=False, error="The form was too large.", code="too_large", status=413, page=page)


# --- local accounts -----------------------------------------------------------------------------


@requires(PUBLIC, reason="signing in is how a visitor becomes a user")
async def signin(request: Request) -> Response:
    try:
        fields = await read_fields(request)
    except FormTooLargeError:
        return _too_large(request, "/signin")
    decision = await get_limiter().acheck(f"signin:ip:{web.client_ip(request)}", _rate("ratelimit.signin"))
    if not decision.allowed:
        return web.too_many(request, decision, message="Too many sign-in attempts from your network.")
    return await run_in_threadpool(_signin, request, fields)


def _signin(request: Request, fields: dict[str, str]) -> Response:
    limiter = get_limiter()
    email, password = fields.get("email", ""), fields.get("password", "")
    next_path = web.safe_next(fields.get("next"))
    with session_scope() as db:
        known = accounts.find_by_email(db, email)
        device = web.device_nonce(request, known.id if known else None)
        try:
            subject = accounts.normalize_email(email)
        except accounts.AccountError:
            subject = email.strip().lower()[:300]
        # Failed sign-ins are limited per account, except from a browser this account signed in
        # from before (its own, separate limit): an attacker can slow an account down, but cannot
        # lock its owner out of a browser they already use.
        failure_key = f"signin:device:{device}" if device else f"signin:account:{subject}"
        gate = limiter.check(failure_key, _rate("ratelimit.signin_failures"), mode="peek")
        if not gate.allowed:
            return web.too_many(request, gate, message="Too many failed sign-ins for this account.")
        try:
            user = accounts.authenticate(db, email=email, password=password)
        except accounts.InvalidCredentialsError as exc:
            limiter.check(failure_key, _rate("ratelimit.signin_failures"), mode="record")
            note_server_event({"type": "sign_in", "method": "password", "outcome": "failed"})
            return web.form_result(request, ok=False, error=exc.message, code=exc.code, status=401, next_path=next_path)
        except accounts.AccountDisabledError as exc:
            return web.form_result(request, ok=False, error=exc.message, code=exc.code, status=403, next_path=next_path)
        limiter.reset(failure_key)
        user_id = user.id or 0
    note_server_event({"type": "sign_in", "method": "password", "outcome": "ok"}, user_id=user_id)
    response = web.form_result(request, ok=True, redirect=next_path)
    _start_session(response, request, user_id)
    return response


@requires(PUBLIC, reason="creating an account (when sign-up is open)")
async def signup(request: Request) -> Response:
    try:
        fields = await read_fields(request)
    except FormTooLargeError:
        return _too_large(request, "/signup")
    decision = await get_limiter().acheck(f"signup:ip:{web.client_ip(request)}", _rate("ratelimit.signup"))
    if not decision.allowed:
        return web.too_many(request, decision, message="Too many sign-ups from your network.")
    return await run_in_threadpool(_signup, request, fields)


def _signup(request: Request, fields: dict[str, str]) -> Response:
    next_path = web.safe_next(fields.get("next"))
    with session_scope() as db:
        try:
            user = accounts.sign_up(
                db,
                email=fields.get("email", ""),
                password=fields.get("password", ""),
                display_name=fields.get("display_name", ""),
            )
        except accounts.AccountError as exc:
            return web.form_result(
                request,
                ok=False,
                error=exc.message,
                field=exc.field,
                code=exc.code,
                page="/signup",
                next_path=next_path,
            )
        user_id = user.id or 0
    note_server_event({"type": "sign_up", "method": "password"}, user_id=user_id)
    response = web.form_result(request, ok=True, redirect=next_path)
    _start_session(response, request, user_id)
    return response


@requires(PUBLIC, reason="signing out needs no account; it only ends the caller's own session")
async def signout(request: Request) -> Response:
    token = request.cookies.get(web.sessions.cookie_name())
    if token:
        await run_in_threadpool(get_session_store().revoke, token)
    response = web.form_result(request, ok=True, redirect="/signin?notice=signed_out")
    web.clear_session_cookie(response)
    return response


@requires(Role.user)
async def signout_everywhere(request: Request) -> Response:
    principal = current_principal()
    assert principal is not None
    await run_in_threadpool(get_session_store().revoke_all, principal.user_id)
    response = web.form_result(request, ok=True, redirect="/signin?notice=signed_out_everywhere")
    web.clear_session_cookie(response)
    return response


async def _account_change(
    request: Request,
    *,
    limit_message: str,
    change: Callable[[Session, int, dict[str, str]], None],
    finish: Callable[[int], Response],
) -> Response:
    """Password-confirmed changes to the caller's own account: bounded form, per-account limit."""
    principal = current_principal()
    assert principal is not None
    try:
        fields = await read_fields(request)
    except FormTooLargeError:
        return _too_large(request, "/account")
    decision = await get_limiter().acheck(f"password:user:{principal.user_id}", _rate("ratelimit.password"))
    if not decision.allowed:
        return web.too_many(request, decision, message=limit_message)

    def work() -> Response:
        with session_scope() as db:
            try:
                change(db, principal.user_id, fields)
            except accounts.AccountError as exc:
                return web.form_result(
                    request, ok=False, error=exc.message, field=exc.field, code=exc.code, page="/account"
                )
        return finish(principal.user_id)

    return await run_in_threadpool(work)


@requires(Role.user)
async def change_password(request: Request) -> Response:
    def change(db: Session, user_id: int, fields: dict[str, str]) -> None:
        accounts.change_password(
            db,
            user_id=user_id,
            current_password=fields.get("current_password", ""),
            new_password=fields.get("new_password", ""),
        )

    def finish(user_id: int) -> Response:
        get_session_store().revoke_all(user_id, keep_token=request.cookies.get(web.sessions.cookie_name()))
        return web.form_result(request, ok=True, redirect="/account?notice=password_changed")

    return await _account_change(request, limit_message="Too many password changes.", change=change, finish=finish)


@requires(Role.user)
async def delete_account(request: Request) -> Response:
    def change(db: Session, user_id: int, fields: dict[str, str]) -> None:
        accounts.delete_account(
            db, user_id=user_id, password=fields.get("password", ""), confirm_email=fields.get("confirm_email", "")
        )

    def finish(user_id: int) -> Response:
        get_session_store().revoke_all(user_id)
        response = web.form_result(request, ok=True, redirect="/signin?notice=deleted")
        web.clear_session_cookie(response)
        response.delete_cookie(web.DEVICE_COOKIE, path="/")
        return response

    return await _account_change(request, limit_message="Too many attempts.", change=change, finish=finish)


# --- OpenID Connect / OAuth2 -------------------------------------------------------------------


def _callback_uri(name: str) -> str:
    return f"{get_settings().public_origin}/auth/oidc/{name}/callback"


def _oidc_failure(code: str) -> Response:
    response = RedirectResponse(f"/signin?error={code}", status_code=303)
    response.delete_cookie(OIDC_COOKIE, path="/auth/oidc/")
    return response


@requires(PUBLIC, reason="starting a sign-in at an identity provider")
async def oidc_start(request: Request) -> Response:
    provider = get_settings().oidc_provider(request.path_params["provider"])
    if provider is None:
        return _oidc_failure("oidc_unknown")
    decision = await get_limiter().acheck(f"signin:ip:{web.client_ip(request)}", _rate("ratelimit.signin"))
    if not decision.allowed:
        return web.too_many(request, decision, message="Too many sign-in attempts from your network.")
    next_path = web.safe_next(request.query_params.get("next"))
    try:
        url, pending_id = await oidc.begin(provider, redirect_uri=_callback_uri(provider.name), next_path=next_path)
    except oidc.OIDCError as exc:
        log.warning("OIDC start with %s failed: %s", provider.name, exc.detail)
        return _oidc_failure(exc.code)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        OIDC_COOKIE,
        pending_id,
        max_age=oidc.PENDING_TTL_S,
        path="/auth/oidc/",
        secure=get_settings().secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return response


@requires(PUBLIC, reason="the identity provider sends the browser back here")
async def oidc_callback(request: Request) -> Response:
    provider = get_settings().oidc_provider(request.path_params["provider"])
    if provider is None:
        return _oidc_failure("oidc_unknown")
    pending = oidc.take_pending(request.cookies.get(OIDC_COOKIE))
    params = {k: v for k, v in request.query_params.items() if len(v) <= MAX_FIELD_LENGTH}
    try:
        identity, next_path = await oidc.complete(provider, pending=pending, params=params)
    except oidc.OIDCError as exc:
        log.info("OIDC sign-in with %s refused: %s", provider.name, exc)
        return _oidc_failure(exc.code)

    def finish() -> Response:
        with session_scope() as db:
            try:
                user = accounts.sign_in_with_identity(db, identity)
            except accounts.AccountError as exc:
                return _oidc_failure(exc.code)
            user_id = user.id or 0
        note_server_event({"type": "sign_in", "method": "oidc", "outcome": "ok"}, user_id=user_id)
        response = RedirectResponse(web.safe_next(next_path), status_code=303)
        response.delete_cookie(OIDC_COOKIE, path="/auth/oidc/")
        _start_session(response, request, user_id)
        return response

    return await run_in_threadpool(finish)


# --- JSON API ------------------------------------------------------------------------------------


@requires(Role.user)
async def api_me(request: Request) -> Response:
    principal = current_principal()
    assert principal is not None
    return JSONResponse(
        {
            "id": principal.user_id,
            "email": principal.email,
            "display_name": principal.display_name,
            "role": principal.role.value,
        }
    )


def _row(row: accounts.UserRow) -> dict[str, Any]:
    return {**row.__dict__, "providers": list(row.providers)}


@requires(Role.admin)
async def api_list_users(request: Request) -> Response:
    query = request.query_params.get("q", "")[:100]
    raw_offset = request.query_params.get("offset", "0")
    offset = int(raw_offset) if raw_offset.isdigit() and len(raw_offset) < 9 else 0

    def work() -> dict[str, Any]:
        with session_scope() as db:
            rows, total = accounts.list_users(db, query=query, offset=offset)
        return {"users": [_row(row) for row in rows], "total": total}

    return JSONResponse(await run_in_threadpool(work))


@requires(Role.admin)
async def api_update_user(request: Request) -> Response:
    principal = current_principal()
    assert principal is not None
    try:
        fields = json.loads((await request.body())[:MAX_FORM_BYTES] or b"{}")
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        return JSONResponse({"ok": False, "error": "Send a JSON object."}, status_code=400)
    user_id = request.path_params["user_id"]

    def work() -> Response:
        with session_scope() as db:
            try:
                if "role" in fields:
                    accounts.set_role(db, actor_id=principal.user_id, user_id=user_id, role=str(fields["role"]))
                if "is_active" in fields:
                    accounts.set_active(
                        db, actor_id=principal.user_id, user_id=user_id, active=fields["is_active"] is True
                    )
            except accounts.AccountError as exc:
                return JSONResponse({"ok": False, "error": exc.message}, status_code=400)
            user = accounts.get_user(db, user_id)
            if user is None:
                return JSONResponse({"ok": False, "error": "No such user."}, status_code=404)
            active, role = user.is_active, user.role
        if not active:
            get_session_store().revoke_all(user_id)
        return JSONResponse({"ok": True, "id": user_id, "role": role, "is_active": active})

    return await run_in_threadpool(work)


def auth_routes() -> list[Route]:
    return [
        Route("/auth/signin", signin, methods=["POST"]),
        Route("/auth/signup", signup, methods=["POST"]),
        Route("/auth/signout", signout, methods=["POST"]),
        Route("/auth/signout-everywhere", signout_everywhere, methods=["POST"]),
        Route("/auth/password", change_password, methods=["POST"]),
        Route("/auth/delete", delete_account, methods=["POST"]),
        Route("/auth/oidc/{provider}/start", oidc_start, methods=["GET"]),
        Route("/auth/oidc/{provider}/callback", oidc_callback, methods=["GET"]),
        Route("/api/auth/me", api_me, methods=["GET"]),
        Route("/api/admin/users", api_list_users, methods=["GET"]),
        Route("/api/admin/users/{user_id:int}", api_update_user, methods=["PATCH"]),
    ]
