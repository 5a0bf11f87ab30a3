"""Accounts: sign-up, sign-in, password change, roles, disabling, deletion, provider identities.

Deleting an account removes the user, its sessions and its linked provider identities. Data that
other people rely on (published adapters, from the catalog) is handed to one shared, disabled
"Deleted user" placeholder account by the hooks that owning modules register with
`on_account_deleted`; everything else that belongs to the user is deleted with it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from app.auth import passwords
from app.config import get_runtime_config
from app.models import OIDCIdentity, Role, User
from app.models.base import utcnow
from app.settings import get_settings

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 80
DELETED_USER_EMAIL = "deleted-user@lorastudio.invalid"
_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Characters that make text look different from what it is: bidi controls and invisible marks.
_DECEPTIVE = {*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2070), 0xFEFF, 0x00AD, 0x180E}


class AccountError(ValueError):
    """A refusal with a message that can be shown to the user, and the form field it concerns."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "account") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code  # names the message in app.auth.web.ERROR_MESSAGES for redirects


class InvalidCredentialsError(AccountError):
    def __init__(self) -> None:
        super().__init__("Email or password is incorrect.", code="invalid")


class AccountDisabledError(AccountError):
    def __init__(self) -> None:
        super().__init__("This account has been disabled. Contact an administrator.", code="disabled")


class PermissionDeniedError(AccountError):
    pass


def _deceptive(text: str) -> bool:
    return any(ord(ch) in _DECEPTIVE or unicodedata.category(ch) in {"Cc", "Cs", "Co", "Cn"} for ch in text)


def normalize_email(raw: str) -> str:
    """One spelling per address: NFKC, lower case, IDNA (punycode) domain; tricks are refused."""
    if not isinstance(raw, str) or not raw.strip():
        raise AccountError("Enter your email address.", field="email")
    if len(raw) > 4 * MAX_EMAIL_LENGTH:
        raise AccountError("This email address is too long.", field="email")
    text = unicodedata.normalize("NFKC", raw).strip()
    if _deceptive(text):
        raise AccountError("The email address contains invisible or control characters.", field="email")
    if text.count("@") != 1:
        raise AccountError("Enter a valid email address, like name@example.com.", field="email")
    local, domain = text.lower().rsplit("@", 1)
    if not local.isascii():
        raise AccountError("Use an email address whose part before @ is plain ASCII.", field="email")
    try:
        domain = domain.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        raise AccountError("The email domain is not valid.", field="email") from None
    labels = domain.split(".")
    if (
        not _LOCAL_PART.match(local)
        or len(local) > 64
        or len(labels) < 2
        or not all(_DOMAIN_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise AccountError("Enter a valid email address, like name@example.com.", field="email")
    email = f"{local}@{domain}"
    if len(email) > MAX_EMAIL_LENGTH:
        raise AccountError("This email address is too long.", field="email")
    return email


def clean_display_name(raw: str) -> str:
    """Any script is welcome; control, bidi-override and invisible characters are not."""
    if not isinstance(raw, str):
        raise AccountError("Enter a name.", field="display_name")
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not text:
        raise AccountError("Enter a name.", field="display_name")
    if len(text) > MAX_NAME_LENGTH:
        raise AccountError(f"Use at most {MAX_NAME_LENGTH} characters for your name.", field="display_name")
    if _deceptive(text):
        raise AccountError("The name contains invisible or control characters.", field="display_name")
    return text


def _check_password(password: str, *, email: str, display_name: str, field: str = "password") -> None:
    try:
        passwords.check_new_password(password, email=email, display_name=display_name)
    except passwords.PasswordRejectedError as exc:
        raise AccountError(str(exc), field=field) from None


def find_by_email(db: Session, email: str) -> User | None:
    try:
        normalized = normalize_email(email)
    except AccountError:
        return None
    return db.exec(select(User).where(User.email == normalized)).first()


def get_user(db: Session, user_id: int) -> User | None:
    return db.get(User, user_id)


def providers_of(db: Session, user_id: int) -> list[str]:
    """Names of the sign-in providers linked to this account."""
    rows = db.exec(select(OIDCIdentity.provider).where(OIDCIdentity.user_id == user_id)).all()
    return sorted(set(rows))


def sign_up(db: Session, *, email: str, password: str, display_name: str) -> User:
    config = get_runtime_config().values  # an admin may close sign-up at run time
    if not config["signup.enabled"]:
        raise AccountError("Sign-up is closed on this site. Ask an administrator for an account.", code="signup_closed")
    email = normalize_email(email)
    display_name = clean_display_name(display_name)
    _check_password(password, email=email, display_name=display_name)
    if db.exec(select(User.id).where(User.email == email)).first() is not None:
        # Saying so reveals that the address has an account; sign-up is rate limited per IP,
        # and the alternative (a silent "check your inbox") needs outgoing mail we do not have.
        raise AccountError("An account with this email already exists. Sign in instead.", field="email")
    user = User(
        email=email,
        display_name=display_name,
        password_hash=passwords.hash_password(password),
        role=str(config["signup.default_role"]),
    )
    db.add(user)
    try:
        db.commit()
    except sa.exc.IntegrityError:
        db.rollback()
        raise AccountError("An account with this email already exists. Sign in instead.", field="email") from None
    db.refresh(user)
    return user


def authenticate(db: Session, *, email: str, password: str) -> User:
    """The user whose password this is, or InvalidCredentialsError (same message and cost for all)."""
    user = find_by_email(db, email) if isinstance(email, str) else None
    if not isinstance(password, str) or not passwords.verify_password(user.password_hash if user else None, password):
        raise InvalidCredentialsError()
    assert user is not None
    if not user.is_active:
        raise AccountDisabledError()
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_sign_in_at = utcnow()
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


def change_password(db: Session, *, user_id: int, current_password: str, new_password: str) -> User:
    user = db.get(User, user_id)
    if user is None or not user.is_active:
        raise AccountError("Your account is no longer available.")
    if not user.password_hash:
        raise AccountError("This account signs in through an identity provider and has no password.")
    if not passwords.verify_password(user.password_hash, current_password):
        raise AccountError("The current password is incorrect.", field="current_password")
    if current_password == new_password:
        raise AccountError("Choose a password different from the current one.", field="new_password")
    _check_password(new_password, email=user.email, display_name=user.display_name, field="new_password")
    user.password_hash = passwords.hash_password(new_password)
    user.updated_at = utcnow()
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


# --- deletion -------------------------------------------------------------------------------

DeletionHook = Callable[[Session, User, User], None]
_deletion_hooks: list[DeletionHook] = []


def on_account_deleted(hook: DeletionHook) -> DeletionHook:
    """Register `hook(db, user, placeholder)`: move the user's public data to the placeholder."""
    _deletion_hooks.append(hook)
    return hook


def deleted_user_placeholder(db: Session) -> User:
    user = db.exec(select(User).where(User.email == DELETED_USER_EMAIL)).first()
    if user is None:
        user = User(email=DELETED_USER_EMAIL, display_name="Deleted user", role=Role.user.value, is_active=False)
        db.add(user)
        db.flush()
    return user


def delete_account(db: Session, *, user_id: int, password: str = "", confirm_email: str = "") -> None:
    """Delete after proof: the password, or (no password) the account's email typed again."""
    user = db.get(User, user_id)
    if user is None or user.email == DELETED_USER_EMAIL:
        raise AccountError("Your account is no longer available.")
    if user.password_hash:
        if not passwords.verify_password(user.password_hash, password):
            raise AccountError("The password is incorrect.", field="password")
    elif find_by_email(db, confirm_email) is None or normalize_email(confirm_email) != user.email:
        raise AccountError("Type your account's email address to confirm.", field="confirm_email")
    if user.role == Role.admin.value and _active_admins(db) <= 1:
        raise AccountError("You are the only administrator. Make someone else an admin first.")
    placeholder = deleted_user_placeholder(db)
    for hook in _deletion_hooks:
        hook(db, user, placeholder)
    db.exec(sa.delete(OIDCIdentity).where(OIDCIdentity.user_id == user.id))  # type: ignore[call-overload]
    db.delete(user)
    db.commit()


# --- roles and administration -----------------------------------------------------------------


def _active_admins(db: Session) -> int:
    return db.exec(
        select(func.count()).select_from(User).where(User.role == Role.admin.value, User.is_active == True)  # noqa: E712
    ).one()


def _require_admin(db: Session, actor_id: int) -> User:
    actor = db.get(User, actor_id)
    if actor is None or not actor.is_active or actor.role != Role.admin.value:
        raise PermissionDeniedError("Only administrators can do this.")
    return actor


def set_role(db: Session, *, actor_id: int, user_id: int, role: str) -> User:
    _require_admin(db, actor_id)
    try:
        new_role = Role(role)
    except ValueError:
        raise AccountError(f"Unknown role {role!r}.", field="role") from None
    user = db.get(User, user_id)
    if user is None or user.email == DELETED_USER_EMAIL:
        raise AccountError("No such user.")
    if user.role == Role.admin.value and new_role != Role.admin and user.is_active and _active_admins(db) <= 1:
        raise AccountError("This is the only administrator; make someone else an admin first.")
    user.role = new_role.value
    user.updated_at = utcnow()
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


def set_active(db: Session, *, actor_id: int, user_id: int, active: bool) -> User:
    _require_admin(db, actor_id)
    user = db.get(User, user_id)
    if user is None or user.email == DELETED_USER_EMAIL:
        raise AccountError("No such user.")
    if not active and user.id == actor_id:
        raise AccountError("You cannot disable your own account.")
    if not active and user.role == Role.admin.value and _active_admins(db) <= 1:
        raise AccountError("This is the only administrator; it cannot be disabled.")
    user.is_active = active
    user.updated_at = utcnow()
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


@dataclass(frozen=True)
class UserRow:
    id: int
    email: str
    display_name: str
    role: str
    is_active: bool
    has_password: bool
    providers: tuple[str, ...]
    created_at: str
    last_sign_in_at: str


def list_users(db: Session, *, query: str = "", limit: int = 50, offset: int = 0) -> tuple[list[UserRow], int]:
    """A page of accounts (newest first) and the total that match `query` (email or name)."""
    condition = User.email != DELETED_USER_EMAIL
    text = " ".join(query.split())[:100]
    if text:
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        condition = sa.and_(
            condition,
            sa.or_(
                func.lower(User.email).like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            ),
        )
    total = db.exec(select(func.count()).select_from(User).where(condition)).one()
    users = db.exec(
        select(User).where(condition).order_by(col(User.id).desc()).limit(min(limit, 200)).offset(max(offset, 0))
    ).all()
    ids = [user.id for user in users]
    identities: dict[int, list[str]] = {}
    if ids:
        for user_id, provider in db.exec(
            select(OIDCIdentity.user_id, OIDCIdentity.provider).where(col(OIDCIdentity.user_id).in_(ids))
        ).all():
            identities.setdefault(user_id, []).append(provider)
    rows = [
        UserRow(
            id=user.id or 0,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            is_active=user.is_active,
            has_password=bool(user.password_hash),
            providers=tuple(sorted(identities.get(user.id or 0, []))),
            created_at=user.created_at.strftime("%Y-%m-%d"),
            last_sign_in_at=user.last_sign_in_at.strftime("%Y-%m-%d %H:%M") if user.last_sign_in_at else "never",
        )
        for user in users
    ]
    return rows, int(total)


def create_admin(db: Session, *, email: str, password: str, display_name: str = "Administrator") -> User:
    """Create an admin account, or make the existing account with this email an admin."""
    email = normalize_email(email)
    user = db.exec(select(User).where(User.email == email)).first()
    if user is None:
        display_name = clean_display_name(display_name)
        _check_password(password, email=email, display_name=display_name)
        user = User(email=email, display_name=display_name, password_hash=passwords.hash_password(password))
    elif password:
        _check_password(password, email=email, display_name=user.display_name)
        user.password_hash = passwords.hash_password(password)
    user.role = Role.admin.value
    user.is_active = True
    user.updated_at = utcnow()
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


def has_admin(db: Session) -> bool:
    return _active_admins(db) > 0


# --- identities from OpenID providers ----------------------------------------------------------


@dataclass(frozen=True)
class ProviderIdentity:
    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str


def sign_in_with_identity(db: Session, identity: ProviderIdentity) -> User:
    """The user for this provider identity: already linked, newly created, or (only when the
    operator enabled it and the provider verified the email) linked to the account with that email.
    """
    settings = get_settings()
    linked = db.exec(
        select(OIDCIdentity).where(OIDCIdentity.provider == identity.provider, OIDCIdentity.subject == identity.subject)
    ).first()
    if linked is not None:
        user = db.get(User, linked.user_id)
        if user is None:
            raise AccountError("This sign-in is linked to an account that no longer exists.", code="oidc_gone")
        if not user.is_active:
            raise AccountDisabledError()
        linked.last_used_at = user.last_sign_in_at = utcnow()
        db.add(linked)
        db.add(user)
        db.commit()
        db.refresh(user)
        return user
    if not identity.email:
        raise AccountError(
            "The identity provider did not share an email address, which an account needs.", code="oidc_no_email"
        )
    email = normalize_email(identity.email)
    existing = db.exec(select(User).where(User.email == email)).first()
    if existing is not None:
        if not settings.oidc_link_verified_email:
            raise AccountError(
                "An account with this email already exists. Sign in with your password; "
                "linking sign-in providers to existing accounts is turned off on this site.",
                code="oidc_link_off",
            )
        if not identity.email_verified:
            raise AccountError(
                "An account with this email already exists, and the identity provider has not verified "
                "that this email is yours, so the two were not linked. Sign in with your password.",
                code="oidc_unverified",
            )
        if not existing.is_active:
            raise AccountDisabledError()
        user = existing
        user.email_verified = True
    else:
        config = get_runtime_config().values
        if not config["signup.enabled"]:
            raise AccountError(
                "Sign-up is closed on this site. Ask an administrator for an account.", code="signup_closed"
            )
        try:
            name = clean_display_name(identity.name or email.split("@", 1)[0])
        except AccountError:
            name = email.split("@", 1)[0][:MAX_NAME_LENGTH]
        user = User(
            email=email,
            display_name=name,
            password_hash=None,
            role=str(config["signup.default_role"]),
            email_verified=identity.email_verified,
        )
        db.add(user)
        db.flush()
    user.last_sign_in_at = utcnow()
    db.add(user)
    db.add(OIDCIdentity(user_id=user.id, provider=identity.provider, subject=identity.subject[:255], email=email))
    db.commit()
    db.refresh(user)
    return user
