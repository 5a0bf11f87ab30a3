"""From accepted events to rollup deltas: what each event adds to which hourly and daily row.

Pure (no database), so the writer and the tests compute rollups the same way. Events that share
a signature (kind, adapter, vendor, hour) share their rollup keys, and the sums are added with
numpy, so a batch of thousands of events costs milliseconds.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from app.analytics import sketch

GRAINS = ("h", "d")
DIM_ALL, DIM_ADAPTER, DIM_GPU, DIM_ADAPTER_GPU = "all", "adapter", "gpu", "adapter_gpu"
DIM_CREATOR = "creator"  # distinct sessions/users over a creator's adapters (active_* counters only)
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
INTEGER_COLUMNS = frozenset(
    name for name in ADDITIVE if not name.endswith("_sum") or "tokens" in name or "bytes" in name
)
COUNT = ADDITIVE.index("count")
_NAN = float("nan")

RollupKey = tuple[str, str, str, datetime, str]  # grain, dim, metric, bucket, dim_key (primary-key order)
SeenKey = tuple[datetime, str, str, str, str]  # day, dim, dim_key, subject kind ("s"/"u"), subject


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def day_of(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def adapter_gpu_key(adapter_id: str, vendor: str) -> str:
    return f"{adapter_id}|{vendor}"


def event_values(row: dict[str, Any]) -> tuple[tuple[float, ...], list[str], float, float]:
    """What one event adds (in ADDITIVE order), its per-kind metrics, and its TTFT/decode samples."""
    kind, attrs = row["type"], row["attrs"]
    ok = duration_n = 0
    duration = 0.0
    size = in_tokens = out_tokens = prefill_n = ttft_n = decode_n = 0
    prefill = ttft_sum = decode_sum = 0.0
    ttft = decode = _NAN
    extra: list[str] = []
    outcome = attrs.get("outcome")
    if outcome is not None:
        ok = int(outcome == "ok")
        if outcome == "ok" and "duration_ms" in attrs:
            duration_n, duration = 1, float(attrs["duration_ms"])
    if "bytes" in attrs and outcome in (None, "ok"):
        size = int(attrs["bytes"])
    if kind == "page_view":
        extra.append(f"page_view:{attrs['page']}")
    elif kind == "capability_check":
        ok = int(attrs["ok"])
        extra += [f"capability_missing:{name}" for name in attrs.get("missing", ())]
    elif kind == "generation_finished":
        ok = int(not attrs["cancelled"])
        in_tokens, out_tokens = attrs["input_tokens"], attrs["output_tokens"]
        if attrs.get("prefill_tokens_per_s") is not None:
            prefill_n, prefill = 1, float(attrs["prefill_tokens_per_s"])
        if attrs.get("ttft_ms") is not None:
            ttft = float(attrs["ttft_ms"])
            ttft_n, ttft_sum = 1, ttft
        if attrs.get("decode_tokens_per_s") is not None:
            decode = float(attrs["decode_tokens_per_s"])
            decode_n, decode_sum = 1, decode
    elif kind == "error":
        extra.append(f"error:{attrs['kind']}")
    elif kind == "file_download":
        extra.append(f"file_download:{attrs['file_kind']}")
    values = (1, ok, duration_n, duration, size, in_tokens, out_tokens, prefill_n, prefill, ttft_n, ttft_sum)
    return (*values, decode_n, decode_sum), extra, ttft, decode


def dimensions(kind: str, adapter: str | None, vendor: str) -> list[tuple[str, str]]:
    dims = [(DIM_ALL, "")]
    if adapter:
        dims.append((DIM_ADAPTER, adapter))
    if kind in BROWSER_TYPES:
        dims.append((DIM_GPU, vendor))
        if adapter and kind == "generation_finished":
            dims.append((DIM_ADAPTER_GPU, adapter_gpu_key(adapter, vendor)))
    return dims


@dataclasses.dataclass
class Batch:
    """Rollup deltas for a batch: one row of sums per key, histograms for some keys."""

    keys: list[RollupKey]
    sums: np.ndarray  # (len(keys), len(ADDITIVE)), float64 (integers are exact below 2**53)
    ttft: dict[int, bytes]
    decode: dict[int, bytes]
    seen: set[SeenKey]

    def add_counts(self, counts: dict[RollupKey, int]) -> None:
        index = {key: i for i, key in enumerate(self.keys)}
        extra = np.zeros((0, len(ADDITIVE)))
        for key in counts:
            if key not in index:
                index[key] = len(self.keys)
                self.keys.append(key)
                extra = np.vstack([extra, np.zeros(len(ADDITIVE))])
        if len(extra):
            self.sums = np.vstack([self.sums, extra])
        for key, value in counts.items():
            self.sums[index[key], COUNT] += value

    def columns(self, i: int) -> dict[str, int | float]:
        row = self.sums[i]
        return {name: int(row[j]) if name in INTEGER_COLUMNS else float(row[j]) for j, name in enumerate(ADDITIVE)}

    def value_rows(self, order: Sequence[int]) -> list[list[int | float]]:
        """The sums of the keys in `order` as Python numbers (integers where the column is one)."""
        sums = self.sums[list(order)]
        columns = [
            sums[:, j].astype(np.int64).tolist() if name in INTEGER_COLUMNS else sums[:, j].tolist()
            for j, name in enumerate(ADDITIVE)
        ]
        return [list(row) for row in zip(*columns)]

    def sorted_order(self) -> list[int]:
        return sorted(range(len(self.keys)), key=self.keys.__getitem__)


def compute(rows: Sequence[dict[str, Any]], *, creators: Mapping[str, int] | None = None) -> Batch:
    """Rollup deltas of a batch. `creators` maps adapter ids to their author's user id: each
    author gets exact daily distinct sessions/users over all their adapters (a person using two
    of them counts once)."""
    creators = creators or {}
    key_index: dict[RollupKey, int] = {}
    signatures: dict[tuple, tuple[list[int], list[int]]] = {}
    main_keys: list[int] = []
    main_events: list[int] = []
    extra_counts: Counter[int] = Counter()
    values: list[tuple[float, ...]] = []
    ttfts: list[float] = []
    decodes: list[float] = []
    seen: set[SeenKey] = set()

    def key_id(key: RollupKey) -> int:
        found = key_index.get(key)
        if found is None:
            found = key_index[key] = len(key_index)
        return found

    for i, row in enumerate(rows):
        at: datetime = row["received_at"]
        kind, adapter, vendor = row["type"], row.get("adapter_id"), row["gpu_vendor"]
        vals, extra, ttft, decode = event_values(row)
        values.append(vals)
        ttfts.append(ttft)
        decodes.append(decode)
        hour, day = hour_of(at), day_of(at)
        signature = (kind, adapter, vendor, hour, tuple(extra))
        ids = signatures.get(signature)
        if ids is None:
            main, count_only = [], []
            for dim, dim_key in dimensions(kind, adapter, vendor):
                for grain, bucket in (("h", hour), ("d", day)):
                    if grain == "h" and dim == DIM_ADAPTER_GPU:
                        continue  # adapter x vendor is kept per day only (the public fact, creators' views)
                    main.append(key_id((grain, dim, kind, bucket, dim_key)))
                    if dim != DIM_ADAPTER_GPU:  # per-kind metrics (page_view:home, error:oom...) count only
                        count_only += [key_id((grain, dim, metric, bucket, dim_key)) for metric in extra]
            ids = signatures[signature] = (main, count_only)
        main_keys += ids[0]
        main_events += [i] * len(ids[0])
        extra_counts.update(ids[1])
        session, user = row.get("session_id"), row.get("user_id")
        for dim, dim_key in dimensions(kind, adapter, vendor):
            if session:  # adapter x vendor: distinct chat sessions, the public fact's k-anonymity floor
                seen.add((day, dim, dim_key, "s", session))
            if user is not None and dim != DIM_ADAPTER_GPU:
                seen.add((day, dim, dim_key, "u", str(user)))
        author = creators.get(adapter) if adapter else None
        if author is not None:
            if session:
                seen.add((day, DIM_CREATOR, str(author), "s", session))
            if user is not None:
                seen.add((day, DIM_CREATOR, str(author), "u", str(user)))

    keys = list(key_index)
    sums = np.zeros((len(keys), len(ADDITIVE)))
    batch = Batch(keys=keys, sums=sums, ttft={}, decode={}, seen=seen)
    if not rows:
        return batch
    value_array = np.asarray(values, dtype=np.float64)
    key_array = np.asarray(main_keys, dtype=np.int64)
    event_array = np.asarray(main_events, dtype=np.int64)
    np.add.at(sums, key_array, value_array[event_array])
    for key, n in extra_counts.items():
        sums[key, COUNT] += n
    batch.ttft = _histograms(key_array, np.asarray(ttfts)[event_array])
    batch.decode = _histograms(key_array, np.asarray(decodes)[event_array])
    return batch


def _histograms(key_ids: np.ndarray, samples: np.ndarray) -> dict[int, bytes]:
    present = ~np.isnan(samples)
    if not present.any():
        return {}
    keys = key_ids[present]
    buckets = sketch.bucket_indexes(samples[present]).astype(np.int64) + 32768
    combined, counts = np.unique(keys * 65536 + buckets, return_counts=True)
    key_of = combined // 65536
    bucket_of = (combined % 65536) - 32768
    starts = np.flatnonzero(np.r_[True, key_of[1:] != key_of[:-1]])
    ends = np.r_[starts[1:], len(key_of)]
    return {
        int(key_of[s]): sketch.encode(bucket_of[s:e].astype(np.int16), counts[s:e].astype(np.uint32))
        for s, e in zip(starts, ends)
    }


def active_counts(new_seen: Iterable[SeenKey]) -> dict[RollupKey, int]:
    """Daily distinct counters: each first sighting of a subject on a day adds one."""
    out: Counter[RollupKey] = Counter()
    for day, dim, dim_key, subject_kind, _subject in new_seen:
        metric = ACTIVE_SESSIONS if subject_kind == "s" else ACTIVE_USERS
        out[("d", dim, metric, day, dim_key)] += 1
    return dict(out)
