"""The authorization matrix, built from the code: every HTTP route and every Reflex event handler
of the app must carry a guard rule, and each rule is enforced for every role.

A new route or handler without @requires(...) fails `test_every_*_has_a_rule`; one with a rule
is then checked here against an anonymous caller and each role, with no list to keep up to date.
"""

from __future__ import annotations

import inspect
from typing import Any, get_type_hints

import pytest
import reflex as rx
from reflex.istate.data import RouterData

from app.auth import guard
from app.auth.sessions import get_session_store
from app.models import Role
from tests.support import aio

OUR_PACKAGES = ("app", "state", "components")
CALLERS = ["anonymous", "user", "creator", "admin"]


def app_routes() -> list[Any]:
    from app.routes import build_api

    return list(build_api().routes)


def state_handlers(packages: tuple[str, ...] = OUR_PACKAGES) -> list[tuple[type[rx.State], str, Any]]:
    """Every event handler defined by our code on any state class of the app."""
    import app.app  # noqa: F401 - registers every page and state

    found = []
    pending = [rx.State]
    while pending:
        cls = pending.pop()
        pending.extend(cls.get_substates())
        for name, handler in cls.event_handlers.items():
            if handler.fn.__module__.split(".")[0] in packages:
                found.append((cls, name, handler))
    return found


def test_every_route_has_a_rule() -> None:
    missing = [route.path for route in app_routes() if guard.rule_of(route.endpoint) is None]
    assert not missing, f"routes without @requires(...): {missing}"
    assert len(app_routes()) >= 10


def test_every_event_handler_has_a_rule() -> None:
    handlers = state_handlers()
    missing = [f"{cls.__name__}.{name}" for cls, name, handler in handlers if guard.rule_of(handler.fn) is None]
    assert not missing, f"event handlers without @requires(...): {missing}"
    assert len(handlers) >= 8


def test_an_unguarded_handler_is_caught() -> None:
    class UnguardedProbeState(rx.State):
        @rx.event
        def delete_everything(self) -> None:
            pass

        @rx.event
        @guard.requires(Role.admin)
        def guarded(self) -> None:
            pass

    found = {name: guard.rule_of(h.fn) for cls, name, h in state_handlers(("tests",)) if cls is UnguardedProbeState}
    assert found["delete_everything"] is None and found["guarded"].level == "admin"


def _allowed(level: str, caller: str) -> bool:
    return level == guard.PUBLIC or (caller != "anonymous" and Role(caller).at_least(Role(level)))


@pytest.fixture
def tokens(users) -> dict[str, Any]:  # noqa: ANN001
    """A fresh session per call, so routes that sign out cannot spoil the next request."""

    def token_for(caller: str) -> str | None:
        if caller == "anonymous":
            return None
        return get_session_store().create(users[caller].id)[0]

    return token_for


def _route_cases() -> list[tuple[str, str]]:
    return [(route.path, method) for route in app_routes() for method in sorted(route.methods - {"HEAD"})]


@pytest.mark.parametrize(("path", "method"), _route_cases())
def test_route_matrix(api, users, tokens, path: str, method: str) -> None:
    route = next(r for r in app_routes() if r.path == path)
    rule = guard.rule_of(route.endpoint)
    url = (
        path.replace("{user_id:int}", str(users["user"].id))
        .replace("{provider}", "test")
        .replace("{version}", "0")
        .replace("{name}", "x")
    )
    for caller in CALLERS:
        api.cookies.clear()
        token = tokens(caller)
        if token:
            api.cookies.set("ls_session", token)
        response = api.request(
            method, url, headers={"Accept": "application/json", "Origin": "http://testserver"}, json={}
        )
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        denied = response.status_code in (401, 403) and body.get("error") in (
            guard.SIGN_IN_MESSAGE,
            guard.ROLE_MESSAGE,
        )
        assert denied is not _allowed(rule.level, caller), f"{method} {path} as {caller}: {response.status_code}"
        if denied:
            assert response.status_code == (401 if caller == "anonymous" else 403)


DENIED = object()


def _state_for(cls: type[rx.State], token: str | None) -> rx.State:
    root = rx.State(_reflex_internal_init=True)
    cookie = f"ls_session={token}" if token else ""
    root.router = RouterData.from_router_data(
        {"headers": {"cookie": cookie}, "pathname": "/probe", "asPath": "/probe/"}
    )
    pending = [root]
    while pending:
        state = pending.pop()
        if type(state) is cls:
            return state
        pending.extend(state.substates.values())
    raise AssertionError(f"{cls} not in the state tree")


def _sample_args(fn: Any) -> list[Any]:
    hints = get_type_hints(inspect.unwrap(fn))
    params = list(inspect.signature(inspect.unwrap(fn)).parameters)[1:]
    samples = {str: "probe", int: 0, bool: False, float: 0.0}
    return [samples.get(hints.get(name, str), "probe") for name in params]


def _run(result: Any) -> list[Any]:
    if inspect.iscoroutine(result):
        result = aio.run(result)
    if inspect.isasyncgen(result):

        async def drain() -> list[Any]:
            return [item async for item in result]

        return aio.run(drain())
    if inspect.isgenerator(result):
        return list(result)
    return [result]


def _handler_cases() -> list[tuple[type[rx.State], str]]:
    return [(cls, name) for cls, name, _ in state_handlers()]


@pytest.mark.parametrize(("cls", "name"), _handler_cases(), ids=lambda v: getattr(v, "__name__", v))
def test_event_handler_matrix(users, tokens, monkeypatch, cls, name: str) -> None:  # noqa: ANN001
    handler = cls.event_handlers[name]
    rule = guard.rule_of(handler.fn)
    monkeypatch.setattr(guard, "_event_denial", lambda state, rule, principal: DENIED)
    for caller in CALLERS:
        state = _state_for(cls, tokens(caller))
        outcome = _run(handler.fn(state, *_sample_args(handler.fn)))
        denied = DENIED in outcome
        assert denied is not _allowed(rule.level, caller), f"{cls.__name__}.{name} as {caller}"


def test_a_forged_role_in_state_changes_nothing(users, tokens, monkeypatch) -> None:
    """The display vars a browser could see are never consulted: only the session decides."""
    from state.admin_users import AdminUsersState

    monkeypatch.setattr(guard, "_event_denial", lambda state, rule, principal: DENIED)
    state = _state_for(AdminUsersState, tokens("user"))
    state.user_role = "admin"
    state.signed_in = True
    assert _run(AdminUsersState.event_handlers["load"].fn(state)) == [DENIED]
    assert state.rows == []
