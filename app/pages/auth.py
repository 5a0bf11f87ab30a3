"""Sign in, sign up, account, the users admin page, and the page a refused action lands on."""

from __future__ import annotations

import reflex as rx

from components.analytics import analytics_preference
from components.auth import auth_card, auth_form, field, hidden, message_callouts, submit
from components.shell import empty_state, page
from state.admin_users import AdminUsersState
from state.auth_pages import AccountState, AuthFormState
from state.session import ForbiddenState, SessionState

ROLES = ["user", "creator", "admin"]


def _provider_buttons() -> rx.Component:
    return rx.cond(
        AuthFormState.providers.length() > 0,
        rx.vstack(
            rx.hstack(
                rx.separator(size="4", flex="1"),
                rx.text("or", size="2", color_scheme="gray"),
                rx.separator(size="4", flex="1"),
                align="center",
                width="100%",
            ),
            rx.foreach(
                AuthFormState.providers,
                # A plain <a>: the browser must really leave for the provider (no client-side routing).
                lambda p: rx.button(
                    rx.el.a(
                        rx.icon("key-round", size=16),
                        "Continue with " + p["label"],
                        href="/auth/oidc/" + p["name"] + "/start?next=" + AuthFormState.next_path.to(str),
                        id="oidc-" + p["name"],
                        custom_attrs={"reloadDocument": True},
                    ),
                    as_child=True,
                    variant="outline",
                    size="3",
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
    )


def _email_field(autocomplete: str) -> rx.Component:
    return field(
        "Email",
        name="email",
        type_="email",
        autocomplete=autocomplete,
        required=True,
        auto_focus=True,
        max_length=254,
        invalid=AuthFormState.error_field == "email",
    )


def signin() -> rx.Component:
    return page(
        auth_card(
            rx.heading("Sign in", size="7", as_="h1"),
            message_callouts(AuthFormState.error, AuthFormState.notice),
            auth_form(
                hidden("next", AuthFormState.next_path),
                _email_field("username"),
                field(
                    "Password",
                    name="password",
                    type_="password",
                    autocomplete="current-password",
                    required=True,
                    max_length=1024,
                ),
                submit("Sign in", id="signin-submit"),
                action="/auth/signin",
                form_id="signin-form",
                on_failure=AuthFormState.show_error,
            ),
            _provider_buttons(),
            rx.cond(
                AuthFormState.signup_enabled,
                rx.text(
                    "No account yet? ",
                    rx.link("Create one", href="/signup?next=" + AuthFormState.next_path.to(str), id="to-signup"),
                    size="2",
                ),
            ),
        ),
    )


def signup() -> rx.Component:
    closed = empty_state(
        "lock",
        "Sign-up is closed",
        "This site does not take new accounts right now. Ask an administrator for one.",
        rx.link(rx.button("Sign in", variant="soft"), href="/signin"),
    )
    form = rx.fragment(
        message_callouts(AuthFormState.error, AuthFormState.notice),
        auth_form(
            hidden("next", AuthFormState.next_path),
            _email_field("email"),
            field(
                "Name",
                name="display_name",
                autocomplete="name",
                required=True,
                max_length=80,
                hint="Shown on adapters you publish.",
                invalid=AuthFormState.error_field == "display_name",
            ),
            field(
                "Password",
                name="password",
                type_="password",
                autocomplete="new-password",
                required=True,
                min_length=AuthFormState.password_min_length,
                max_length=1024,
                hint="At least " + AuthFormState.password_min_length.to(str) + " characters; not a common password.",
                invalid=AuthFormState.error_field == "password",
            ),
            submit("Create account", id="signup-submit"),
            action="/auth/signup",
            form_id="signup-form",
            on_failure=AuthFormState.show_error,
        ),
        _provider_buttons(),
        rx.text("Already have an account? ", rx.link("Sign in", href="/signin", id="to-signin"), size="2"),
    )
    return page(
        auth_card(
            rx.heading("Create an account", size="7", as_="h1"),
            rx.cond(AuthFormState.signup_enabled, form, closed),
        ),
    )


def _section(title: str, *children: rx.Component, **props) -> rx.Component:  # noqa: ANN003
    return rx.card(
        rx.vstack(rx.heading(title, size="4", as_="h2"), *children, spacing="4", width="100%"),
        width="100%",
        **props,
    )


def _sessions_table() -> rx.Component:
    return rx.vstack(
        rx.foreach(
            AccountState.sessions,
            lambda s: rx.hstack(
                rx.icon("monitor-smartphone", size=18),
                rx.vstack(
                    rx.hstack(
                        rx.text(s["device"], weight="medium"),
                        rx.cond(s["current"] != "", rx.badge("this browser", color_scheme="grass")),
                        spacing="2",
                    ),
                    rx.text("Signed in " + s["since"] + " · last seen " + s["seen"], size="1", color_scheme="gray"),
                    spacing="0",
                ),
                align="center",
                spacing="3",
                width="100%",
            ),
        ),
        spacing="3",
        width="100%",
        id="session-list",
    )


def account() -> rx.Component:
    password_form = auth_form(
        field(
            "Current password",
            name="current_password",
            type_="password",
            autocomplete="current-password",
            required=True,
            invalid=AccountState.error_field == "current_password",
        ),
        field(
            "New password",
            name="new_password",
            type_="password",
            autocomplete="new-password",
            required=True,
            min_length=AccountState.password_min_length,
            hint="Changing it signs out your other sessions.",
            invalid=AccountState.error_field == "new_password",
        ),
        rx.button("Change password", type="submit", id="password-submit"),
        action="/auth/password",
        form_id="password-form",
        on_failure=AccountState.show_error,
    )
    delete_form = auth_form(
        rx.text(
            "This deletes your account, your sessions and linked sign-ins. Adapters you published stay "
            "available under “Deleted user”.",
            size="2",
        ),
        rx.cond(
            AccountState.has_password,
            field("Password", name="password", type_="password", autocomplete="current-password", required=True),
            field("Type your email to confirm", name="confirm_email", type_="email", required=True),
        ),
        rx.el.label(
            rx.hstack(
                rx.el.input(type="checkbox", name="confirm", required=True, id="delete-confirm"),
                rx.text("I understand this cannot be undone.", size="2"),
                spacing="2",
                align="center",
            ),
        ),
        rx.button("Delete my account", type="submit", color_scheme="red", id="delete-submit"),
        action="/auth/delete",
        form_id="delete-form",
        on_failure=AccountState.show_error,
    )
    return page(
        message_callouts(AccountState.error, AccountState.notice),
        rx.grid(
            _section(
                "Profile",
                rx.data_list.root(
                    rx.data_list.item(rx.data_list.label("Name"), rx.data_list.value(SessionState.user_name)),
                    rx.data_list.item(
                        rx.data_list.label("Email"), rx.data_list.value(SessionState.user_email, id="account-email")
                    ),
                    rx.data_list.item(
                        rx.data_list.label("Role"),
                        rx.data_list.value(rx.badge(SessionState.user_role, id="account-role")),
                    ),
                    rx.data_list.item(
                        rx.data_list.label("Sign-in"),
                        rx.data_list.value(
                            rx.cond(AccountState.has_password, "Password", "Identity provider only")
                            + rx.cond(
                                AccountState.providers.length() > 0, " · " + AccountState.providers.join(", "), ""
                            )
                        ),
                    ),
                    orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
                ),
                rx.cond(
                    SessionState.is_admin,
                    rx.hstack(
                        rx.link("Manage users", href="/admin/users", id="to-admin-users"),
                        rx.link("Configuration", href="/admin/config", id="to-admin-config"),
                        rx.link("Analytics", href="/admin/analytics", id="to-admin-analytics"),
                        spacing="4",
                    ),
                ),
                rx.cond(
                    SessionState.user_role == "creator",
                    rx.link("Your adapters' analytics", href="/creator/analytics", id="to-creator-analytics"),
                ),
            ),
            _section("Usage analytics", analytics_preference()),
            rx.cond(
                AccountState.has_password,
                _section("Change password", password_form),
                _section("Password", rx.text("This account signs in through an identity provider.", size="2")),
            ),
            _section(
                "Sessions",
                _sessions_table(),
                rx.hstack(
                    rx.button(
                        "Sign out other sessions",
                        variant="soft",
                        on_click=AccountState.sign_out_others,
                        id="signout-others",
                    ),
                    auth_form(
                        rx.button("Sign out", type="submit", variant="soft", id="account-signout"),
                        action="/auth/signout",
                        form_id="account-signout-form",
                        on_failure=AccountState.show_error,
                    ),
                    auth_form(
                        rx.button("Sign out everywhere", type="submit", variant="outline", id="signout-everywhere"),
                        action="/auth/signout-everywhere",
                        form_id="signout-everywhere-form",
                        on_failure=AccountState.show_error,
                    ),
                    spacing="3",
                    flex_wrap="wrap",
                ),
            ),
            _section("Delete account", delete_form, border=f"1px solid {rx.color('red', 6)}"),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        title="Your account",
    )


def _user_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(row["name"], weight="medium"), rx.text(row["email"], size="1"), spacing="0")),
        rx.table.cell(
            rx.select(
                ROLES,
                value=row["role"],
                on_change=lambda value: AdminUsersState.change_role(row["id"], value),
                aria_label="Role of " + row["email"],
                size="2",
            )
        ),
        rx.table.cell(
            rx.switch(
                checked=row["active"] != "",
                on_change=lambda value: AdminUsersState.change_active(row["id"], value),
                aria_label="Account of " + row["email"] + " is active",
            )
        ),
        rx.table.cell(rx.text(row["sign_in"], size="2")),
        rx.table.cell(rx.text(row["last"], size="2")),
        id="user-row-" + row["id"],
    )


def admin_users() -> rx.Component:
    body = rx.vstack(
        rx.hstack(
            rx.input(
                placeholder="Search by email or name",
                aria_label="Search users",
                on_change=AdminUsersState.search.debounce(300),
                width="100%",
                max_width="24em",
                id="user-search",
            ),
            rx.text(
                rx.cond(AdminUsersState.total == 1, "1 account", AdminUsersState.total.to(str) + " accounts"),
                size="2",
                color_scheme="gray",
            ),
            align="center",
            spacing="3",
            width="100%",
            flex_wrap="wrap",
        ),
        rx.cond(
            AdminUsersState.error != "",
            rx.callout(AdminUsersState.error, icon="triangle-alert", color_scheme="red", role="alert"),
        ),
        rx.cond(
            AdminUsersState.message != "",
            rx.callout(AdminUsersState.message, icon="check", color_scheme="grass", role="status"),
        ),
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("User"),
                        rx.table.column_header_cell("Role"),
                        rx.table.column_header_cell("Active"),
                        rx.table.column_header_cell("Signs in with"),
                        rx.table.column_header_cell("Last sign-in"),
                    )
                ),
                rx.table.body(rx.foreach(AdminUsersState.rows, _user_row)),
                width="100%",
                variant="surface",
            ),
            overflow_x="auto",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )
    return page(body, title="Users")


def forbidden() -> rx.Component:
    return page(
        empty_state(
            "shield-x",
            "You do not have permission for that",
            rx.cond(
                ForbiddenState.need != "",
                "It needs the " + ForbiddenState.need + " role. Ask an administrator if you need access.",
                "Ask an administrator if you need access.",
            ),
            rx.link(rx.button("Go to the home page", variant="soft"), href="/"),
        ),
        title="Not allowed",
    )


def add_pages(app: rx.App) -> None:
    app.add_page(signin, route="/signin", title="Sign in · LoRA Studio", on_load=AuthFormState.load)
    app.add_page(signup, route="/signup", title="Create an account · LoRA Studio", on_load=AuthFormState.load)
    app.add_page(account, route="/account", title="Your account · LoRA Studio", on_load=AccountState.load)
    app.add_page(admin_users, route="/admin/users", title="Users · LoRA Studio", on_load=AdminUsersState.load)
    app.add_page(forbidden, route="/forbidden", title="Not allowed · LoRA Studio", on_load=ForbiddenState.load)
