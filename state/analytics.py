"""Dashboards: thin states over app.analytics.queries (rollups only).

Every handler is guarded (app.auth.guard.requires): the caller is resolved on the server from the
session cookie of the event's websocket; admins see the whole site, creators only the adapters
they own. A date range is whole UTC days.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import reflex as rx

from app.analytics import privacy, queries, wiring
from app.auth.guard import current_principal, requires
from app.db import session_scope
from app.models import Role
from state.session import SessionState

DEFAULT_DAYS = 30
TABLES = ("activity", "top_adapters", "performance_by_adapter", "performance_by_gpu", "errors", "capability_gaps")


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _perf_rows(rows: list[queries.Performance]) -> list[dict[str, Any]]:
    return [
        {
            "key": row.key,
            "samples": row.samples,
            "ttft_p50": _round(row.ttft_p50_ms, 0),
            "ttft_p90": _round(row.ttft_p90_ms, 0),
            "decode_p50": _round(row.decode_p50_tps),
            "decode_p90": _round(row.decode_p90_tps),
        }
        for row in rows
    ]


class AnalyticsView(SessionState):
    """What a dashboard shows; the subclasses decide who may see what."""

    allowed: bool = False
    denied_message: str = ""
    start: str = ""
    end: str = ""
    range_error: str = ""
    scope_note: str = ""
    activity: list[dict[str, Any]] = []
    top_adapters: list[dict[str, Any]] = []
    perf_adapter: list[dict[str, Any]] = []
    perf_gpu: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    capabilities: list[dict[str, Any]] = []
    capability_checks: int = 0

    def _adapter_ids(self, viewer: wiring.Viewer) -> list[str] | None:
        return None

    def _viewer(self) -> wiring.Viewer | None:
        """The caller the guard let in (handlers are guarded; None only if called unguarded)."""
        viewer = wiring.current_viewer()
        if viewer is None:
            self.allowed = False
            self.denied_message = "Sign in to see analytics."
            self._clear()
            return None
        self._show(current_principal())
        self.allowed = True
        return viewer

    def _clear(self) -> None:
        self.activity, self.top_adapters, self.perf_adapter, self.perf_gpu = [], [], [], []
        self.errors, self.capabilities, self.capability_checks = [], [], 0

    def _range(self) -> queries.DateRange:
        if not self.start or not self.end:
            default = queries.DateRange.last_days(DEFAULT_DAYS)
            self.start, self.end = default.start.isoformat(), default.end.isoformat()
        return queries.DateRange(date.fromisoformat(self.start), date.fromisoformat(self.end))

    def _dashboard(self, viewer: wiring.Viewer) -> queries.Dashboard:
        with session_scope() as session:
            adapter_ids = self._adapter_ids(viewer)
            creator_id = None if adapter_ids is None else viewer.user_id
            return queries.dashboard(session, date_range=self._range(), adapter_ids=adapter_ids, creator_id=creator_id)

    def _reload(self, viewer: wiring.Viewer) -> None:
        board = self._dashboard(viewer)
        self.activity = [{**vars(row), "day": row.day.isoformat()} for row in board.activity]
        self.top_adapters = [vars(row) for row in board.top_adapters]
        self.perf_adapter = _perf_rows(board.performance_by_adapter)
        self.perf_gpu = _perf_rows(board.performance_by_gpu)
        self.errors = [
            {"kind": row.kind, "count": row.count, "rate_pct": round(100 * row.rate, 2)} for row in board.errors
        ]
        self.capabilities = [
            {"capability": row.capability, "count": row.count, "share_pct": round(100 * row.share, 1)}
            for row in board.capability_gaps
        ]
        self.capability_checks = board.capability_checks

    def _load(self) -> None:
        viewer = self._viewer()
        if viewer is not None:
            self.range_error = ""
            self._reload(viewer)

    def _set_range(self, form: dict[str, Any]) -> None:
        viewer = self._viewer()
        if viewer is None or not isinstance(form, dict):
            return
        start, end = form.get("start", ""), form.get("end", "")
        try:
            queries.DateRange(date.fromisoformat(str(start)), date.fromisoformat(str(end)))
        except ValueError as exc:
            self.range_error = str(exc)
            return
        self.start, self.end, self.range_error = str(start), str(end), ""
        self._reload(viewer)

    def _preset(self, days: int) -> None:
        viewer = self._viewer()
        if viewer is None:
            return
        chosen = queries.DateRange.last_days(max(1, min(int(days), queries.MAX_RANGE_DAYS)))
        self.start, self.end, self.range_error = chosen.start.isoformat(), chosen.end.isoformat(), ""
        self._reload(viewer)

    def _export(self, table: str) -> Any:
        """CSV of one table, recomputed on the server for this viewer (never from client data)."""
        viewer = self._viewer()
        if viewer is None or table not in TABLES:
            return None
        board = self._dashboard(viewer)
        rows = board.capability_gaps if table == "capability_gaps" else getattr(board, table)
        return rx.download(data=queries.to_csv(rows), filename=f"analytics-{table}-{self.start}-{self.end}.csv")


class AdminAnalyticsState(AnalyticsView):
    @rx.event
    @requires(Role.admin)
    def load(self) -> None:
        self.scope_note = "Whole site"
        self._load()

    @rx.event
    @requires(Role.admin)
    def set_range(self, form: dict[str, Any]) -> None:
        self._set_range(form)

    @rx.event
    @requires(Role.admin)
    def preset(self, days: int) -> None:
        self._preset(days)

    @rx.event
    @requires(Role.admin)
    def export(self, table: str) -> Any:
        return self._export(table)


class CreatorAnalyticsState(AnalyticsView):
    def _adapter_ids(self, viewer: wiring.Viewer) -> list[str] | None:
        with session_scope() as session:
            return wiring.owned_adapter_ids(session, viewer.user_id)

    @rx.event
    @requires(Role.creator)
    def load(self) -> None:
        self._load()
        if self.allowed:
            count = len(self.top_adapters)
            self.scope_note = "Your adapters" if count else "Your adapters (none used in this range yet)"

    @rx.event
    @requires(Role.creator)
    def set_range(self, form: dict[str, Any]) -> None:
        self._set_range(form)

    @rx.event
    @requires(Role.creator)
    def preset(self, days: int) -> None:
        self._preset(days)

    @rx.event
    @requires(Role.creator)
    def export(self, table: str) -> Any:
        return self._export(table)


class AnalyticsPreferenceState(SessionState):
    """The signed-in user's analytics choice, on the account page."""

    opted_out: bool = False

    @rx.event
    @requires(Role.user)
    def load_preference(self) -> None:
        principal = current_principal()
        assert principal is not None
        with session_scope() as session:
            self.opted_out = privacy.user_opted_out(session, user_id=principal.user_id)

    @rx.event
    @requires(Role.user)
    def set_opt_out(self, opted_out: bool) -> None:
        principal = current_principal()
        assert principal is not None
        with session_scope() as session:
            privacy.set_user_opt_out(session, user_id=principal.user_id, opted_out=bool(opted_out))
        self.opted_out = bool(opted_out)
