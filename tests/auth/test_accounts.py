"""Accounts in the domain layer: sign-up rules, sign-in, passwords, roles, deletion, linking."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.auth import accounts, passwords
from app.auth.accounts import AccountError, ProviderIdentity
from app.models import OIDCIdentity, User
from tests.support.auth import PASSWORD, make_user, reset_caches


def test_sign_up_normalises_email_and_keeps_it_unique(db, auth_settings) -> None:
    user = accounts.sign_up(db, email="  Alice@EXAMPLE.test ", password=PASSWORD, display_name=" Alice  L ")
    assert (user.email, user.display_name, user.role) == ("alice@example.test", "Alice L", "user")
    assert user.password_hash.startswith("$argon2id$")
    for variant in ("alice@example.TEST", "ALICE@example.test", "ａｌｉｃｅ@example.test"):
        with pytest.raises(AccountError) as exc:
            accounts.sign_up(db, email=variant, password=PASSWORD, display_name="Other")
        assert exc.value.field == "email"


def test_sign_up_role_and_closing_come_from_settings(db, auth_settings) -> None:
    auth_settings(SIGNUP_DEFAULT_ROLE="creator")
    assert accounts.sign_up(db, email="c@example.test", password=PASSWORD, display_name="C").role == "creator"
    auth_settings(SIGNUP_ENABLED="false")
    with pytest.raises(AccountError, match="closed"):
        accounts.sign_up(db, email="d@example.test", password=PASSWORD, display_name="D")


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short", "at least"), ("password1234", "too common"), ("aaaaaaaaaaaa", "too few"), ("x" * 1025, "at most")],
)
def test_weak_passwords_are_refused(db, auth_settings, password: str, reason: str) -> None:
    with pytest.raises(AccountError, match=reason):
        accounts.sign_up(db, email="e@example.test", password=password, display_name="E")


def test_common_password_list_is_shipped() -> None:
    common = passwords.common_passwords()
    assert len(common) > 19000 and "qwerty" in common and "123456" in common


def test_sign_in_is_generic_and_constant_for_unknown_accounts(db, auth_settings) -> None:
    make_user(db, email="known@example.test")
    for email, password in [("known@example.test", "wrong password 1"), ("nobody@example.test", PASSWORD)]:
        with pytest.raises(accounts.InvalidCredentialsError) as exc:
            accounts.authenticate(db, email=email, password=password)
        assert exc.value.message == "Email or password is incorrect."
    assert accounts.authenticate(db, email="KNOWN@example.test", password=PASSWORD).last_sign_in_at is not None


def test_disabled_account_cannot_sign_in(db, auth_settings) -> None:
    user = make_user(db, email="off@example.test")
    user.is_active = False
    db.add(user)
    db.commit()
    with pytest.raises(accounts.AccountDisabledError):
        accounts.authenticate(db, email="off@example.test", password=PASSWORD)


def test_old_hash_parameters_are_upgraded_at_sign_in(db, auth_settings) -> None:
    user = make_user(db, email="old@example.test")
    assert "m=8192,t=1,p=1" in user.password_hash
    auth_settings(ARGON2_TIME_COST="2", ARGON2_MEMORY_KIB="9216")
    assert passwords.needs_rehash(user.password_hash)
    signed_in = accounts.authenticate(db, email="old@example.test", password=PASSWORD)
    assert "m=9216,t=2,p=1" in signed_in.password_hash
    assert passwords.verify_password(signed_in.password_hash, PASSWORD)


def test_change_password_checks_the_current_one(db, auth_settings) -> None:
    user = make_user(db, email="pw@example.test")
    with pytest.raises(AccountError) as exc:
        accounts.change_password(db, user_id=user.id, current_password="nope nope 1", new_password="new secret pass 2")
    assert exc.value.field == "current_password"
    accounts.change_password(db, user_id=user.id, current_password=PASSWORD, new_password="new secret pass 2")
    assert accounts.authenticate(db, email="pw@example.test", password="new secret pass 2")


@pytest.mark.parametrize(
    "email",
    [
        "a" * 300 + "@example.test",
        "x@" + "b" * 300 + ".test",
        "zero\u200bwidth@example.test",
        "rtl@example.test\u202e",
        "ctrl\x00@example.test",
        "two@@example.test",
        "é@example.test",
        "'; DROP TABLE user_account; --@example.test",
        "<script>@example.test",
        "",
    ],
)
def test_hostile_emails_are_refused(db, auth_settings, email: str) -> None:
    with pytest.raises(AccountError):
        accounts.sign_up(db, email=email, password=PASSWORD, display_name="Hostile")
    assert db.exec(select(User)).all() == []


def test_idn_domains_are_stored_as_punycode(db, auth_settings) -> None:
    # Cyrillic "о" in the domain: stored as xn--..., so it can never pass for the Latin one.
    user = accounts.sign_up(db, email="o@gооgle.com", password=PASSWORD, display_name="IDN")
    assert user.email == "o@xn--ggle-55da.com"


@pytest.mark.parametrize(
    "name",
    ["Robert'); DROP TABLE user_account;--", "<img src=x onerror=alert(1)>", "Zoë 😀 山田", "  spaced   out  "],
)
def test_sql_and_html_in_names_are_stored_inert(db, auth_settings, name: str) -> None:
    user = accounts.sign_up(db, email="n@example.test", password=PASSWORD, display_name=name)
    db.expire_all()
    assert db.get(User, user.id).display_name == " ".join(name.split())
    assert len(db.exec(select(User)).all()) == 1


@pytest.mark.parametrize("name", ["x" * 81, "bidi\u202eevil", "null\x00byte", "\u200b", "   "])
def test_bad_names_are_refused(db, auth_settings, name: str) -> None:
    with pytest.raises(AccountError) as exc:
        accounts.sign_up(db, email="m@example.test", password=PASSWORD, display_name=name)
    assert exc.value.field == "display_name"


def test_delete_account_hands_public_data_to_the_placeholder(db, auth_settings) -> None:
    user = make_user(db, email="bye@example.test")
    handed: list[tuple[int, str]] = []
    hook = accounts.on_account_deleted(lambda session, old, placeholder: handed.append((old.id, placeholder.email)))
    try:
        with pytest.raises(AccountError):
            accounts.delete_account(db, user_id=user.id, password="not it at all")
        accounts.delete_account(db, user_id=user.id, password=PASSWORD)
    finally:
        accounts._deletion_hooks.remove(hook)
    assert handed == [(user.id, accounts.DELETED_USER_EMAIL)]
    assert accounts.find_by_email(db, "bye@example.test") is None
    placeholder = accounts.find_by_email(db, accounts.DELETED_USER_EMAIL)
    assert placeholder is not None and not placeholder.is_active and placeholder.password_hash is None


def test_roles_and_disabling_need_an_admin_and_keep_one(db, auth_settings) -> None:
    admin = make_user(db, email="admin@example.test", role="admin")
    user = make_user(db, email="u@example.test")
    with pytest.raises(accounts.PermissionDeniedError):
        accounts.set_role(db, actor_id=user.id, user_id=user.id, role="admin")
    assert accounts.set_role(db, actor_id=admin.id, user_id=user.id, role="creator").role == "creator"
    with pytest.raises(AccountError, match="only administrator"):
        accounts.set_role(db, actor_id=admin.id, user_id=admin.id, role="user")
    with pytest.raises(AccountError, match="own account"):
        accounts.set_active(db, actor_id=admin.id, user_id=admin.id, active=False)
    with pytest.raises(AccountError, match="Unknown role"):
        accounts.set_role(db, actor_id=admin.id, user_id=user.id, role="superuser")
    assert accounts.set_active(db, actor_id=admin.id, user_id=user.id, active=False).is_active is False


def _identity(subject: str, email: str, verified: bool) -> ProviderIdentity:
    return ProviderIdentity(provider="test", subject=subject, email=email, email_verified=verified, name="Id Person")


def test_provider_identity_creates_then_finds_the_same_user(db, auth_settings) -> None:
    created = accounts.sign_in_with_identity(db, _identity("s1", "new@example.test", True))
    again = accounts.sign_in_with_identity(db, _identity("s1", "changed@example.test", True))
    assert created.id == again.id and created.password_hash is None and created.email_verified


def test_provider_identity_never_merges_silently(db, auth_settings) -> None:
    local = make_user(db, email="taken@example.test")
    with pytest.raises(AccountError) as off:
        accounts.sign_in_with_identity(db, _identity("s2", "taken@example.test", True))
    assert off.value.code == "oidc_link_off"
    auth_settings(OIDC_LINK_VERIFIED_EMAIL="true")
    with pytest.raises(AccountError) as unverified:
        accounts.sign_in_with_identity(db, _identity("s2", "taken@example.test", False))
    assert unverified.value.code == "oidc_unverified"
    assert db.exec(select(OIDCIdentity)).all() == []
    linked = accounts.sign_in_with_identity(db, _identity("s2", "Taken@Example.test", True))
    assert linked.id == local.id
    assert accounts.providers_of(db, local.id) == ["test"]


def test_first_admin_from_settings(db, auth_settings) -> None:
    from app.startup import ensure_first_admin

    auth_settings(FIRST_ADMIN_EMAIL="Boss@Example.test", FIRST_ADMIN_PASSWORD="boss password 99")
    ensure_first_admin()
    ensure_first_admin()  # idempotent: an admin exists now
    admins = db.exec(select(User).where(User.role == "admin")).all()
    assert [a.email for a in admins] == ["boss@example.test"]
    reset_caches()
