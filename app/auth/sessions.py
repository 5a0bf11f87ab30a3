"""Server-side sessions: the cookie holds a random token, the server holds what it means.

Stored in Redis when REDIS_URL is set (shared by every worker), else in the `auth_session` table.
Only the SHA-256 of a token is stored. A session ends at the first of: sign-out (revoke), idle
timeout (no request for SESSION_IDLE_TIMEOUT_S), absolute timeout (SESSION_ABSOLUTE_TIMEOUT_S
after sign-in), "sign out everywhere", a password change (other sessions), or the account being
disabled or deleted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.models import AuthSession
from app.models.base import utcnow
from app.settings import get_settings

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 128  # anything longer in a cookie is not ours
REDIS_PREFIX = "lorastudio:sess:"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    id: str  # sha256 of the token, never the token itself
    user_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str = ""
    ip: str = ""


class SessionStore(Protocol):
    idle: timedelta
    absolute: timedelta

    def create(self, user_id: int, *, user_agent: str = "", ip: str = "") -> tuple[str, SessionInfo]: ...
    def resolve(self, token: str) -> SessionInfo | None: ...
    def revoke(self, token: str) -> None: ...
    def revoke_all(self, user_id: int, *, keep_token: str | None = None) -> int: ...
    def list_for_user(self, user_id: int) -> list[SessionInfo]: ...


class _Timing:
    def __init__(self, *, idle_s: int | None, absolute_s: int | None, clock: Callable[[], datetime] | None) -> None:
        settings = get_settings()
        self.idle = timedelta(seconds=idle_s or settings.session_idle_timeout_s)
        self.absolute = timedelta(seconds=absolute_s or settings.session_absolute_timeout_s)
        self.clock = clock or utcnow
        # Refresh last-seen at most this often, so a busy page is not a write per event.
        self.touch_every = min(timedelta(seconds=60), self.idle / 10)

    def alive(self, info: SessionInfo, now: datetime) -> bool:
        return now < info.expires_at and now < info.last_seen_at + self.idle

    def new_info(self, user_id: int, user_agent: str, ip: str) -> tuple[str, SessionInfo]:
        token = new_token()
        now = self.clock()
        info = SessionInfo(
            id=token_id(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.absolute,
            user_agent=user_agent[:200],
            ip=ip[:64],
        )
        return token, info


def _usable(token: str | None) -> bool:
    return bool(token) and len(token) <= MAX_TOKEN_LENGTH  # type: ignore[arg-type]


class DatabaseSessionStore(_Timing):
    def __init__(
        self,
        engine: Engine,
        *,
        idle_s: int | None = None,
        absolute_s: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(idle_s=idle_s, absolute_s=absolute_s, clock=clock)
        self.engine = engine

    def create(self, user_id: int, *, user_agent: str = "", ip: str = "") -> tuple[str, SessionInfo]:
        token, info = self.new_info(user_id, user_agent, ip)
        with Session(self.engine) as db:
            now = info.created_at
            db.exec(  # type: ignore[call-overload]
                sa.delete(AuthSession).where(
                    sa.or_(AuthSession.expires_at <= now, AuthSession.last_seen_at <= now - self.idle)
                )
            )
            db.add(AuthSession(**asdict(info)))
            db.commit()
        return token, info

    def resolve(self, token: str) -> SessionInfo | None:
        if not _usable(token):
            return None
        with Session(self.engine) as db:
            row = db.get(AuthSession, token_id(token))
            if row is None:
                return None
            info = SessionInfo(**row.model_dump())
            now = self.clock()
            if not self.alive(info, now):
                db.delete(row)
                db.commit()
                return None
            if now - info.last_seen_at >= self.touch_every:
                row.last_seen_at = now
                db.add(row)
                db.commit()
                info = SessionInfo(**{**asdict(info), "last_seen_at": now})
            return info

    def revoke(self, token: str) -> None:
        if not _usable(token):
            return
        with Session(self.engine) as db:
            db.exec(sa.delete(AuthSession).where(AuthSession.id == token_id(token)))  # type: ignore[call-overload]
            db.commit()

    def revoke_all(self, user_id: int, *, keep_token: str | None = None) -> int:
        with Session(self.engine) as db:
            query = sa.delete(AuthSession).where(AuthSession.user_id == user_id)
            if keep_token:
                query = query.where(AuthSession.id != token_id(keep_token))
            result = db.exec(query)  # type: ignore[call-overload]
            db.commit()
            return int(result.rowcount or 0)

    def list_for_user(self, user_id: int) -> list[SessionInfo]:
        now = self.clock()
        with Session(self.engine) as db:
            rows = db.exec(select(AuthSession).where(AuthSession.user_id == user_id)).all()
            infos = [SessionInfo(**row.model_dump()) for row in rows]
        return sorted((i for i in infos if self.alive(i, now)), key=lambda i: i.last_seen_at, reverse=True)


class RedisSessionStore(_Timing):
    def __init__(
        self,
        url: str,
        *,
        idle_s: int | None = None,
        absolute_s: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(idle_s=idle_s, absolute_s=absolute_s, clock=clock)
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    @staticmethod
    def _key(session_id: str) -> str:
        return f"{REDIS_PREFIX}{session_id}"

    @staticmethod
    def _user_key(user_id: int) -> str:
        return f"{REDIS_PREFIX}user:{user_id}"

    def _ttl_ms(self, info: SessionInfo, now: datetime) -> int:
        remaining = min(info.expires_at - now, info.last_seen_at + self.idle - now)
        return max(int(remaining.total_seconds() * 1000), 1)

    @staticmethod
    def _dump(info: SessionInfo) -> str:
        data = asdict(info)
        for name in ("created_at", "last_seen_at", "expires_at"):
            data[name] = data[name].isoformat()
        return json.dumps(data)

    @staticmethod
    def _load(raw: bytes) -> SessionInfo:
        data = json.loads(raw)
        for name in ("created_at", "last_seen_at", "expires_at"):
            data[name] = datetime.fromisoformat(data[name])
        return SessionInfo(**data)

    def create(self, user_id: int, *, user_agent: str = "", ip: str = "") -> tuple[str, SessionInfo]:
        token, info = self.new_info(user_id, user_agent, ip)
        pipe = self.client.pipeline()
        pipe.set(self._key(info.id), self._dump(info), px=self._ttl_ms(info, info.created_at))
        pipe.sadd(self._user_key(user_id), info.id)
        pipe.expire(self._user_key(user_id), int(self.absolute.total_seconds()), gt=True)
        pipe.expire(self._user_key(user_id), int(self.absolute.total_seconds()), nx=True)
        pipe.execute()
        return token, info

    def resolve(self, token: str) -> SessionInfo | None:
        if not _usable(token):
            return None
        key = self._key(token_id(token))
        raw = self.client.get(key)
        if raw is None:
            return None
        info = self._load(raw)
        now = self.clock()
        if not self.alive(info, now):
            self.client.delete(key)
            return None
        if now - info.last_seen_at >= self.touch_every:
            info = SessionInfo(**{**asdict(info), "last_seen_at": now})
            # XX: never resurrect a session revoked between our read and this write.
            self.client.set(key, self._dump(info), px=self._ttl_ms(info, now), xx=True)
        return info

    def revoke(self, token: str) -> None:
        if not _usable(token):
            return
        session_id = token_id(token)
        raw = self.client.getdel(self._key(session_id))
        if raw is not None:
            self.client.srem(self._user_key(self._load(raw).user_id), session_id)

    def revoke_all(self, user_id: int, *, keep_token: str | None = None) -> int:
        keep = token_id(keep_token) if keep_token else None
        ids = [raw.decode() for raw in self.client.smembers(self._user_key(user_id))]
        doomed = [session_id for session_id in ids if session_id != keep]
        if not doomed:
            return 0
        pipe = self.client.pipeline()
        pipe.delete(*(self._key(session_id) for session_id in doomed))
        pipe.srem(self._user_key(user_id), *doomed)
        deleted, _ = pipe.execute()
        return int(deleted)

    def list_for_user(self, user_id: int) -> list[SessionInfo]:
        now = self.clock()
        ids = [raw.decode() for raw in self.client.smembers(self._user_key(user_id))]
        infos = []
        for session_id, raw in zip(ids, self.client.mget([self._key(i) for i in ids]) if ids else []):
            if raw is None:
                self.client.srem(self._user_key(user_id), session_id)
                continue
            info = self._load(raw)
            if self.alive(info, now):
                infos.append(info)
        return sorted(infos, key=lambda i: i.last_seen_at, reverse=True)


def make_session_store(*, redis_url: str | None, engine: Engine | None = None) -> SessionStore:
    if redis_url:
        return RedisSessionStore(redis_url)
    if engine is None:
        from app.db import get_engine

        engine = get_engine()
    return DatabaseSessionStore(engine)


@functools.cache
def get_session_store() -> SessionStore:
    return make_session_store(redis_url=get_settings().redis_url)


def cookie_name() -> str:
    # The __Host- prefix (HTTPS only) makes the browser refuse the cookie unless it is Secure,
    # host-only and Path=/, so a sibling subdomain cannot plant or shadow it.
    return "__Host-ls_session" if get_settings().secure_cookies else "ls_session"


def token_from_cookie_header(header: str) -> str | None:
    """Our session token from a raw Cookie header (what a Reflex event sees of its websocket)."""
    name = cookie_name()
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value.strip('"')
    return None
