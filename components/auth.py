"""Form pieces for the sign-in, sign-up and account pages (assets/auth/auth_form.jsx)."""

from __future__ import annotations

import reflex as rx
from reflex.event import passthrough_event_spec


class AuthForm(rx.Component):
    """A real form post to an /auth/... route, enhanced with fetch (see the JSX file)."""

    library = "$/public/auth/auth_form.jsx"
    tag = "AuthForm"

    action: rx.Var[str]
    on_failure: rx.EventHandler[passthrough_event_spec(str, str)]


def auth_form(*children: rx.Component, action: str, form_id: str, on_failure=None) -> rx.Component:  # noqa: ANN001
    props = {"on_failure": on_failure} if on_failure is not None else {}
    return AuthForm.create(rx.vstack(*children, spacing="4", width="100%"), action=action, id=form_id, **props)


def field(
    label: str,
    *,
    name: str,
    type_: str = "text",
    autocomplete: str = "off",
    hint: str | rx.Var | None = None,
    invalid: rx.Var | bool = False,
    **props,  # noqa: ANN003
) -> rx.Component:
    """A labelled input; the label is tied to the input for screen readers and clicks."""
    input_id = f"field-{name}"
    return rx.vstack(
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for=input_id),
        rx.input(
            id=input_id,
            name=name,
            type=type_,
            auto_complete=autocomplete,
            size="3",
            width="100%",
            aria_invalid=rx.cond(invalid, "true", "false"),
            aria_describedby=f"{input_id}-hint" if hint is not None else None,
            **props,
        ),
        rx.text(hint, id=f"{input_id}-hint", size="1", color_scheme="gray") if hint is not None else rx.fragment(),
        spacing="1",
        width="100%",
    )


def hidden(name: str, value: rx.Var | str) -> rx.Component:
    return rx.el.input(type="hidden", name=name, value=value)


def submit(label: str, **props) -> rx.Component:  # noqa: ANN003
    return rx.button(label, type="submit", size="3", width="100%", **props)


def message_callouts(error: rx.Var, notice: rx.Var) -> rx.Component:
    return rx.fragment(
        rx.cond(
            error != "",
            rx.callout(error, icon="triangle-alert", color_scheme="red", role="alert", id="form-error", width="100%"),
        ),
        rx.cond(
            notice != "",
            rx.callout(notice, icon="info", color_scheme="grass", role="status", id="form-notice", width="100%"),
        ),
    )


def auth_card(*children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(rx.vstack(*children, spacing="5", width="100%"), size="4", width="100%", max_width="28em"),
        width="100%",
        padding_y=["1em", "2em", "3em"],
    )
