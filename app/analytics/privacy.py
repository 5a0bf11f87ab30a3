"""What the user asked for: Do Not Track / Global Privacy Control headers, and the account setting."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session

from app.analytics import store
from app.cache import get_cache

OPT_OUT_TTL_S = 24 * 3600


def declined_by_headers(headers: Mapping[str, str]) -> str | None:
    """ "dnt" or "gpc" when the browser signals it does not want to be tracked."""
    if headers.get("sec-gpc", "").strip() == "1":
        return "gpc"
    if headers.get("dnt", "").strip() == "1":
        return "dnt"
    return None


def _key(user_id: int) -> str:
    return f"analytics:optout:{user_id}"


def set_user_opt_out(session: Session, *, user_id: int, opted_out: bool) -> None:
    """Store the choice (and forget the user's raw events when opting out); tell the cache."""
    store.set_opt_out(session, user_id=user_id, opted_out=opted_out)
    get_cache().set(_key(user_id), b"1" if opted_out else b"0", ttl=OPT_OUT_TTL_S)


def user_opted_out(session: Session, *, user_id: int) -> bool:
    return store.is_opted_out(session, user_id=user_id)


def known_opted_out(user_id: int) -> bool:
    """Request-path check from the cache only; the writer re-checks the database before storing."""
    return get_cache().get(_key(user_id)) == b"1"
