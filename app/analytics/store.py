"""The database side of analytics: append raw events and fold them into the rollups, in one
transaction, plus the opt-out setting and the retention purge.

Rollup counters are additive upserts (safe with several writers at once); the histogram
columns are read-merged-written after the upsert has locked their rows. Keys are sorted so
concurrent writers take row locks in the same order.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_json
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.analytics import rollups, sketch, wiring
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
    seen_checked: set[rollups.SeenKey] = dataclasses.field(default_factory=set)


class SeenCache:
    """Subjects this process already counted as active (bounded); saves most dedupe inserts.

    Only updated after a commit, so a rolled-back batch never hides a first sighting.
    """

    def __init__(self, capacity: int = 500_000) -> None:
        self.capacity = capacity
        self._keys: set[rollups.SeenKey] = set()

    def unknown(self, keys: set[rollups.SeenKey]) -> set[rollups.SeenKey]:
        return keys - self._keys

    def remember(self, keys: Iterable[rollups.SeenKey]) -> None:
        if len(self._keys) > self.capacity:
            self._keys.clear()
        self._keys.update(keys)


def _insert(session: Session, table: sa.Table):  # noqa: ANN202 - dialect-specific Insert
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


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


def write_rows(session: Session, rows: list[dict[str, Any]], *, seen_cache: SeenCache | None = None) -> WriteResult:
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
    creators = wiring.adapter_authors(session, {row["adapter_id"] for row in rows if row.get("adapter_id")})
    batch = rollups.compute(rows, creators=creators)
    candidates = seen_cache.unknown(batch.seen) if seen_cache is not None else batch.seen
    batch.add_counts(_insert_seen(session, candidates))
    result.seen_checked = candidates
    _apply_rollups(session, batch)
    result.stored = len(rows)
    return result


def _copy_field(value: Any) -> str:
    """One field in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    if isinstance(value, dict):
        return _copy_field(to_json(value).decode())
    return str(value)


# Placeholders for the fast path: field and row separators, NULL, and the bytea hex prefix.
_FIELD, _ROW, _NULL, _HEX = "\x1f", "\x1e", "\x1d", "\x1c"
_UNSAFE = ("\t", "\n", "\r", "\\")


def _fast_field(value: Any, stamps: dict[datetime, str]) -> str:
    if isinstance(value, datetime):
        text = stamps.get(value)
        if text is None:
            text = stamps[value] = value.isoformat()
        return text
    if isinstance(value, bytes):
        return _HEX + value.hex()
    if isinstance(value, dict):
        return to_json(value).decode()
    return str(value)


def _copy_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows in COPY text format. Validated values hold no tab, newline or backslash: join with
    placeholder characters, check the whole text once, then swap the placeholders in; if the
    check fails (it should not), escape field by field instead."""
    rows = list(rows)
    stamps: dict[datetime, str] = {}
    text = _ROW.join(
        _FIELD.join([v if v.__class__ is str else _NULL if v is None else _fast_field(v, stamps) for v in row])
        for row in rows
    )
    # Structure is safe when no value added a separator (counts match); values are pattern-checked
    # identifiers, enumerations and numbers, so no control character reaches here from a client.
    expected_fields = sum(len(row) - 1 for row in rows)
    if (
        not any(char in text for char in _UNSAFE)
        and text.count(_FIELD) == expected_fields
        and text.count(_ROW) == len(rows) - 1
    ):
        text = text.replace(_FIELD, "\t").replace(_ROW, "\n").replace(_NULL, "\\N").replace(_HEX, "\\\\x")
        return text + "\n"
    return "".join("\t".join(map(_copy_field, row)) + "\n" for row in rows)


def _copy(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    raw = session.connection().connection.driver_connection
    text = _copy_text(rows)
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(text.encode())


def _append_events(session: Session, rows: list[dict[str, Any]]) -> None:
    if _is_postgres(session):
        _copy(session, "analytics_event", EVENT_COLUMNS, ([row[name] for name in EVENT_COLUMNS] for row in rows))
        return
    for start in range(0, len(rows), _CHUNK):
        session.execute(sa.insert(EVENTS), rows[start : start + _CHUNK])


def _pg_staging(session: Session, table: str) -> str:
    """A per-connection temporary copy of `table`, emptied at commit: COPY target for upserts."""
    staging = f"{table}_in"
    session.connection().exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DELETE ROWS"
    )
    return staging


_SEEN_NAMES = ("day", "dim", "dim_key", "subject_kind", "subject")


def _insert_seen(session: Session, seen: set[rollups.SeenKey]) -> dict[rollups.RollupKey, int]:
    """Insert first sightings; returns the daily active counters they add."""
    if not seen:
        return {}
    ordered = sorted(seen)
    if _is_postgres(session):
        staging = _pg_staging(session, "analytics_seen")
        _copy(session, staging, _SEEN_NAMES, ordered)
        names = ", ".join(_SEEN_NAMES)
        result = session.connection().exec_driver_sql(
            f"WITH new AS (INSERT INTO analytics_seen ({names}) SELECT {names} FROM {staging} "  # noqa: S608
            f"ORDER BY {names} ON CONFLICT DO NOTHING RETURNING day, dim, dim_key, subject_kind) "
            "SELECT day, dim, dim_key, subject_kind, count(*) FROM new GROUP BY day, dim, dim_key, subject_kind"
        )
        return {
            ("d", dim, rollups.ACTIVE_SESSIONS if kind == "s" else rollups.ACTIVE_USERS, _utc(day), key): int(n)
            for day, dim, key, kind, n in result
        }
    stmt = _insert(session, SEEN).on_conflict_do_nothing().returning(*(SEEN.c[name] for name in _SEEN_NAMES))
    new: list[rollups.SeenKey] = []
    for start in range(0, len(ordered), _CHUNK):
        chunk = [dict(zip(_SEEN_NAMES, key)) for key in ordered[start : start + _CHUNK]]
        new += [(_utc(row[0]), *row[1:]) for row in session.execute(stmt, chunk)]
    return rollups.active_counts(new)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _apply_rollups(session: Session, batch: rollups.Batch) -> None:
    order = batch.sorted_order()  # one lock order for every writer
    if _is_postgres(session):
        _apply_rollups_pg(session, batch, order)
        return
    stmt = _insert(session, ROLLUPS)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(ROLLUP_PK),
        set_={name: ROLLUPS.c[name] + stmt.excluded[name] for name in rollups.ADDITIVE},
    )
    for start in range(0, len(order), _CHUNK):
        chunk = [{**dict(zip(ROLLUP_PK, batch.keys[i])), **batch.columns(i)} for i in order[start : start + _CHUNK]]
        session.execute(stmt, chunk)
    with_hist = [i for i in order if i in batch.ttft or i in batch.decode]
    if not with_hist:
        return
    pk = sa.tuple_(*(ROLLUPS.c[name] for name in ROLLUP_PK))
    index = {batch.keys[i]: i for i in with_hist}
    updates = []
    for start in range(0, len(with_hist), _CHUNK):
        chunk = [batch.keys[i] for i in with_hist[start : start + _CHUNK]]
        query = sa.select(*(ROLLUPS.c[name] for name in ROLLUP_PK), ROLLUPS.c.ttft_hist, ROLLUPS.c.decode_hist)
        for row in session.execute(query.where(pk.in_(chunk))):
            grain, dim, metric, bucket, dim_key = row[:5]
            i = index[(grain, dim, metric, _utc(bucket), dim_key)]
            updates.append(
                {
                    **{f"k_{name}": value for name, value in zip(ROLLUP_PK, row[:5])},
                    "ttft_hist": sketch.merge([row.ttft_hist, batch.ttft.get(i)]) or None,
                    "decode_hist": sketch.merge([row.decode_hist, batch.decode.get(i)]) or None,
                }
            )
    update = (
        sa.update(ROLLUPS)
        .where(*(ROLLUPS.c[name] == sa.bindparam(f"k_{name}") for name in ROLLUP_PK))
        .values(ttft_hist=sa.bindparam("ttft_hist"), decode_hist=sa.bindparam("decode_hist"))
    )
    session.execute(update, updates)


def _apply_rollups_pg(session: Session, batch: rollups.Batch, order: list[int]) -> None:
    """The generic path's result with COPY into a staging table and set-based statements."""
    staging = _pg_staging(session, "analytics_rollup")
    columns = (*ROLLUP_PK, *rollups.ADDITIVE)
    _copy(session, staging, columns, ((*batch.keys[i], *values) for i, values in zip(order, batch.value_rows(order))))
    names = ", ".join(columns)
    updates = ", ".join(f"{name} = analytics_rollup.{name} + EXCLUDED.{name}" for name in rollups.ADDITIVE)
    session.connection().exec_driver_sql(
        f"INSERT INTO analytics_rollup ({names}) SELECT {names} FROM {staging} "  # noqa: S608
        f"ORDER BY grain, dim, metric, bucket, dim_key "
        f"ON CONFLICT (grain, dim, metric, bucket, dim_key) DO UPDATE SET {updates}"
    )
    key_types = "%s::varchar[], %s::varchar[], %s::varchar[], %s::timestamptz[], %s::varchar[]"
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        with_hist = [i for i in order if i in batch.ttft or i in batch.decode]
        if not with_hist:
            return
        hist_keys = [list(column) for column in zip(*(batch.keys[i] for i in with_hist))]
        match = "r.grain = u.g AND r.dim = u.d AND r.metric = u.m AND r.bucket = u.b AND r.dim_key = u.k"
        cursor.execute(
            f"SELECT u.i, r.ttft_hist, r.decode_hist FROM analytics_rollup r JOIN unnest({key_types}, %s::int[]) "  # noqa: S608
            f"AS u(g, d, m, b, k, i) ON {match} ORDER BY u.i FOR UPDATE OF r",
            [*hist_keys, list(range(len(with_hist)))],
        )
        ttft: list[bytes | None] = [None] * len(with_hist)
        decode: list[bytes | None] = [None] * len(with_hist)
        for position, old_ttft, old_decode in cursor.fetchall():
            i = with_hist[position]
            ttft[position] = sketch.merge([old_ttft, batch.ttft.get(i)]) or None
            decode[position] = sketch.merge([old_decode, batch.decode.get(i)]) or None
        cursor.execute(
            f"UPDATE analytics_rollup r SET ttft_hist = u.t, decode_hist = u.c FROM unnest({key_types}, "  # noqa: S608
            f"%s::bytea[], %s::bytea[]) AS u(g, d, m, b, k, t, c) WHERE {match}",
            [*hist_keys, ttft, decode],
        )


def write_with_retry(
    engine: sa.Engine,
    rows: list[dict[str, Any]],
    *,
    entry_ids: Sequence[str] = (),
    seen_cache: SeenCache | None = None,
) -> WriteResult:
    """One transaction; retried on deadlock/serialization failures. Skips stream entries seen before."""
    for attempt in range(5):
        try:
            with Session(engine, expire_on_commit=False) as session, session.begin():
                duplicates = 0
                batch_rows = rows
                if entry_ids:
                    fresh = claim_stream_entries(session, entry_ids)
                    duplicates = len(set(entry_ids)) - len(fresh)
                    batch_rows = [row for row in rows if row.get("_entry") in fresh]
                clean = [{k: v for k, v in row.items() if k != "_entry"} for row in batch_rows]
                written = write_rows(session, clean, seen_cache=seen_cache)
                written.duplicate_entries = duplicates
            if seen_cache is not None:
                seen_cache.remember(written.seen_checked)
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
