"""Log-bucket histograms for percentiles that merge by addition (a fixed-mapping DDSketch).

Why a sketch and not exact values: a percentile over any date range must come from the hourly
or daily rollup rows alone (dashboards never scan raw events), and exact percentiles cannot be
merged from per-row summaries. Bucket i holds values in (GAMMA**(i-1), GAMMA**i] and reports
2*GAMMA**i/(GAMMA+1), so every reported quantile is within RELATIVE_ACCURACY (1%) of the exact
value of the same rank, for any number of rows merged. Values below MIN_VALUE go to a zero
bucket reported as 0 (absolute error < MIN_VALUE). A row stores only its non-empty buckets:
6 bytes each (int16 index, uint32 count), typically a few dozen per row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
MIN_VALUE = 1e-3
ZERO_INDEX = -32768
_LOG_GAMMA = math.log(GAMMA)
_DTYPE = np.dtype([("i", "<i2"), ("c", "<u4")])


def bucket_indexes(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    out = np.full(arr.shape, ZERO_INDEX, dtype=np.int16)
    positive = arr >= MIN_VALUE
    out[positive] = np.ceil(np.log(arr[positive]) / _LOG_GAMMA).astype(np.int16)
    return out


def bucket_value(index: int) -> float:
    if index == ZERO_INDEX:
        return 0.0
    return 2 * GAMMA**index / (GAMMA + 1)


def encode(indexes: np.ndarray, counts: np.ndarray) -> bytes:
    out = np.empty(len(indexes), dtype=_DTYPE)
    out["i"], out["c"] = indexes, counts
    return out.tobytes()


def decode(blob: bytes | None) -> np.ndarray:
    if not blob:
        return np.empty(0, dtype=_DTYPE)
    return np.frombuffer(blob, dtype=_DTYPE)


def from_values(values: Sequence[float]) -> bytes:
    indexes, counts = np.unique(bucket_indexes(values), return_counts=True)
    return encode(indexes, counts)


def merge(blobs: Iterable[bytes | None]) -> bytes:
    present = [blob for blob in blobs if blob]
    if len(present) <= 1:
        return present[0] if present else b""
    cat = np.frombuffer(b"".join(present), dtype=_DTYPE)  # one array for all parts
    indexes, inverse = np.unique(cat["i"], return_inverse=True)
    counts = np.bincount(inverse, weights=cat["c"])
    if counts.max() > np.iinfo(np.uint32).max:
        raise OverflowError("histogram bucket count beyond uint32")
    return encode(indexes, counts.astype(np.uint32))


def total(blob: bytes | None) -> int:
    return int(decode(blob)["c"].sum())


def quantile(blob: bytes | None, q: float) -> float | None:
    """The bucket value holding the element of rank floor(q*(n-1)) (0-based), or None if empty."""
    arr = decode(blob)
    n = int(arr["c"].sum())
    if n == 0:
        return None
    rank = math.floor(q * (n - 1))
    cumulative = np.cumsum(arr["c"], dtype=np.int64)
    position = int(np.searchsorted(cumulative, rank, side="right"))
    return bucket_value(int(arr["i"][position]))


def exact_quantile(values: Sequence[float], q: float) -> float | None:
    """The same rank definition on the exact values (what the sketch approximates)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


def within_tolerance(approx: float | None, exact: float | None) -> bool:
    """The promise above, stated once for tests and callers."""
    if approx is None or exact is None:
        return approx is exact
    if exact < MIN_VALUE:
        return approx == 0.0
    return abs(approx - exact) <= RELATIVE_ACCURACY * exact * (1 + 1e-9)


def grouped_quantiles(
    groups: Sequence[object], blobs: Sequence[bytes | None], qs: Sequence[float]
) -> dict[object, list[float | None]]:
    """Merge the histograms of each group and read quantiles `qs`, all groups at once: one
    bincount into a (groups x buckets) table, one cumulative sum per row. Same rank definition
    as `quantile`; the cost grows with the data, not with the number of groups."""
    names = list(dict.fromkeys(groups))
    out: dict[object, list[float | None]] = {name: [None] * len(qs) for name in names}
    present = [(name, blob) for name, blob in zip(groups, blobs) if blob]
    if not present:
        return out
    position = {name: i for i, name in enumerate(names)}
    lengths = np.fromiter((len(blob) // _DTYPE.itemsize for _, blob in present), dtype=np.int64, count=len(present))
    group_ids = np.repeat(np.fromiter((position[name] for name, _ in present), np.int64, len(present)), lengths)
    cat = np.frombuffer(b"".join(blob for _, blob in present), dtype=_DTYPE)
    indexes = cat["i"].astype(np.int64)
    zero = indexes == ZERO_INDEX
    nonzero = indexes[~zero]
    low = (int(nonzero.min()) if nonzero.size else 0) - 1  # column 0 is the zero bucket
    width = (int(nonzero.max()) if nonzero.size else 0) - low + 1
    columns = np.where(zero, 0, indexes - low)
    table = np.bincount(group_ids * width + columns, weights=cat["c"], minlength=len(names) * width)
    cumulative = np.cumsum(table.reshape(len(names), width), axis=1)
    totals = cumulative[:, -1]
    for j, q in enumerate(qs):
        ranks = np.floor(q * (totals - 1))
        hits = (cumulative > ranks[:, None]).argmax(axis=1)
        for g in np.flatnonzero(totals > 0):
            column = int(hits[g])
            out[names[g]][j] = 0.0 if column == 0 else bucket_value(column + low)
    return out
