"""Analytics pieces for other pages: the public speed fact, the account's opt-out switch."""

from __future__ import annotations

import reflex as rx

from state.analytics import AnalyticsPreferenceState

PERFORMANCE_API = "/api/v1/adapters"


class TypicalSpeed(rx.Component):
    """assets/analytics/typical_speed.jsx: reads the visitor's GPU vendor in the browser and picks
    that vendor's figure from the public per-vendor speeds (the vendor never leaves the browser)."""

    library = "$/public/analytics/typical_speed.jsx"
    tag = "TypicalSpeed"

    slug: rx.Var[str]
    endpoint: rx.Var[str]


def typical_speed(slug: rx.Var[str] | str) -> rx.Component:
    """ "Typical speed on devices like yours" for an adapter (median decode tokens/s)."""
    return TypicalSpeed.create(slug=slug, endpoint=PERFORMANCE_API)


def analytics_preference() -> rx.Component:
    """Opt out of usage analytics (stored on the server; also deletes what was recorded with your id)."""
    return rx.vstack(
        rx.text(
            "LoRA Studio records usage and speed (ids, counts, timings), never your prompts or answers. "
            "Do Not Track and Global Privacy Control are honoured too.",
            size="2",
        ),
        rx.el.label(
            rx.hstack(
                rx.switch(
                    checked=AnalyticsPreferenceState.opted_out,
                    on_change=AnalyticsPreferenceState.set_opt_out,
                    id="analytics-opt-out",
                ),
                rx.text("Do not record my usage", size="2"),
                spacing="2",
                align="center",
            ),
        ),
        rx.cond(
            AnalyticsPreferenceState.opted_out,
            rx.text("Nothing is recorded for your account.", size="2", color_scheme="gray", id="analytics-opted-out"),
        ),
        spacing="2",
        on_mount=AnalyticsPreferenceState.load_preference,
    )
