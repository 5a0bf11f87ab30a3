"""Catalog query and page cache: one versioned namespace, bumped after every committed write.

Every cached entry's key carries the namespace version, so a write makes all of them
unreachable at once (one INCR, shared by all workers through Redis) instead of hunting keys.
The bump runs *after* the database commit: a reader between the write and the bump can only
refill the old namespace, which nobody reads afterwards. Download counts are the exception:
they do not bump (a click must not empty the cache); cards show them at most TTL seconds late.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from typing import TypeVar

import redis
from pydantic import BaseModel
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.cache import get_cache

log = logging.getLogger("lorastudio.catalog.cache")

NAMESPACE_KEY = "catalog:ns"
TTL_S = 60.0
_DIRTY = "catalog_dirty"

M = TypeVar("M", bound=BaseModel)


def namespace() -> str:
    try:
        value = get_cache().get(NAMESPACE_KEY)
    except redis.RedisError:
        return "down"
    return value.decode() if value else "0"


def invalidate() -> None:
    try:
        get_cache().incr(NAMESPACE_KEY)
    except redis.RedisError as exc:  # the entries still expire after TTL_S
        log.warning("could not invalidate the catalog cache: %s", exc)


def key_for(kind: str, params: object) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"catalog:{namespace()}:{kind}:{digest}"


def cached(kind: str, params: object, model: type[M], load: Callable[[], M | None]) -> M | None:
    """The cached value of `load()` (None results are cached too, as a miss marker)."""
    key = key_for(kind, params)
    cache = get_cache()
    if not key.startswith("catalog:down:"):
        try:
            raw = cache.get(key)
        except redis.RedisError:
            raw = None
        if raw is not None:
            return None if raw == b"null" else model.model_validate_json(raw)
    value = load()
    if not key.startswith("catalog:down:"):
        with contextlib.suppress(redis.RedisError):
            cache.set(key, b"null" if value is None else value.model_dump_json().encode(), ttl=TTL_S)
    return value


def mark_changed(session: Session) -> None:
    """Call in every catalog write: the namespace is bumped when this session commits."""
    session.info[_DIRTY] = True


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    if session.info.pop(_DIRTY, False):
        invalidate()


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, previous_transaction: object) -> None:
    session.info.pop(_DIRTY, None)
