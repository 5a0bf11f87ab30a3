"""Analytics pieces for other pages: the public speed fact, the account's opt-out switch."""

from __future__ import annotations

import reflex as rx

from state.analytics import AnalyticsPreferenceState, TypicalSpeedState


def typical_speed() -> rx.Component:
    """Shows nothing until there is enough data for the visitor's GPU vendor."""
    return rx.cond(
        TypicalSpeedState.text != "",
        rx.hstack(rx.icon("gauge", size=16), rx.text(TypicalSpeedState.text, size="2"), align="center", spacing="2"),
        rx.fragment(),
    )


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
