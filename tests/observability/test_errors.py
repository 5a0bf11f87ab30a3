"""Event handlers that hit an unreachable dependency tell the user so; other errors keep
Reflex's default handling."""

from __future__ import annotations

import redis
import sqlalchemy.exc as sa_exc

from app.observability.errors import backend_exception_handler, unavailable_dependency


def test_dependency_errors_are_recognised() -> None:
    down = sa_exc.OperationalError("select 1", {}, Exception("connection refused"))
    assert unavailable_dependency(down) == "database"
    assert unavailable_dependency(sa_exc.TimeoutError("pool exhausted")) == "database"
    assert unavailable_dependency(redis.ConnectionError("refused")) == "cache"
    assert unavailable_dependency(ValueError("bad input")) is None


def test_event_handler_failures_become_a_clear_toast(json_logs) -> None:
    spec = backend_exception_handler(sa_exc.OperationalError("select 1", {}, Exception("refused")))
    rendered = str(spec)
    assert "Temporarily unavailable" in rendered and "database cannot be reached" in rendered
    assert "refused" not in rendered, "no internal detail reaches the browser"
    (line,) = json_logs.records("lorastudio.errors")
    assert line["dependency"] == "database" and line["error"] == "OperationalError"

    other = str(backend_exception_handler(ValueError("boom")))
    assert "An error occurred" in other and "Temporarily unavailable" not in other
