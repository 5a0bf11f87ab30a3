"""From accepted events to rollup deltas: what each event adds to which hourly and daily row.

Everything here is pure (no database), so the writer, the rebuild command and the tests
compute rollups the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from app.analytics import sketch

GRAINS = ("h", "d")
DIM_ALL, DIM_ADAPTER, DIM_GPU, DIM_ADAPTER_GPU = "all", "adapter", "gpu", "adapter_gpu"
ACTIVE_SESSIONS, ACTIVE_USERS = "active_sessions", "active_users"
BROWSER_TYPES = frozenset(
    {"page_view", "capability_check", "model_download", "engine_init", "lora_load", "generation_finished", "error"}
)
ADDITIVE = (
    "count",
    "ok_count",
    "duration_n",
    "duration_sum",
    "bytes_sum",
    "in_tokens_sum",
    "out_tokens_sum",
    "prefill_n",
    "prefill_sum",
    "ttft_n",
    "ttft_sum",
    "decode_n",
    "decode_sum",
)

RollupKey = tuple[str, str, str, datetime, str]  # grain, dim, metric, bucket, dim_key (primary-key order)
SeenKey = tuple[datetime, str, str, str, str]  # day, dim, dim_key, subject kind ("s"/"u"), subject


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def day_of(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def adapter_gpu_key(adapter_id: str, vendor: str) -> str:
    return f"{adapter_id}|{vendor}"


@dataclasses.dataclass
class Delta:
    count: int = 0
    ok_count: int = 0
    duration_n: int = 0
    duration_sum: float = 0.0
    bytes_sum: int = 0
    in_tokens_sum: int = 0
    out_tokens_sum: int = 0
    prefill_n: int = 0
    prefill_sum: float = 0.0
    ttft_n: int = 0
    ttft_sum: float = 0.0
    decode_n: int = 0
    decode_sum: float = 0.0
    ttft_values: list[float] = dataclasses.field(default_factory=list)
    decode_values: list[float] = dataclasses.field(default_factory=list)

    def add(self, other: Delta) -> None:
        for name in ADDITIVE:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ttft_values += other.ttft_values
        self.decode_values += other.decode_values

    def columns(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ADDITIVE}

    @property
    def has_histograms(self) -> bool:
        return bool(self.ttft_values or self.decode_values)


def _event_delta(row: dict[str, Any]) -> tuple[Delta, list[str]]:
    """The values one event adds, and the extra per-kind metrics it also counts in."""
    kind, attrs = row["type"], row["attrs"]
    delta = Delta(count=1)
    extra: list[str] = []
    outcome = attrs.get("outcome")
    if outcome is not None:
        delta.ok_count = int(outcome == "ok")
        if outcome == "ok" and "duration_ms" in attrs:
            delta.duration_n, delta.duration_sum = 1, float(attrs["duration_ms"])
    if "bytes" in attrs and outcome in (None, "ok"):
        delta.bytes_sum = int(attrs["bytes"])
    if kind == "page_view":
        extra.append(f"page_view:{attrs['page']}")
    elif kind == "capability_check":
        delta.ok_count = int(attrs["ok"])
        extra += [f"capability_missing:{name}" for name in attrs.get("missing", ())]
    elif kind == "generation_finished":
        delta.ok_count = int(not attrs["cancelled"])
        delta.in_tokens_sum, delta.out_tokens_sum = attrs["input_tokens"], attrs["output_tokens"]
        if attrs.get("prefill_tokens_per_s") is not None:
            delta.prefill_n, delta.prefill_sum = 1, float(attrs["prefill_tokens_per_s"])
        if attrs.get("ttft_ms") is not None:
            value = float(attrs["ttft_ms"])
            delta.ttft_n, delta.ttft_sum, delta.ttft_values = 1, value, [value]
        if attrs.get("decode_tokens_per_s") is not None:
            value = float(attrs["decode_tokens_per_s"])
            delta.decode_n, delta.decode_sum, delta.decode_values = 1, value, [value]
    elif kind == "error":
        extra.append(f"error:{attrs['kind']}")
    elif kind == "file_download":
        extra.append(f"file_download:{attrs['file_kind']}")
    return delta, extra


def dimensions(row: dict[str, Any]) -> list[tuple[str, str]]:
    dims = [(DIM_ALL, "")]
    adapter = row.get("adapter_id")
    if adapter:
        dims.append((DIM_ADAPTER, adapter))
    if row["type"] in BROWSER_TYPES:
        dims.append((DIM_GPU, row["gpu_vendor"]))
        if adapter and row["type"] == "generation_finished":
            dims.append((DIM_ADAPTER_GPU, adapter_gpu_key(adapter, row["gpu_vendor"])))
    return dims


def compute(rows: Iterable[dict[str, Any]]) -> tuple[dict[RollupKey, Delta], set[SeenKey]]:
    """Rollup deltas for a batch, and the (day, dimension, subject) pairs the batch was active in."""
    deltas: dict[RollupKey, Delta] = {}
    seen: set[SeenKey] = set()
    for row in rows:
        at: datetime = row["received_at"]
        buckets = (("h", hour_of(at)), ("d", day_of(at)))
        delta, extra = _event_delta(row)
        metrics = [row["type"], *extra]
        dims = dimensions(row)
        for dim, dim_key in dims:
            for metric in metrics:
                # Per-kind metrics (page_view:home, error:oom...) are counts only.
                part = delta if metric == row["type"] else Delta(count=1)
                if dim == DIM_ADAPTER_GPU and metric != row["type"]:
                    continue
                for grain, bucket in buckets:
                    key = (grain, dim, metric, bucket, dim_key)
                    current = deltas.get(key)
                    if current is None:
                        deltas[key] = current = Delta()
                    current.add(part)
            if dim == DIM_ADAPTER_GPU:
                continue
            day = buckets[1][1]
            if row.get("session_id"):
                seen.add((day, dim, dim_key, "s", row["session_id"]))
            if row.get("user_id") is not None:
                seen.add((day, dim, dim_key, "u", str(row["user_id"])))
    return deltas, seen


def active_deltas(new_seen: Iterable[SeenKey]) -> dict[RollupKey, Delta]:
    """Daily distinct counters: each first sighting of a subject on a day adds one."""
    out: dict[RollupKey, Delta] = {}
    for day, dim, dim_key, subject_kind, _subject in new_seen:
        metric = ACTIVE_SESSIONS if subject_kind == "s" else ACTIVE_USERS
        key = ("d", dim, metric, day, dim_key)
        out.setdefault(key, Delta()).count += 1
    return out


def histograms(delta: Delta) -> tuple[bytes | None, bytes | None]:
    ttft = sketch.from_values(delta.ttft_values) if delta.ttft_values else None
    decode = sketch.from_values(delta.decode_values) if delta.decode_values else None
    return ttft, decode


def day_range(start: datetime, end: datetime) -> list[datetime]:
    days, current = [], day_of(start)
    while current <= end:
        days.append(current)
        current += timedelta(days=1)
    return days
