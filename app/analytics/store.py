"""The database side of analytics: append raw events and fold them into the rollups, in one
transaction, plus the opt-out setting and the retention purge.

Rollup counters are additive upserts (safe with several writers at once); the histogram
columns are read-merged-written after the upsert has locked their rows. Keys are sorted so
concurrent writers take row locks in the same order.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.analytics import rollups, sketch
from app.analytics.schema import CONTEXT_FIELDS, SCHEMA_VERSION
from app.models.analytics import (
    AnalyticsEvent,
    AnalyticsPreference,
    AnalyticsRollup,
    AnalyticsSeen,
    AnalyticsStreamMark,
)

EVENTS = AnalyticsEvent.__table__
ROLLUPS = AnalyticsRollup.__table__
SEEN = AnalyticsSeen.__table__
PREFERENCES = AnalyticsPreference.__table__
MARKS = AnalyticsStreamMark.__table__
ROLLUP_PK = ("grain", "dim", "metric", "bucket", "dim_key")
EVENT_COLUMNS = ("received_at", *CONTEXT_FIELDS, "user_id", "attrs")
_CHUNK = 2000


def to_row(event: dict[str, Any], *, received_at: datetime, user_id: int | None) -> dict[str, Any]:
    """A validated event (as a dict) flattened into an `analytics_event` row."""
    row = {name: event.get(name) for name in CONTEXT_FIELDS}
    row["v"] = row["v"] or SCHEMA_VERSION
    row["received_at"] = received_at
    row["user_id"] = user_id
    row["attrs"] = {k: v for k, v in event.items() if k not in CONTEXT_FIELDS and k != "user_id"}
    return row


@dataclasses.dataclass
class WriteResult:
    stored: int = 0
    dropped_opted_out: int = 0
    duplicate_entries: int = 0


def _insert(session: Session, table: sa.Table):  # noqa: ANN202 - dialect-specific Insert
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def opted_out_users(session: Session, user_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    query = sa.select(PREFERENCES.c.user_id).where(PREFERENCES.c.user_id.in_(ids), PREFERENCES.c.opted_out)
    return set(session.execute(query).scalars())


def claim_stream_entries(session: Session, entry_ids: Sequence[str]) -> set[str]:
    """Mark Redis stream entries as written; returns those not written before (first delivery)."""
    if not entry_ids:
        return set()
    now = datetime.now(UTC)
    stmt = _insert(session, MARKS).on_conflict_do_nothing().returning(MARKS.c.entry_id)
    rows = [{"entry_id": entry_id, "written_at": now} for entry_id in sorted(set(entry_ids))]
    result = session.execute(stmt, rows)
    return {row[0] for row in result}


def write_rows(session: Session, rows: list[dict[str, Any]]) -> WriteResult:
    """Append rows and update every rollup they touch, inside the caller's transaction."""
    result = WriteResult()
    blocked = opted_out_users(session, (row["user_id"] for row in rows if row["user_id"] is not None))
    if blocked:
        kept = [row for row in rows if row["user_id"] not in blocked]
        result.dropped_opted_out = len(rows) - len(kept)
        rows = kept
    if not rows:
        return result
    _append_events(session, rows)
    deltas, seen = rollups.compute(rows)
    new_seen = _insert_seen(session, seen)
    for key, delta in rollups.active_deltas(new_seen).items():
        deltas.setdefault(key, rollups.Delta()).add(delta)
    _apply_rollups(session, deltas)
    result.stored = len(rows)
    return result


def _append_events(session: Session, rows: list[dict[str, Any]]) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        columns = ", ".join(EVENT_COLUMNS)
        with raw.cursor() as cursor, cursor.copy(f"COPY analytics_event ({columns}) FROM STDIN") as copy:  # noqa: S608
            for row in rows:
                copy.write_row([json.dumps(row["attrs"]) if name == "attrs" else row[name] for name in EVENT_COLUMNS])
        return
    for start in range(0, len(rows), _CHUNK):
        session.execute(sa.insert(EVENTS), rows[start : start + _CHUNK])


def _insert_seen(session: Session, seen: set[rollups.SeenKey]) -> list[rollups.SeenKey]:
    if not seen:
        return []
    names = ("day", "dim", "dim_key", "subject_kind", "subject")
    stmt = _insert(session, SEEN).on_conflict_do_nothing().returning(*(SEEN.c[name] for name in names))
    new: list[rollups.SeenKey] = []
    ordered = sorted(seen)
    for start in range(0, len(ordered), _CHUNK):
        chunk = [dict(zip(names, key)) for key in ordered[start : start + _CHUNK]]
        new += [tuple(row) for row in session.execute(stmt, chunk)]
    return new


def _apply_rollups(session: Session, deltas: dict[rollups.RollupKey, rollups.Delta]) -> None:
    keys = sorted(deltas)
    stmt = _insert(session, ROLLUPS)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(ROLLUP_PK),
        set_={name: ROLLUPS.c[name] + stmt.excluded[name] for name in rollups.ADDITIVE},
    )
    for start in range(0, len(keys), _CHUNK):
        chunk = [{**dict(zip(ROLLUP_PK, key)), **deltas[key].columns()} for key in keys[start : start + _CHUNK]]
        session.execute(stmt, chunk)
    with_hist = [key for key in keys if deltas[key].has_histograms]
    if not with_hist:
        return
    pk = sa.tuple_(*(ROLLUPS.c[name] for name in ROLLUP_PK))
    updates = []
    for start in range(0, len(with_hist), _CHUNK):
        chunk = with_hist[start : start + _CHUNK]
        query = sa.select(*(ROLLUPS.c[name] for name in ROLLUP_PK), ROLLUPS.c.ttft_hist, ROLLUPS.c.decode_hist)
        query = query.where(pk.in_(chunk))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        for row in session.execute(query):
            key = tuple(row[:5])
            ttft, decode = rollups.histograms(deltas[_normalise_key(key)])
            updates.append(
                {
                    **{f"k_{name}": value for name, value in zip(ROLLUP_PK, key)},
                    "ttft_hist": sketch.merge([row.ttft_hist, ttft]) or None,
                    "decode_hist": sketch.merge([row.decode_hist, decode]) or None,
                }
            )
    update = (
        sa.update(ROLLUPS)
        .where(*(ROLLUPS.c[name] == sa.bindparam(f"k_{name}") for name in ROLLUP_PK))
        .values(ttft_hist=sa.bindparam("ttft_hist"), decode_hist=sa.bindparam("decode_hist"))
    )
    session.execute(update, updates)


def _normalise_key(key: tuple) -> rollups.RollupKey:
    """Rows read back carry aware UTC datetimes; delta keys are built the same way."""
    grain, dim, metric, bucket, dim_key = key
    if bucket.tzinfo is None:
        bucket = bucket.replace(tzinfo=UTC)
    return (grain, dim, metric, bucket, dim_key)


def write_with_retry(engine: sa.Engine, rows: list[dict[str, Any]], *, entry_ids: Sequence[str] = ()) -> WriteResult:
    """One transaction; retried on deadlock/serialization failures. Skips stream entries seen before."""
    for attempt in range(5):
        try:
            with Session(engine, expire_on_commit=False) as session, session.begin():
                result = WriteResult()
                if entry_ids:
                    fresh = claim_stream_entries(session, entry_ids)
                    result.duplicate_entries = len(set(entry_ids)) - len(fresh)
                    rows = [row for row in rows if row.get("_entry") in fresh]
                clean = [{k: v for k, v in row.items() if k != "_entry"} for row in rows]
                written = write_rows(session, clean)
                written.duplicate_entries = result.duplicate_entries
                return written
        except DBAPIError as exc:
            if not _retryable(exc) or attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _retryable(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code in {"40P01", "40001"} or "database is locked" in str(exc.orig)


# -- opt-out -----------------------------------------------------------------------------------


def set_opt_out(session: Session, *, user_id: int, opted_out: bool, forget: bool = True) -> None:
    """Record the user's choice; opting out also deletes their raw events (rollups hold no user)."""
    stmt = _insert(session, PREFERENCES)
    now = datetime.now(UTC)
    stmt = stmt.values(user_id=user_id, opted_out=opted_out, updated_at=now).on_conflict_do_update(
        index_elements=["user_id"], set_={"opted_out": opted_out, "updated_at": now}
    )
    session.execute(stmt)
    if opted_out and forget:
        session.execute(sa.delete(EVENTS).where(EVENTS.c.user_id == user_id))


def is_opted_out(session: Session, *, user_id: int) -> bool:
    return bool(opted_out_users(session, [user_id]))


# -- retention ---------------------------------------------------------------------------------


@dataclasses.dataclass
class PurgeResult:
    events: int = 0
    seen: int = 0
    marks: int = 0


def purge(session: Session, *, retention_days: int, now: datetime | None = None, chunk: int = 10_000) -> PurgeResult:
    """Delete raw events past retention (in chunks, so locks stay short) and stale dedupe rows."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=retention_days)
    result = PurgeResult()
    while True:
        ids = sa.select(EVENTS.c.id).where(EVENTS.c.received_at < cutoff).limit(chunk).scalar_subquery()
        deleted = session.execute(sa.delete(EVENTS).where(EVENTS.c.id.in_(ids))).rowcount or 0
        result.events += deleted
        session.commit()
        if deleted < chunk:
            break
    yesterday = rollups.day_of(now) - timedelta(days=1)
    result.seen = session.execute(sa.delete(SEEN).where(SEEN.c.day < yesterday)).rowcount or 0
    old_marks = now - timedelta(days=7)
    result.marks = session.execute(sa.delete(MARKS).where(MARKS.c.written_at < old_marks)).rowcount or 0
    session.commit()
    return result
