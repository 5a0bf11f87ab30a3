"""The public performance fact on an adapter's page."""

from __future__ import annotations

import reflex as rx

from state.analytics import TypicalSpeedState


def typical_speed() -> rx.Component:
    """Shows nothing until there is enough data for the visitor's GPU vendor."""
    return rx.cond(
        TypicalSpeedState.text != "",
        rx.hstack(rx.icon("gauge", size=16), rx.text(TypicalSpeedState.text, size="2"), align="center", spacing="2"),
        rx.fragment(),
    )
