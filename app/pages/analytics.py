"""Analytics dashboards: /admin/analytics (whole site) and /creator/analytics (your adapters).

Charts are Reflex recharts over the rollup-backed query layer; every table has a CSV export.
"""

from __future__ import annotations

import reflex as rx

from components.shell import empty_state, page
from state.analytics import AdminAnalyticsState, AnalyticsView, CreatorAnalyticsState

COLORS = {"a": rx.color("violet", 9), "b": rx.color("cyan", 9), "c": rx.color("amber", 9), "d": rx.color("grass", 9)}


def _chart_card(title: str, chart: rx.Component, chart_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="3"), chart, spacing="2", width="100%"),
        width="100%",
        id=chart_id,
        class_name="analytics-chart",
    )


def _axes(x_key: str) -> list[rx.Component]:
    return [
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.x_axis(data_key=x_key),
        rx.recharts.y_axis(),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
    ]


def _line(state: type[AnalyticsView], keys: list[tuple[str, str, str]]) -> rx.Component:
    return rx.recharts.line_chart(
        *[rx.recharts.line(data_key=key, name=name, stroke=COLORS[color], dot=False) for key, name, color in keys],
        *_axes("day"),
        data=state.activity,
        width="100%",
        height=260,
    )


def _bars(data: rx.Var, x_key: str, keys: list[tuple[str, str, str]]) -> rx.Component:
    return rx.recharts.bar_chart(
        *[rx.recharts.bar(data_key=key, name=name, fill=COLORS[color]) for key, name, color in keys],
        *_axes(x_key),
        data=data,
        width="100%",
        height=260,
    )


def _table(
    state: type[AnalyticsView], name: str, title: str, data: rx.Var, columns: list[tuple[str, str]]
) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(title, size="3"),
                rx.spacer(),
                rx.button(
                    rx.icon("download", size=14),
                    "CSV",
                    size="1",
                    variant="soft",
                    on_click=state.export(name),
                    id=f"export-{name}",
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                data.length() > 0,
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(label) for _, label in columns])),
                    rx.table.body(
                        rx.foreach(
                            data,
                            lambda row: rx.table.row(*[rx.table.cell(row[key].to(str)) for key, _ in columns]),
                        )
                    ),
                    size="1",
                    width="100%",
                ),
                rx.text("No data in this range.", color_scheme="gray", size="2"),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id=f"table-{name}",
    )


def _range_bar(state: type[AnalyticsView]) -> rx.Component:
    return rx.hstack(
        rx.form(
            rx.hstack(
                rx.input(type="date", name="start", default_value=state.start, key=state.start, aria_label="From"),
                rx.input(type="date", name="end", default_value=state.end, key=state.end, aria_label="To"),
                rx.button("Apply", type="submit", size="2"),
                align="center",
                spacing="2",
            ),
            on_submit=state.set_range,
            reset_on_submit=False,
        ),
        *[
            rx.button(label, size="1", variant="outline", on_click=state.preset(days))
            for label, days in [("7 d", 7), ("30 d", 30), ("90 d", 90)]
        ],
        rx.text(state.scope_note, " · UTC days", size="2", color_scheme="gray"),
        rx.cond(state.range_error != "", rx.text(state.range_error, color_scheme="red", size="2", role="alert")),
        spacing="3",
        align="center",
        flex_wrap="wrap",
        width="100%",
    )


def _dashboard(state: type[AnalyticsView]) -> rx.Component:
    perf_columns = [
        ("key", "Key"),
        ("samples", "Generations"),
        ("ttft_p50", "TTFT p50 (ms)"),
        ("ttft_p90", "TTFT p90 (ms)"),
        ("decode_p50", "Decode p50 (tok/s)"),
        ("decode_p90", "Decode p90 (tok/s)"),
    ]
    body = rx.vstack(
        _range_bar(state),
        rx.grid(
            _chart_card(
                "Active users and sessions per day",
                _line(state, [("active_users", "Users", "a"), ("active_sessions", "Sessions", "b")]),
                "chart-active",
            ),
            _chart_card(
                "Chats and model loads per day",
                _bars(state.activity, "day", [("chats", "Chats", "a"), ("model_loads", "Model loads", "c")]),
                "chart-usage",
            ),
            _chart_card(
                "Top adapters (chats)",
                _bars(state.top_adapters, "adapter_id", [("chats", "Chats", "a"), ("lora_loads", "LoRA loads", "d")]),
                "chart-top-adapters",
            ),
            _chart_card(
                "Decode speed by GPU vendor (tokens/s)",
                _bars(state.perf_gpu, "key", [("decode_p50", "p50", "b"), ("decode_p90", "p90", "a")]),
                "chart-speed-gpu",
            ),
            _chart_card(
                "Time to first token by adapter (ms)",
                _bars(state.perf_adapter, "key", [("ttft_p50", "p50", "c"), ("ttft_p90", "p90", "a")]),
                "chart-ttft-adapter",
            ),
            _chart_card(
                "Errors by kind",
                _bars(state.errors, "kind", [("count", "Errors", "c")]),
                "chart-errors",
            ),
            _chart_card(
                "What failed capability checks lacked",
                _bars(state.capabilities, "capability", [("count", "Checks lacking it", "b")]),
                "chart-capabilities",
            ),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        _table(
            state,
            "activity",
            "Activity per day",
            state.activity,
            [
                ("day", "Day"),
                ("active_users", "Users"),
                ("active_sessions", "Sessions"),
                ("chats", "Chats"),
                ("model_loads", "Model loads"),
                ("page_views", "Page views"),
                ("errors", "Errors"),
            ],
        ),
        _table(
            state,
            "top_adapters",
            "Top adapters",
            state.top_adapters,
            [
                ("adapter_id", "Adapter"),
                ("chats", "Chats"),
                ("completed", "Completed"),
                ("output_tokens", "Output tokens"),
                ("lora_loads", "LoRA loads"),
            ],
        ),
        _table(state, "performance_by_adapter", "Speed by adapter", state.perf_adapter, perf_columns),
        _table(state, "performance_by_gpu", "Speed by GPU vendor", state.perf_gpu, perf_columns),
        _table(
            state,
            "errors",
            "Errors by kind (rate per tracked operation)",
            state.errors,
            [("kind", "Kind"), ("count", "Count"), ("rate_pct", "Rate %")],
        ),
        _table(
            state,
            "capability_gaps",
            "Capability-check failures",
            state.capabilities,
            [("capability", "Missing"), ("count", "Checks"), ("share_pct", "Share of checks %")],
        ),
        spacing="5",
        width="100%",
    )
    return rx.cond(
        state.allowed,
        body,
        empty_state(
            "lock",
            "Analytics is private",
            state.denied_message,
            rx.link(rx.button("Sign in", variant="soft"), href="/signin"),
        ),
    )


def admin_analytics() -> rx.Component:
    return page(_dashboard(AdminAnalyticsState), title="Analytics")


def creator_analytics() -> rx.Component:
    return page(_dashboard(CreatorAnalyticsState), title="Your adapters' analytics")


def add_pages(app: rx.App) -> None:
    app.add_page(
        admin_analytics, route="/admin/analytics", title="Analytics · LoRA Studio", on_load=AdminAnalyticsState.load
    )
    app.add_page(
        creator_analytics,
        route="/creator/analytics",
        title="Your analytics · LoRA Studio",
        on_load=CreatorAnalyticsState.load,
    )
