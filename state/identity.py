"""Who is behind a Reflex event, as the catalog's domain functions need it (an Actor or None).

Inside a guarded handler the guard has already resolved the caller from the session cookie of
the event's websocket (never from anything the browser put in the state).
"""

from __future__ import annotations

from typing import Any

from app.auth import guard
from app.catalog.schemas import Actor
from app.routes.access import actor_of


def current_actor(state: Any) -> Actor | None:
    principal = guard.current_principal()
    if principal is None:
        principal = guard.principal_for_state(state)
    return actor_of(principal)
