"""What the dashboards and the adapter page show, computed from the rollups only (never from raw
events), so a dashboard costs the same with a thousand events or a billion.

Days are UTC. Percentiles come from the rollups' histograms: within 1% of the exact value of the
same rank (see sketch.py). Creator views pass the adapter ids they may see.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from app.analytics import rollups, sketch
from app.analytics.schema import GpuVendor
from app.models.analytics import AnalyticsRollup

R = AnalyticsRollup.__table__
GENERATION = "generation_finished"
OPERATIONS = ("model_download", "engine_init", "lora_load", GENERATION)
MAX_RANGE_DAYS = 400
ACTIVE_METRICS = (rollups.ACTIVE_USERS, rollups.ACTIVE_SESSIONS)


@dataclasses.dataclass(frozen=True)
class DateRange:
    """Whole UTC days, both ends included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the range ends before it starts")
        if (self.end - self.start).days >= MAX_RANGE_DAYS:
            raise ValueError(f"a range covers at most {MAX_RANGE_DAYS} days")

    @classmethod
    def last_days(cls, days: int, *, today: date | None = None) -> DateRange:
        today = today or datetime.now(UTC).date()
        return cls(today - timedelta(days=days - 1), today)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        start = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        return start, start + timedelta(days=(self.end - self.start).days + 1)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclasses.dataclass
class DailyActivity:
    day: date
    active_users: int = 0
    active_sessions: int = 0
    chats: int = 0
    model_loads: int = 0
    page_views: int = 0
    errors: int = 0


@dataclasses.dataclass
class AdapterUsage:
    adapter_id: str
    chats: int
    completed: int
    output_tokens: int
    lora_loads: int


@dataclasses.dataclass
class Performance:
    key: str
    samples: int
    ttft_p50_ms: float | None
    ttft_p90_ms: float | None
    decode_p50_tps: float | None
    decode_p90_tps: float | None
    prefill_mean_tps: float | None


@dataclasses.dataclass
class ErrorRate:
    kind: str
    count: int
    rate: float  # errors of this kind per tracked operation (download, init, LoRA load, generation)


@dataclasses.dataclass
class CapabilityGap:
    capability: str
    count: int
    share: float  # of all capability checks in the range


@dataclasses.dataclass
class Dashboard:
    date_range: DateRange
    activity: list[DailyActivity]
    top_adapters: list[AdapterUsage]
    performance_by_adapter: list[Performance]
    performance_by_gpu: list[Performance]
    errors: list[ErrorRate]
    capability_gaps: list[CapabilityGap]
    capability_checks: int


def _scope(adapter_ids: Sequence[str] | None) -> tuple[str, list[str] | None]:
    return (rollups.DIM_ALL, None) if adapter_ids is None else (rollups.DIM_ADAPTER, sorted(set(adapter_ids)))


def _where(grain: str, dim: str, start: datetime, end: datetime, keys: list[str] | None) -> list[Any]:
    clauses = [R.c.grain == grain, R.c.dim == dim, R.c.bucket >= start, R.c.bucket < end]
    if keys is not None:
        clauses.append(R.c.dim_key.in_(keys))
    return clauses


def _as_date(bucket: datetime) -> date:
    return (bucket if bucket.tzinfo else bucket.replace(tzinfo=UTC)).astimezone(UTC).date()


def _daily_counts(
    session: Session, *, date_range: DateRange, adapter_ids: Sequence[str] | None, creator_id: int | None = None
) -> dict[tuple[date, str], int]:
    """Every metric's count per day for the scope: one query behind activity, errors and gaps.

    With `creator_id`, active users/sessions come from the creator's own distinct counters (a
    person using two of their adapters counts once) instead of the per-adapter sums."""
    dim, keys = _scope(adapter_ids)
    if keys == []:
        return {}
    start, end = date_range.bounds
    where: Any = sa.and_(*_where("d", dim, start, end, keys))
    if keys is not None and creator_id is not None:
        active = R.c.metric.in_(ACTIVE_METRICS)
        where = sa.or_(
            sa.and_(where, ~active),
            sa.and_(*_where("d", rollups.DIM_CREATOR, start, end, [str(creator_id)]), active),
        )
    query = sa.select(R.c.bucket, R.c.metric, sa.func.sum(R.c.count)).where(where).group_by(R.c.bucket, R.c.metric)
    return {(_as_date(bucket), metric): int(total) for bucket, metric, total in session.execute(query)}


def _totals(counts: dict[tuple[date, str], int]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for (_day, metric), value in counts.items():
        totals[metric] += value
    return totals


_ACTIVITY = {
    rollups.ACTIVE_USERS: "active_users",
    rollups.ACTIVE_SESSIONS: "active_sessions",
    GENERATION: "chats",
    "engine_init": "model_loads",
    "page_view": "page_views",
    "error": "errors",
}


def _activity(counts: dict[tuple[date, str], int], date_range: DateRange) -> list[DailyActivity]:
    out = []
    for day in date_range.days():
        row = DailyActivity(day)
        for metric, field in _ACTIVITY.items():
            setattr(row, field, counts.get((day, metric), 0))
        out.append(row)
    return out


def _errors(totals: dict[str, int]) -> list[ErrorRate]:
    operations = sum(totals.get(name, 0) for name in OPERATIONS)
    rows = [
        ErrorRate(kind=metric.removeprefix("error:"), count=count, rate=count / operations if operations else 0.0)
        for metric, count in totals.items()
        if metric.startswith("error:")
    ]
    return sorted(rows, key=lambda row: (-row.count, row.kind))


def _gaps(totals: dict[str, int]) -> tuple[list[CapabilityGap], int]:
    checks = totals.get("capability_check", 0)
    rows = [
        CapabilityGap(capability=metric.split(":", 1)[1], count=count, share=count / checks if checks else 0.0)
        for metric, count in totals.items()
        if metric.startswith("capability_missing:")
    ]
    return sorted(rows, key=lambda row: (-row.count, row.capability)), checks


def activity(
    session: Session,
    *,
    date_range: DateRange,
    adapter_ids: Sequence[str] | None = None,
    creator_id: int | None = None,
) -> list[DailyActivity]:
    """Per day: active users and sessions, chats, model loads, page views, errors.

    Whole site and a creator's view (`creator_id` with their `adapter_ids`): exact distinct
    counts. For a bare set of adapters, active users/sessions are summed per adapter.
    """
    counts = _daily_counts(session, date_range=date_range, adapter_ids=adapter_ids, creator_id=creator_id)
    return _activity(counts, date_range)


def error_rates(
    session: Session, *, date_range: DateRange, adapter_ids: Sequence[str] | None = None
) -> list[ErrorRate]:
    return _errors(_totals(_daily_counts(session, date_range=date_range, adapter_ids=adapter_ids)))


def capability_gaps(
    session: Session, *, date_range: DateRange, adapter_ids: Sequence[str] | None = None
) -> tuple[list[CapabilityGap], int]:
    """What failed capability checks lacked, and how many checks there were."""
    return _gaps(_totals(_daily_counts(session, date_range=date_range, adapter_ids=adapter_ids)))


_PERFORMANCE_COLUMNS = (R.c.dim_key, R.c.count, R.c.prefill_n, R.c.prefill_sum, R.c.ttft_hist, R.c.decode_hist)


def _generation_rows(session: Session, *, date_range: DateRange, dim: str, keys: list[str] | None) -> list[Any]:
    """Daily generation rows with their histograms (one per key and day)."""
    start, end = date_range.bounds
    clauses = [*_where("d", dim, start, end, keys), R.c.metric == GENERATION]
    return list(session.execute(sa.select(*_PERFORMANCE_COLUMNS).where(*clauses)))


def _top(session: Session, *, date_range: DateRange, keys: list[str] | None, limit: int) -> list[AdapterUsage]:
    start, end = date_range.bounds
    query = (
        sa.select(
            R.c.dim_key, R.c.metric, sa.func.sum(R.c.count), sa.func.sum(R.c.ok_count), sa.func.sum(R.c.out_tokens_sum)
        )
        .where(*_where("d", rollups.DIM_ADAPTER, start, end, keys), R.c.metric.in_([GENERATION, "lora_load"]))
        .group_by(R.c.dim_key, R.c.metric)
    )
    usage: dict[str, AdapterUsage] = {}
    for key, metric, count, ok, tokens in session.execute(query):
        item = usage.setdefault(key, AdapterUsage(key, 0, 0, 0, 0))
        if metric == GENERATION:
            item.chats, item.completed, item.output_tokens = int(count), int(ok), int(tokens)
        else:
            item.lora_loads = int(count)
    return sorted(usage.values(), key=lambda row: (-row.chats, -row.lora_loads, row.adapter_id))[:limit]


def _performance(rows: list[Any], group_of: Any = None) -> list[Performance]:
    """Per group (the row's key, or `group_of(key)`): counts, mean prefill, TTFT/decode p50 and p90."""
    groups = [row.dim_key if group_of is None else group_of(row.dim_key) for row in rows]
    ttft = sketch.grouped_quantiles(groups, [row.ttft_hist for row in rows], (0.5, 0.9))
    decode = sketch.grouped_quantiles(groups, [row.decode_hist for row in rows], (0.5, 0.9))
    samples: dict[Any, int] = defaultdict(int)
    prefill_n: dict[Any, int] = defaultdict(int)
    prefill_sum: dict[Any, float] = defaultdict(float)
    for group, row in zip(groups, rows):
        samples[group] += row.count
        prefill_n[group] += row.prefill_n
        prefill_sum[group] += row.prefill_sum
    out = [
        Performance(
            key=group,
            samples=samples[group],
            ttft_p50_ms=ttft[group][0],
            ttft_p90_ms=ttft[group][1],
            decode_p50_tps=decode[group][0],
            decode_p90_tps=decode[group][1],
            prefill_mean_tps=prefill_sum[group] / prefill_n[group] if prefill_n[group] else None,
        )
        for group in samples
    ]
    return sorted(out, key=lambda row: (-row.samples, row.key))


def top_adapters(
    session: Session, *, date_range: DateRange, adapter_ids: Sequence[str] | None = None, limit: int = 10
) -> list[AdapterUsage]:
    keys = None if adapter_ids is None else sorted(set(adapter_ids))
    return [] if keys == [] else _top(session, date_range=date_range, keys=keys, limit=limit)


def performance_by_adapter(
    session: Session, *, date_range: DateRange, adapter_ids: Sequence[str] | None = None
) -> list[Performance]:
    keys = None if adapter_ids is None else sorted(set(adapter_ids))
    if keys == []:
        return []
    return _performance(_generation_rows(session, date_range=date_range, dim=rollups.DIM_ADAPTER, keys=keys))


def performance_by_gpu(
    session: Session, *, date_range: DateRange, adapter_ids: Sequence[str] | None = None
) -> list[Performance]:
    """By GPU vendor: whole site, or (for a creator) only the generations on their adapters."""
    if adapter_ids is None:
        return _performance(_generation_rows(session, date_range=date_range, dim=rollups.DIM_GPU, keys=None))
    owned = sorted(set(adapter_ids))
    if not owned:
        return []
    keys = [rollups.adapter_gpu_key(adapter, vendor.value) for adapter in owned for vendor in GpuVendor]
    rows = _generation_rows(session, date_range=date_range, dim=rollups.DIM_ADAPTER_GPU, keys=keys)
    return _performance(rows, group_of=lambda key: key.rpartition("|")[2])


def _hist_agg(column: Any, label: str) -> Any:
    """Concatenated histograms of a group (PostgreSQL): a blob is a run of (index, count)
    records, so concatenation is a valid unmerged histogram that sketch.grouped_quantiles adds up."""
    return sa.func.string_agg(column, sa.literal(b"", sa.LargeBinary)).label(label)


def _dashboard_query(
    session: Session, *, date_range: DateRange, adapter_ids: list[str] | None, creator_id: int | None
) -> Any:
    """The whole dashboard as one statement (one round trip), three parts:

    c: every metric's count per day (activity, errors, capability gaps);
    a: per adapter, generation and LoRA-load sums and histograms (top adapters, speed by adapter);
    g: per GPU vendor, generation sums and histograms (site: vendor rows; creator: adapter x vendor).

    On PostgreSQL the parts are grouped in the database (histograms concatenated with
    string_agg), so a 30-day dashboard returns a few hundred rows whatever the traffic; on SQLite
    the histogram parts come per row and Python adds them up (same result).
    """
    start, end = date_range.bounds
    pg = session.get_bind().dialect.name == "postgresql"
    scope_dim = rollups.DIM_ALL if adapter_ids is None else rollups.DIM_ADAPTER
    counts_where: Any = sa.and_(*_where("d", scope_dim, start, end, adapter_ids))
    if adapter_ids is not None and creator_id is not None:
        active = R.c.metric.in_(ACTIVE_METRICS)
        counts_where = sa.or_(
            sa.and_(counts_where, ~active),
            sa.and_(*_where("d", rollups.DIM_CREATOR, start, end, [str(creator_id)]), active),
        )
    null_bytes = sa.cast(sa.null(), sa.LargeBinary)
    zero = sa.literal(0, sa.BigInteger)
    zero_f = sa.cast(sa.literal(0.0), sa.Float)
    counts = (
        sa.select(
            sa.literal("c").label("part"),
            R.c.bucket.label("bucket"),
            sa.literal("").label("key"),
            R.c.metric.label("metric"),
            sa.func.sum(R.c.count).label("n"),
            zero.label("ok"),
            zero.label("tokens"),
            zero.label("prefill_n"),
            zero_f.label("prefill_sum"),
            null_bytes.label("ttft"),
            null_bytes.label("decode"),
        )
        .where(counts_where)
        .group_by(R.c.bucket, R.c.metric)
    )

    def hist_part(part: str, dim: str, keys: list[str] | None, metric: str, key_expr: Any) -> Any:
        # One metric per part: an equality the (grain, dim, metric, bucket) index takes whole.
        where = [*_where("d", dim, start, end, keys), R.c.metric == metric]
        if pg:
            return (
                sa.select(
                    sa.literal(part).label("part"),
                    sa.cast(sa.null(), R.c.bucket.type).label("bucket"),
                    key_expr.label("key"),
                    R.c.metric.label("metric"),
                    sa.func.sum(R.c.count).label("n"),
                    sa.func.sum(R.c.ok_count).label("ok"),
                    sa.func.sum(R.c.out_tokens_sum).label("tokens"),
                    sa.func.sum(R.c.prefill_n).label("prefill_n"),
                    sa.func.sum(R.c.prefill_sum).label("prefill_sum"),
                    _hist_agg(R.c.ttft_hist, "ttft"),
                    _hist_agg(R.c.decode_hist, "decode"),
                )
                .where(*where)
                .group_by(key_expr, R.c.metric)
            )
        return sa.select(
            sa.literal(part).label("part"),
            sa.cast(sa.null(), R.c.bucket.type).label("bucket"),
            R.c.dim_key.label("key"),
            R.c.metric.label("metric"),
            R.c.count.label("n"),
            R.c.ok_count.label("ok"),
            R.c.out_tokens_sum.label("tokens"),
            R.c.prefill_n.label("prefill_n"),
            R.c.prefill_sum.label("prefill_sum"),
            R.c.ttft_hist.label("ttft"),
            R.c.decode_hist.label("decode"),
        ).where(*where)

    parts = [
        counts,
        hist_part("a", rollups.DIM_ADAPTER, adapter_ids, GENERATION, R.c.dim_key),
        hist_part("a", rollups.DIM_ADAPTER, adapter_ids, "lora_load", R.c.dim_key),
    ]
    if adapter_ids is None:
        parts.append(hist_part("g", rollups.DIM_GPU, None, GENERATION, R.c.dim_key))
    else:
        keys = [rollups.adapter_gpu_key(adapter, vendor.value) for adapter in adapter_ids for vendor in GpuVendor]
        vendor_of = sa.func.split_part(R.c.dim_key, "|", 2) if pg else R.c.dim_key
        parts.append(hist_part("g", rollups.DIM_ADAPTER_GPU, keys, GENERATION, vendor_of))
    return sa.union_all(*parts)


@dataclasses.dataclass
class _Group:
    """Sums and histogram pieces of one adapter or vendor, added up from the dashboard rows."""

    samples: int = 0
    completed: int = 0
    tokens: int = 0
    prefill_n: int = 0
    prefill_sum: float = 0.0
    lora_loads: int = 0


def _performance_of(
    groups: dict[str, _Group], keys: list[str], ttft: list[Any], decode: list[Any]
) -> list[Performance]:
    ttft_q = sketch.grouped_quantiles(keys, ttft, (0.5, 0.9))
    decode_q = sketch.grouped_quantiles(keys, decode, (0.5, 0.9))
    out = [
        Performance(
            key=key,
            samples=group.samples,
            ttft_p50_ms=ttft_q.get(key, [None, None])[0],
            ttft_p90_ms=ttft_q.get(key, [None, None])[1],
            decode_p50_tps=decode_q.get(key, [None, None])[0],
            decode_p90_tps=decode_q.get(key, [None, None])[1],
            prefill_mean_tps=group.prefill_sum / group.prefill_n if group.prefill_n else None,
        )
        for key, group in groups.items()
        if group.samples
    ]
    return sorted(out, key=lambda row: (-row.samples, row.key))


def dashboard(
    session: Session,
    *,
    date_range: DateRange,
    adapter_ids: Sequence[str] | None = None,
    creator_id: int | None = None,
    top: int = 10,
) -> Dashboard:
    """Everything the admin dashboard (adapter_ids=None) or a creator's view (their adapter_ids
    and creator_id) shows, in one query (see _dashboard_query)."""
    keys = None if adapter_ids is None else sorted(set(adapter_ids))
    if keys == []:
        return Dashboard(date_range, _activity({}, date_range), [], [], [], [], [], 0)
    query = _dashboard_query(session, date_range=date_range, adapter_ids=keys, creator_id=creator_id)
    counts: dict[tuple[date, str], int] = defaultdict(int)
    parts: dict[str, dict[str, _Group]] = {"a": {}, "g": {}}
    hist_keys: dict[str, list[str]] = {"a": [], "g": []}
    ttft: dict[str, list[Any]] = {"a": [], "g": []}
    decode: dict[str, list[Any]] = {"a": [], "g": []}
    for part, bucket, key, metric, n, ok, tokens, prefill_n, prefill_sum, ttft_blob, decode_blob in session.execute(
        query
    ).all():
        if part == "c":
            counts[(_as_date(bucket), metric)] += int(n)
            continue
        if part == "g":
            key = key.rpartition("|")[2]  # adapter x vendor rows (SQLite): the vendor
        group = parts[part].setdefault(key, _Group())
        if metric == GENERATION:
            group.samples += int(n)
            group.completed += int(ok)
            group.tokens += int(tokens)
            group.prefill_n += int(prefill_n)
            group.prefill_sum += float(prefill_sum)
            hist_keys[part].append(key)
            ttft[part].append(ttft_blob)
            decode[part].append(decode_blob)
        else:
            group.lora_loads += int(n)
    totals = _totals(counts)
    gaps, checks = _gaps(totals)
    usage = [
        AdapterUsage(key, group.samples, group.completed, group.tokens, group.lora_loads)
        for key, group in parts["a"].items()
    ]
    return Dashboard(
        date_range=date_range,
        activity=_activity(counts, date_range),
        top_adapters=sorted(usage, key=lambda row: (-row.chats, -row.lora_loads, row.adapter_id))[:top],
        performance_by_adapter=_performance_of(parts["a"], hist_keys["a"], ttft["a"], decode["a"]),
        performance_by_gpu=_performance_of(parts["g"], hist_keys["g"], ttft["g"], decode["g"]),
        errors=_errors(totals),
        capability_gaps=gaps,
        capability_checks=checks,
    )


@dataclasses.dataclass
class HourlyPoint:
    hour: datetime
    events: int
    chats: int
    ttft_p50_ms: float | None
    decode_p50_tps: float | None


def hourly(session: Session, *, start: datetime, end: datetime) -> list[HourlyPoint]:
    """Whole-site events and chat speed per hour, from the hourly rollups."""
    clauses = _where("h", rollups.DIM_ALL, start, end, None)
    query = sa.select(R.c.bucket, R.c.metric, R.c.count, R.c.ttft_hist, R.c.decode_hist).where(
        *clauses, ~R.c.metric.contains(":")
    )
    points: dict[datetime, HourlyPoint] = {}
    for bucket, metric, count, ttft, decode in session.execute(query):
        bucket = bucket if bucket.tzinfo else bucket.replace(tzinfo=UTC)
        point = points.setdefault(bucket, HourlyPoint(bucket, 0, 0, None, None))
        point.events += int(count)
        if metric == GENERATION:
            point.chats = int(count)
            point.ttft_p50_ms = sketch.quantile(ttft, 0.5)
            point.decode_p50_tps = sketch.quantile(decode, 0.5)
    return [points[hour] for hour in sorted(points)]


# -- public performance fact -------------------------------------------------------------------


@dataclasses.dataclass
class PerformanceFact:
    adapter_id: str
    gpu_vendor: str
    samples: int  # generations with a decode speed
    sessions: int  # distinct chat sessions, counted per day and summed over the days
    median_decode_tps: float
    days: int


def performance_facts(
    session: Session,
    *,
    adapter_id: str,
    min_samples: int,
    min_sessions: int = 1,
    days: int = 30,
    today: date | None = None,
) -> list[PerformanceFact]:
    """ "Typical speed on devices like yours", for every GPU vendor at once (one query): median
    decode tokens/s for this adapter over the last `days` days, only for vendors with at least
    `min_samples` generations from at least `min_sessions` distinct chat sessions, so a figure
    never describes one person's machine. Sorted by samples, most first."""
    start, end = DateRange.last_days(days, today=today).bounds
    keys = [rollups.adapter_gpu_key(adapter_id, vendor.value) for vendor in GpuVendor]
    where = [
        *_where("d", rollups.DIM_ADAPTER_GPU, start, end, keys),
        R.c.metric.in_([GENERATION, rollups.ACTIVE_SESSIONS]),
    ]
    if session.get_bind().dialect.name == "postgresql":  # one row per vendor and metric
        query = (
            sa.select(R.c.dim_key, R.c.metric, sa.func.sum(R.c.count), _hist_agg(R.c.decode_hist, "decode"))
            .where(*where)
            .group_by(R.c.dim_key, R.c.metric)
        )
    else:
        query = sa.select(R.c.dim_key, R.c.metric, R.c.count, R.c.decode_hist).where(*where)
    sessions: dict[str, int] = defaultdict(int)
    groups: list[str] = []
    blobs: list[bytes | None] = []
    for key, metric, count, decode in session.execute(query).all():
        vendor = key.rpartition("|")[2]
        if metric == rollups.ACTIVE_SESSIONS:
            sessions[vendor] += int(count)
        else:
            groups.append(vendor)
            blobs.append(decode)
    samples: dict[str, int] = defaultdict(int)
    for vendor, blob in zip(groups, blobs):
        samples[vendor] += sketch.total(blob)
    medians = sketch.grouped_quantiles(groups, blobs, (0.5,))
    out = [
        PerformanceFact(adapter_id, vendor, samples[vendor], sessions[vendor], medians[vendor][0], days)  # type: ignore[arg-type]
        for vendor in samples
        if samples[vendor] >= min_samples and sessions[vendor] >= min_sessions and medians[vendor][0] is not None
    ]
    return sorted(out, key=lambda fact: (-fact.samples, fact.gpu_vendor))


def performance_fact(
    session: Session,
    *,
    adapter_id: str,
    gpu_vendor: str,
    min_samples: int,
    min_sessions: int = 1,
    days: int = 30,
    today: date | None = None,
) -> PerformanceFact | None:
    """One vendor's figure from `performance_facts`, or None while there is not enough data."""
    facts = performance_facts(
        session, adapter_id=adapter_id, min_samples=min_samples, min_sessions=min_sessions, days=days, today=today
    )
    return next((fact for fact in facts if fact.gpu_vendor == gpu_vendor), None)


# -- CSV ---------------------------------------------------------------------------------------


def to_csv(rows: Sequence[Any]) -> str:
    """Any dashboard table (a list of these dataclasses) as CSV, header from the field names."""
    if not rows:
        return ""
    fields = [field.name for field in dataclasses.fields(rows[0])]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name in fields])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return "" if value is None else value
