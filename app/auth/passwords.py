"""Password hashing (argon2id) and the rules a new password must meet.

Parameters come from settings (default: argon2id, t=2 passes, m=64 MiB, p=1 lane, 16-byte salt,
32-byte tag; about 140 ms per hash on a 2-core server). A hash made with other parameters still
verifies and is replaced on the next successful sign-in.

The common-password list is Django's (20,000 entries from Royce Williams' list, BSD licence,
django/contrib/auth/common-passwords.txt.gz), shipped in this package.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.settings import Settings, get_settings

MAX_PASSWORD_LENGTH = 1024  # bounds hashing work per request; far above any passphrase
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt.gz")


class PasswordRejectedError(ValueError):
    """The new password breaks a rule; the message is shown to the user."""


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int
    memory_kib: int
    parallelism: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Argon2Params:
        return cls(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)


@functools.cache
def hasher(params: Argon2Params) -> PasswordHasher:
    return PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def current_hasher() -> PasswordHasher:
    return hasher(Argon2Params.from_settings(get_settings()))


def _prepare(password: str) -> str:
    # NFKC so that the same passphrase typed on different keyboards/IMEs verifies.
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    return current_hasher().hash(_prepare(password))


@functools.cache
def _dummy_hash(params: Argon2Params) -> str:
    return hasher(params).hash("not a password: equalises timing for unknown accounts")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-time check. Unknown accounts (no hash) cost the same as a wrong password."""
    ph = current_hasher()
    if len(password) > MAX_PASSWORD_LENGTH:
        password = password[:MAX_PASSWORD_LENGTH]
    if not password_hash:
        with contextlib.suppress(VerificationError):
            ph.verify(_dummy_hash(Argon2Params.from_settings(get_settings())), _prepare(password))
        return False
    try:
        return ph.verify(password_hash, _prepare(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return current_hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def check_new_password(password: str, *, email: str = "", display_name: str = "") -> None:
    """Raise PasswordRejectedError with a message the user can act on."""
    minimum = get_settings().password_min_length
    if len(password) < minimum:
        raise PasswordRejectedError(f"Use at least {minimum} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejectedError(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if any(unicodedata.category(ch) == "Cc" for ch in password):
        raise PasswordRejectedError("The password contains control characters.")
    lowered = _prepare(password).lower()
    if lowered in common_passwords() or lowered.strip() in common_passwords():
        raise PasswordRejectedError("This password is too common. Choose something harder to guess.")
    if len(set(lowered)) < 4:
        raise PasswordRejectedError("This password repeats too few different characters.")
    local_part = email.split("@", 1)[0].lower()
    for personal in (email.lower(), local_part, display_name.strip().lower()):
        if len(personal) >= 4 and (lowered == personal or personal in lowered and len(lowered) - len(personal) < 4):
            raise PasswordRejectedError("The password is too close to your email or name.")
