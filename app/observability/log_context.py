"""Who and what a log line is about: the request or event id and the user, per task.

The context is a mutable record held in a ContextVar, so a guard deep inside a request can
`bind_user_id()` and the access log written by the outer middleware still sees it.
"""

from __future__ import annotations

import contextvars
import dataclasses
import re
import uuid

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclasses.dataclass
class LogContext:
    request_id: str
    user_id: str | None = None
    kind: str = "http"


_current: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar("lorastudio_log_context", default=None)


def new_request_id(incoming: str | None = None) -> str:
    """Keep a well-formed id from a proxy (X-Request-ID) so logs join up; otherwise make one."""
    if incoming and _REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def start(request_id: str, *, kind: str = "http") -> contextvars.Token[LogContext | None]:
    return _current.set(LogContext(request_id=request_id, kind=kind))


def reset(token: contextvars.Token[LogContext | None]) -> None:
    _current.reset(token)


def current() -> LogContext | None:
    return _current.get()


def bind_user_id(user_id: object) -> None:
    """Attach the acting user's id (never a name, e-mail or token) to the current request/event.

    An event handler runs in its own task with no request context: one is started for it."""
    if user_id is None:
        return
    ctx = _current.get()
    if ctx is None:
        ctx = LogContext(request_id=new_request_id(), kind="event")
        _current.set(ctx)
    ctx.user_id = str(user_id)
