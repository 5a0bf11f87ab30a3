"""The page shell every page uses: navbar, content area, footer."""

from __future__ import annotations

import reflex as rx

from components.auth import AuthForm
from state.session import SessionState
from state.site import SiteState

PRODUCT = "LoRA Studio"
NAV_LINKS = [("Catalog", "/catalog"), ("Chat", "/chat"), ("Self-test", "/selftest")]


def _nav_link(label: str, href: str) -> rx.Component:
    return rx.link(
        label, href=href, size="3", weight="medium", color_scheme="gray", high_contrast=True, underline="hover"
    )


def _signout_form(form_id: str) -> rx.Component:
    return AuthForm.create(
        rx.button(rx.icon("log-out", size=16), "Sign out", type="submit", variant="ghost", size="2"),
        action="/auth/signout",
        id=form_id,
    )


def user_slot() -> rx.Component:
    """The signed-in user (name, link to the account page, sign out), or a sign-in button.

    Display only: what a user may do is decided on the server (app/auth/guard.py).
    """
    signed_in = rx.hstack(
        rx.link(
            rx.hstack(
                rx.avatar(fallback=SessionState.user_initials, size="2", radius="full"),
                rx.text(SessionState.user_name, size="2", weight="medium", id="user-name"),
                align="center",
                spacing="2",
            ),
            href="/account",
            underline="none",
            color_scheme="gray",
            high_contrast=True,
            aria_label="Your account",
        ),
        _signout_form("signout-form"),
        align="center",
        spacing="3",
    )
    return rx.box(
        rx.cond(
            SessionState.signed_in,
            signed_in,
            rx.button(rx.link("Sign in", href="/signin", id="signin-link"), as_child=True, variant="soft", size="2"),
        ),
        id="user-slot",
    )


def _account_menu_link() -> rx.Component:
    return rx.cond(
        SessionState.signed_in,
        rx.link("Your account", href="/account", width="100%"),
        rx.link("Sign in", href="/signin", width="100%"),
    )


# Shown by role (display only: the pages' handlers check the role on the server).
CREATOR_LINKS = [("My adapters", "/creator/adapters"), ("Adapter analytics", "/creator/analytics")]
ADMIN_LINKS = [
    ("Moderation", "/admin/catalog"),
    ("Base models", "/admin/base-models"),
    ("Users", "/admin/users"),
    ("Configuration", "/admin/config"),
    ("Analytics", "/admin/analytics"),
]


def _role_links(make) -> list[rx.Component]:  # noqa: ANN001 - make(label, href) -> component
    is_creator = (SessionState.user_role == "creator") | (SessionState.user_role == "admin")
    return [rx.cond(is_creator, make(label, href)) for label, href in CREATOR_LINKS] + [
        rx.cond(SessionState.is_admin, make(label, href)) for label, href in ADMIN_LINKS
    ]


def _role_menus() -> list[rx.Component]:
    """Creator and admin pages as two small menus, so the bar stays short."""

    def menu(label: str, links: list[tuple[str, str]], menu_id: str) -> rx.Component:
        return rx.menu.root(
            rx.menu.trigger(
                rx.button(label, rx.icon("chevron-down", size=14), variant="ghost", size="2", id=menu_id),
            ),
            rx.menu.content(*[rx.menu.item(rx.link(text, href=href, width="100%")) for text, href in links]),
        )

    is_creator = (SessionState.user_role == "creator") | (SessionState.user_role == "admin")
    return [
        rx.cond(is_creator, menu("Create", CREATOR_LINKS, "creator-menu")),
        rx.cond(SessionState.is_admin, menu("Admin", ADMIN_LINKS, "admin-menu")),
    ]


def navbar() -> rx.Component:
    brand = rx.link(
        rx.hstack(rx.icon("sparkles", size=22), rx.heading(PRODUCT, size="5"), align="center", spacing="2"),
        href="/",
        underline="none",
        color_scheme="gray",
        high_contrast=True,
    )
    desktop = rx.hstack(
        brand,
        rx.hstack(*[_nav_link(label, href) for label, href in NAV_LINKS], *_role_menus(), spacing="5", align="center"),
        rx.spacer(),
        rx.hstack(user_slot(), rx.color_mode.button(size="2", id="color-mode"), align="center", spacing="3"),
        align="center",
        width="100%",
        spacing="6",
    )
    mobile = rx.hstack(
        brand,
        rx.spacer(),
        rx.color_mode.button(size="2"),
        rx.menu.root(
            rx.menu.trigger(rx.icon_button(rx.icon("menu"), variant="ghost", aria_label="Open menu")),
            rx.menu.content(
                *[rx.menu.item(rx.link(label, href=href, width="100%")) for label, href in NAV_LINKS],
                *_role_links(lambda label, href: rx.menu.item(rx.link(label, href=href, width="100%"))),
                rx.menu.separator(),
                rx.menu.item(_account_menu_link()),
            ),
        ),
        align="center",
        width="100%",
    )
    return rx.box(
        rx.desktop_only(desktop),
        rx.mobile_and_tablet(mobile),
        as_="nav",
        on_mount=SessionState.refresh,
        padding_x=["1em", "1em", "2em"],
        padding_y="0.75em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        position="sticky",
        top="0",
        z_index="10",
        width="100%",
    )


def footer() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text(
                f"{PRODUCT} — private chat with Gemma2-2b-it adapters, on your own GPU.", size="2", color_scheme="gray"
            ),
            rx.spacer(),
            rx.text("Prompts never leave your browser.", size="2", color_scheme="gray"),
            width="100%",
            flex_wrap="wrap",
            spacing="3",
        ),
        as_="footer",
        padding_x=["1em", "1em", "2em"],
        padding_y="1em",
        border_top=f"1px solid {rx.color('gray', 5)}",
        width="100%",
    )


def notices() -> rx.Component:
    """Maintenance notice and announcement, from the run-time config (plain text; the link is checked on save)."""
    maintenance = rx.callout(
        SiteState.maintenance_message,
        icon="construction",
        color_scheme="amber",
        role="status",
        id="maintenance-message",
        width="100%",
        margin_top="1em",
    )
    banner = rx.callout.root(
        rx.callout.icon(rx.icon("megaphone")),
        rx.callout.text(
            rx.text.span(SiteState.banner_text, id="announcement-text"),
            rx.cond(
                SiteState.banner_link != "",
                rx.fragment(" ", rx.link("Read more", href=SiteState.banner_link, id="announcement-link")),
            ),
        ),
        color_scheme="violet",
        role="status",
        id="announcement-banner",
        width="100%",
        margin_top="1em",
    )
    return rx.box(
        rx.cond(SiteState.maintenance, maintenance),
        rx.cond(SiteState.banner_text != "", banner),
        on_mount=SiteState.load_site,
        width="100%",
        max_width="72em",
        margin_x="auto",
        padding_x=["1em", "1.5em", "2em"],
        id="site-notices",
    )


def page(*children: rx.Component, title: str | None = None, max_width: str = "72em") -> rx.Component:
    body = [rx.heading(title, size="7", as_="h1")] if title else []
    return rx.flex(
        navbar(),
        notices(),
        rx.box(
            rx.vstack(*body, *children, spacing="5", width="100%", align="stretch"),
            as_="main",
            flex="1",
            width="100%",
            max_width=max_width,
            margin_x="auto",
            padding=["1em", "1.5em", "2em"],
        ),
        footer(),
        direction="column",
        min_height="100vh",
    )


def empty_state(icon: str, heading: str, text: str, *actions: rx.Component) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=40, color=rx.color("gray", 9)),
            rx.heading(heading, size="5"),
            rx.text(text, color_scheme="gray", text_align="center", max_width="32em"),
            rx.hstack(*actions, spacing="3"),
            align="center",
            spacing="3",
        ),
        padding_y="4em",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="12px",
        width="100%",
    )
