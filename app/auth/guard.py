"""The one guard: every privileged Reflex event handler and HTTP route declares who may call it.

    @requires(Role.admin)                      # on a state event handler or a Starlette endpoint
    @requires(PUBLIC, reason="...")            # explicitly open to everyone

The decorator records a rule in `RULES` (tests enumerate every handler and route of the app and
fail on any without one) and, on each call, resolves the caller on the server from the session
cookie: for an HTTP route from the request, for an event handler from the cookie header of the
event's websocket connection (`self.router.headers.cookie`, set by the server from the socket's
handshake, never by the client's payload). Roles are read from the database on every call, so a
role change or a disabled account takes effect at once.

Inside a guarded function, `current_principal()` gives the caller.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import redis
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.auth import sessions, web
from app.models import Role, User
from app.observability import log_context

PUBLIC: Final = "public"
Level = Role | str  # a Role, or PUBLIC

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    display_name: str
    role: Role
    session_id: str

    def allows(self, level: Level) -> bool:
        return level == PUBLIC or self.role.at_least(Role(level))


@dataclass(frozen=True)
class Rule:
    name: str  # module.qualname of the guarded function
    level: str  # "public", "user", "creator" or "admin"
    kind: str  # "route" or "handler"
    reason: str = ""


RULES: dict[str, Rule] = {}
SIGN_IN_MESSAGE = "Sign in to continue."
ROLE_MESSAGE = "You do not have permission to do this."
_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("lorastudio_principal", default=None)


class AccessDeniedError(PermissionError):
    def __init__(self, rule: Rule, principal: Principal | None) -> None:
        who = "anonymous caller" if principal is None else f"role {principal.role.value}"
        super().__init__(f"{rule.name} needs {rule.level}; {who}")
        self.rule = rule
        self.principal = principal


# What an event handler returns when the caller is refused (set by the Reflex state layer,
# so this module stays free of Reflex). Called as fn(state, rule, principal).
_event_denial: Callable[[Any, Rule, Principal | None], Any] | None = None


def set_event_denial(handler: Callable[[Any, Rule, Principal | None], Any]) -> None:
    global _event_denial
    _event_denial = handler


# --- resolving the caller ----------------------------------------------------------------------


def principal_for_token(token: str | None) -> Principal | None:
    """The signed-in, active user behind a session token, or None."""
    if not token:
        return None
    info = sessions.get_session_store().resolve(token)
    if info is None:
        return None
    from app.db import session_scope

    with session_scope() as db:
        user = db.get(User, info.user_id)
        if user is None or not user.is_active:
            return None
        return Principal(user.id or 0, user.email, user.display_name, Role(user.role), info.id)


def request_token(request: Request) -> str | None:
    return request.cookies.get(sessions.cookie_name())


def principal_for_request(request: Request) -> Principal | None:
    """Cached on the request, so the rate limiter and the route share one lookup."""
    cached = request.scope.setdefault("state", {}).get("lorastudio_principal", ...)
    if cached is not ...:
        return cached
    principal = principal_for_token(request_token(request))
    request.scope["state"]["lorastudio_principal"] = principal
    return principal


def state_token(state: Any) -> str | None:
    """The session token from the cookie header of the event's websocket handshake."""
    try:
        header = state.router.headers.cookie
    except AttributeError:
        return None
    return sessions.token_from_cookie_header(header or "")


def principal_for_state(state: Any) -> Principal | None:
    return principal_for_token(state_token(state))


def current_principal() -> Principal | None:
    """The caller of the guarded function now running (None when public and anonymous)."""
    return _current.get()


# --- the decorator -----------------------------------------------------------------------------


def requires(level: Level, *, reason: str = "") -> Callable[[F], F]:
    """Guard a Starlette endpoint (first argument a Request) or a state event handler (self)."""
    level = level.value if isinstance(level, Role) else level
    if level != PUBLIC:
        Role(level)  # unknown role names fail at import time
    elif not reason:
        raise ValueError("a PUBLIC rule needs a reason")

    def decorate(fn: F) -> F:
        params = list(inspect.signature(fn).parameters)
        kind = "handler" if params[:1] == ["self"] else "route"
        rule = Rule(name=f"{fn.__module__}.{fn.__qualname__}", level=level, kind=kind, reason=reason)
        RULES[rule.name] = rule
        wrapper = _route_wrapper(fn, rule) if kind == "route" else _handler_wrapper(fn, rule)
        wrapper.__guard_rule__ = rule  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def rule_of(fn: Any) -> Rule | None:
    return getattr(fn, "__guard_rule__", None)


def _route_wrapper(fn: Callable[..., Any], rule: Rule) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            principal = principal_for_request(request)
        except redis.RedisError:
            # The session store (Redis) is down. A public route serves everyone, so its caller is
            # simply anonymous; anything else fails safe: 503 (app/observability/errors.py).
            if rule.level != PUBLIC:
                raise
            principal = None
        if principal is not None:
            log_context.bind_user_id(principal.user_id)  # every log line of this request names the user
        if rule.level != PUBLIC and (principal is None or not principal.allows(rule.level)):
            return route_denial(request, rule, principal)
        token = _current.set(principal)
        try:
            result = fn(request, *args, **kwargs)
            return await result if inspect.isawaitable(result) else result
        finally:
            _current.reset(token)

    return wrapper


def route_denial(request: Request, rule: Rule, principal: Principal | None) -> Response:
    if principal is None:
        if web.wants_json(request):
            return JSONResponse({"ok": False, "error": SIGN_IN_MESSAGE}, status_code=401)
        return RedirectResponse(web.signin_redirect_url(request.headers.get("referer", "/")), status_code=303)
    return JSONResponse({"ok": False, "error": ROLE_MESSAGE}, status_code=403)


def _deny_event(state: Any, rule: Rule, principal: Principal | None) -> Any:
    if _event_denial is None:
        raise AccessDeniedError(rule, principal)
    return _event_denial(state, rule, principal)


def _handler_wrapper(fn: Callable[..., Any], rule: Rule) -> Callable[..., Any]:
    def check(state: Any) -> tuple[bool, Principal | None]:
        principal = principal_for_state(state)
        if principal is not None:
            log_context.bind_user_id(principal.user_id)
        allowed = rule.level == PUBLIC or (principal is not None and principal.allows(rule.level))
        return allowed, principal

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def agen_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            allowed, principal = check(self)
            if not allowed:
                yield _deny_event(self, rule, principal)
                return
            iterator = fn(self, *args, **kwargs)
            while True:
                token = _current.set(principal)
                try:
                    item = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                finally:
                    _current.reset(token)
                yield item

        return agen_wrapper

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            allowed, principal = check(self)
            if not allowed:
                yield _deny_event(self, rule, principal)
                return
            iterator = fn(self, *args, **kwargs)
            while True:
                token = _current.set(principal)
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    _current.reset(token)
                yield item

        return gen_wrapper

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            allowed, principal = check(self)
            if not allowed:
                return _deny_event(self, rule, principal)
            token = _current.set(principal)
            try:
                return await fn(self, *args, **kwargs)
            finally:
                _current.reset(token)

        return async_wrapper

    @functools.wraps(fn)
    def sync_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        allowed, principal = check(self)
        if not allowed:
            return _deny_event(self, rule, principal)
        token = _current.set(principal)
        try:
            return fn(self, *args, **kwargs)
        finally:
            _current.reset(token)

    return sync_wrapper
