"""Who is behind a Reflex event, as the catalog's domain functions need it (an Actor or None)."""

from __future__ import annotations

from typing import Any

from app.catalog.schemas import Actor


def current_actor(state: Any) -> Actor | None:
    """The signed-in user of this event; None until accounts (app.auth) resolve the session here."""
    return None
