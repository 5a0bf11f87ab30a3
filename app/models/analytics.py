"""Analytics storage: raw events (append-only, purged after the retention period) and rollups.

Dashboards read only the rollups. Nothing here holds content: every value is an id, an
enumerated kind, a count or a timing (see docs/analytics.md for the exact list).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class AnalyticsEvent(SQLModel, table=True):
    """One accepted event. Never updated; deleted only by the retention purge or an opt-out."""

    __tablename__ = "analytics_event"

    id: int | None = Field(default=None, sa_column=sa.Column(BigIntId, primary_key=True, autoincrement=True))
    received_at: datetime = Field(index=True)
    type: str = Field(max_length=24)
    v: int = Field(sa_type=sa.SmallInteger)
    session_id: str | None = Field(default=None, max_length=64)
    user_id: int | None = Field(default=None, index=True)
    adapter_id: str | None = Field(default=None, max_length=80)
    gpu_vendor: str = Field(max_length=16)
    gpu_architecture: str | None = Field(default=None, max_length=32)
    browser: str = Field(max_length=16)
    app_version: str = Field(max_length=32)
    attrs: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class AnalyticsRollup(SQLModel, table=True):
    """Counts, sums and value histograms for one (grain, bucket, dimension, key, metric).

    grain "h" rows cover an hour, "d" rows a UTC day. dim is "all", "adapter", "gpu" or
    "adapter_gpu" (key "adapter|vendor"). Histograms are sparse log-bucket sketches
    (app/analytics/sketch.py) that merge by addition, so ranges of rows give percentiles.
    """

    __tablename__ = "analytics_rollup"
    # Primary key (dim, dim_key, grain, bucket, metric): one adapter's or vendor's rows over a range.
    # The second index: one metric for every key over a range (top adapters, speed by vendor).
    __table_args__ = (sa.Index("ix_analytics_rollup_metric", "grain", "dim", "metric", "bucket"),)

    dim: str = Field(primary_key=True, max_length=12)
    dim_key: str = Field(primary_key=True, max_length=96)
    grain: str = Field(primary_key=True, max_length=1)
    bucket: datetime = Field(primary_key=True)
    metric: str = Field(primary_key=True, max_length=48)
    count: int = Field(default=0, sa_type=sa.BigInteger)
    ok_count: int = Field(default=0, sa_type=sa.BigInteger)
    duration_n: int = Field(default=0, sa_type=sa.BigInteger)
    duration_sum: float = 0.0
    bytes_sum: int = Field(default=0, sa_type=sa.BigInteger)
    in_tokens_sum: int = Field(default=0, sa_type=sa.BigInteger)
    out_tokens_sum: int = Field(default=0, sa_type=sa.BigInteger)
    prefill_n: int = Field(default=0, sa_type=sa.BigInteger)
    prefill_sum: float = 0.0
    ttft_n: int = Field(default=0, sa_type=sa.BigInteger)
    ttft_sum: float = 0.0
    ttft_hist: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    decode_n: int = Field(default=0, sa_type=sa.BigInteger)
    decode_sum: float = 0.0
    decode_hist: bytes | None = Field(default=None, sa_type=sa.LargeBinary)


class AnalyticsSeen(SQLModel, table=True):
    """Who was already counted as active on a day: the write-side dedupe behind distinct counts.

    Only today's and yesterday's rows matter; the purge drops older ones.
    """

    __tablename__ = "analytics_seen"

    day: datetime = Field(primary_key=True)
    dim: str = Field(primary_key=True, max_length=12)
    dim_key: str = Field(primary_key=True, max_length=96)
    subject_kind: str = Field(primary_key=True, max_length=1)
    subject: str = Field(primary_key=True, max_length=64)


class AnalyticsPreference(SQLModel, table=True):
    """A signed-in user's analytics choice; no row means the default (collected)."""

    __tablename__ = "analytics_preference"

    user_id: int = Field(primary_key=True)
    opted_out: bool = Field(default=False)
    updated_at: datetime = Field(default_factory=_now)


class AnalyticsStreamMark(SQLModel, table=True):
    """Redis stream entries already written, so an entry delivered twice is stored once."""

    __tablename__ = "analytics_stream_mark"

    entry_id: str = Field(primary_key=True, max_length=40)
    written_at: datetime = Field(default_factory=_now, index=True)
