"""Every configuration key, declared once: type, default, bounds, description, who may change it.

Two kinds of key live here:
- run-time keys (`banner.text`, ...): built-in default < environment (read through the one settings
  object: `CONFIG__BANNER_TEXT`, or the settings field a key names with `setting=`, whose type and
  default then come from that field) < an override an admin stored in the database;
- environment-only keys: the fields of `app.settings.Settings` (database URL, secrets, ...). They are
  listed so the admin page can say where they come from, but they can never change at run time, and
  secrets are never shown or logged.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from app.settings import Settings

Kind = Literal["bool", "int", "float", "text", "choice", "int_set", "link", "slug", "rate"]
Source = Literal["default", "env", "override"]

ENV_PREFIX = "CONFIG__"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_HTML = re.compile(r"[<>]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAX_WINDOW_S = 86400
_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
_LINK = re.compile(r"^(https?://[^\s/?#<>\"']+[^\s<>\"']*|/(?!/)[^\s<>\"']*)$", re.IGNORECASE)
# Settings fields whose values can carry credentials even though they are plain strings.
_CREDENTIAL_FIELDS = frozenset({"database_url", "redis_url"})
_CREDENTIAL_WORDS = ("secret", "password", "token", "credential", "access_key", "private")


class ConfigError(ValueError):
    """A change was refused; `reason` says why in words an operator can act on (never the value)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ConfigKey:
    name: str
    kind: Kind
    default: object
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[object, ...] = ()
    max_length: int | None = None
    multiple_of: int | None = None
    public: bool = False
    runtime: bool = True
    secret: bool = False
    setting: str | None = None  # the Settings field behind this key's environment layer

    @property
    def env_var(self) -> str:
        if self.setting is not None:
            return self.setting.upper()
        return ENV_PREFIX + self.name.replace(".", "_").upper()

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0] if self.runtime else "environment"

    def bounds(self) -> str:
        """The allowed values in words, for the admin page and the CLI."""
        if self.kind == "bool":
            return "true or false"
        if self.kind in ("int", "float"):
            return f"{_num(self.minimum)} to {_num(self.maximum)}"
        if self.kind == "choice":
            return "one of " + ", ".join(str(choice) for choice in self.choices)
        if self.kind == "int_set":
            step = f"multiples of {self.multiple_of} " if self.multiple_of else ""
            return f"one or more {step}from {_num(self.minimum)} to {_num(self.maximum)}"
        if self.kind == "text":
            return f"plain text, at most {self.max_length} characters"
        if self.kind == "link":
            return f"empty, a path (/...) or an http(s) URL, at most {self.max_length} characters"
        if self.kind == "slug":
            return "empty or lowercase letters, digits, '.', '_' and '-'"
        if self.kind == "rate":
            return f"a rate like 10/minute or 100/3600s: {_num(self.minimum)} to {_num(self.maximum)} per 1 s to 1 day"
        return ""

    def parse(self, raw: object) -> object:
        """Turn what an admin, the CLI, a JSON body or the environment gave into a valid value."""
        parser = _PARSERS[self.kind]
        return parser(self, raw)


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else str(value)


def _parse_bool(key: ConfigKey, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ConfigError(key.name, "must be true or false")


def _check_range(key: ConfigKey, value: float) -> None:
    if (key.minimum is not None and value < key.minimum) or (key.maximum is not None and value > key.maximum):
        raise ConfigError(key.name, f"must be between {_num(key.minimum)} and {_num(key.maximum)}")


def _parse_int(key: ConfigKey, raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ConfigError(key.name, "must be a whole number")
    if isinstance(raw, str):
        text = raw.strip()
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            raise ConfigError(key.name, "must be a whole number")
        raw = int(text)
    _check_range(key, raw)
    return raw


def _parse_float(key: ConfigKey, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ConfigError(key.name, "must be a number")
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except ValueError:
        raise ConfigError(key.name, "must be a number") from None
    if not math.isfinite(value):
        raise ConfigError(key.name, "must be a finite number")
    _check_range(key, value)
    return value


def _plain(key: ConfigKey, raw: object) -> str:
    if not isinstance(raw, str):
        raise ConfigError(key.name, "must be text")
    text = raw.strip()
    if key.max_length is not None and len(text) > key.max_length:
        raise ConfigError(key.name, f"is longer than {key.max_length} characters")
    if _CONTROL.search(text):
        raise ConfigError(key.name, "must not contain control characters")
    return text


def _parse_text(key: ConfigKey, raw: object) -> str:
    text = _plain(key, raw)
    if _HTML.search(text):
        raise ConfigError(key.name, "must be plain text: HTML (< or >) is not allowed")
    return text


def _parse_link(key: ConfigKey, raw: object) -> str:
    text = _plain(key, raw)
    if text and not _LINK.match(text):
        raise ConfigError(key.name, "must be empty, a path starting with / or an http(s):// URL")
    return text


def _parse_slug(key: ConfigKey, raw: object) -> str:
    text = _plain(key, raw)
    if text and not _SLUG.match(text):
        raise ConfigError(key.name, "must be lowercase letters, digits, '.', '_' or '-'")
    return text


def _parse_choice(key: ConfigKey, raw: object) -> object:
    value = raw.strip() if isinstance(raw, str) else raw
    if value not in key.choices:
        raise ConfigError(key.name, key.bounds())
    return value


def _parse_int_set(key: ConfigKey, raw: object) -> tuple[int, ...]:
    if isinstance(raw, str):
        parts: Iterable[object] = [part for part in re.split(r"[\s,]+", raw.strip()) if part]
    elif isinstance(raw, list | tuple):
        parts = raw
    else:
        raise ConfigError(key.name, "must be a list of whole numbers")
    values: set[int] = set()
    for part in parts:
        if isinstance(part, bool) or not isinstance(part, int | str):
            raise ConfigError(key.name, "must be a list of whole numbers")
        if isinstance(part, str):
            if not part.isdigit() or len(part) > 6:
                raise ConfigError(key.name, "must be a list of whole numbers")
            part = int(part)
        out_of_range = (key.minimum is not None and part < key.minimum) or (
            key.maximum is not None and part > key.maximum
        )
        if out_of_range or (key.multiple_of and part % key.multiple_of):
            raise ConfigError(key.name, f"{part} is not allowed; {key.bounds()}")
        values.add(part)
    if not values:
        raise ConfigError(key.name, "needs at least one value")
    return tuple(sorted(values))


def _parse_rate(key: ConfigKey, raw: object) -> object:
    from app.settings import Rate

    if isinstance(raw, str):
        try:
            raw = Rate.model_validate(raw.strip())
        except ValueError:
            raise ConfigError(key.name, "must be a rate like 10/minute, 5/15minutes or 100/3600s") from None
    if not isinstance(raw, Rate):
        raise ConfigError(key.name, "must be a rate like 10/minute, 5/15minutes or 100/3600s")
    if not 1 <= raw.window_s <= _MAX_WINDOW_S:
        raise ConfigError(key.name, "the window must be between 1 second and 1 day")
    _check_range(key, raw.limit)
    return raw


_PARSERS = {
    "bool": _parse_bool,
    "int": _parse_int,
    "float": _parse_float,
    "text": _parse_text,
    "choice": _parse_choice,
    "int_set": _parse_int_set,
    "link": _parse_link,
    "slug": _parse_slug,
    "rate": _parse_rate,
}


def _key(name: str, kind: Kind, default: object, description: str, **options: object) -> ConfigKey:
    key = ConfigKey(name, kind, default, description, **options)  # type: ignore[arg-type]
    key.parse(default)  # a default that breaks its own rules is a bug found at import time
    return key


def _from_setting(name: str, kind: Kind, setting: str, description: str, **options: object) -> ConfigKey:
    """A run-time key whose environment layer is an existing settings field (its default is that field's)."""
    from app.settings import Settings

    field_info = Settings.model_fields[setting]
    draft = ConfigKey(name, kind, None, description, setting=setting, **options)  # type: ignore[arg-type]
    default = draft.parse(field_info.get_default(call_default_factory=True))
    return _key(name, kind, default, description, setting=setting, **options)


RUNTIME_KEYS: tuple[ConfigKey, ...] = (
    _from_setting(
        "signup.enabled",
        "bool",
        "signup_enabled",
        "Visitors may create an account (with a password or a sign-in provider).",
        public=True,
    ),
    _from_setting(
        "signup.default_role",
        "choice",
        "signup_default_role",
        "Role a new account gets. Admin is never handed out by sign-up.",
        choices=("user", "creator"),
    ),
    _key("uploads.enabled", "bool", True, "Creators may upload adapters.", public=True),
    _from_setting(
        "uploads.max_bytes",
        "int",
        "max_adapter_upload_bytes",
        "Largest adapter upload (file or zip), in bytes.",
        minimum=1024,
        maximum=4 * 1024**3,
        public=True,
    ),
    _key(
        "moderation.required",
        "bool",
        False,
        "A creator's adapter (and each new version of it) waits as pending until an admin approves it.",
    ),
    _from_setting(
        "ratelimit.signin", "rate", "rate_limit_signin", "Sign-in attempts per client IP.", minimum=1, maximum=100_000
    ),
    _from_setting(
        "ratelimit.signin_failures",
        "rate",
        "rate_limit_signin_failures",
        "Failed sign-ins per account from browsers it has not seen.",
        minimum=1,
        maximum=100_000,
    ),
    _from_setting(
        "ratelimit.signup", "rate", "rate_limit_signup", "Accounts created per client IP.", minimum=1, maximum=100_000
    ),
    _from_setting(
        "ratelimit.password", "rate", "rate_limit_password", "Password changes per account.", minimum=1, maximum=100_000
    ),
    _from_setting(
        "ratelimit.api", "rate", "rate_limit_api", "JSON API requests per user (or IP).", minimum=1, maximum=100_000
    ),
    _key(
        "generation.temperature",
        "float",
        0.8,
        "Default sampling temperature in chat.",
        minimum=0.0,
        maximum=2.0,
        public=True,
    ),
    _key("generation.top_k", "int", 40, "Default top-k in chat (1 = greedy).", minimum=1, maximum=100, public=True),
    _key(
        "generation.max_tokens",
        "int",
        1024,
        "Default context size in tokens (prompt + answer) for the in-browser engine.",
        minimum=64,
        maximum=8192,
        public=True,
    ),
    _from_setting(
        "lora.ranks",
        "int_set",
        "lora_ranks",
        "LoRA ranks accepted on upload and declared to the engine at start (4, 8 and 16 are verified).",
        minimum=4,
        maximum=256,
        multiple_of=4,
        public=True,
    ),
    _key(
        "base_model.entry",
        "slug",
        "",
        "Registered base model the chat uses; empty: the first one registered.",
        max_length=80,
        public=True,
    ),
    _key(
        "lora.heap_budget_mib",
        "int",
        256,
        "MiB of LoRA files one in-browser engine instance may load before the chat starts a fresh one "
        "(the runtime cannot unload a LoRA).",
        minimum=1,
        maximum=4096,
        public=True,
    ),
    _key("compare.enabled", "bool", True, "Side-by-side compare view in chat.", public=True),
    _key("analytics.enabled", "bool", True, "Browsers send usage and performance metrics.", public=True),
    _key(
        "analytics.retention_days",
        "int",
        90,
        "Days raw analytics events are kept before rollup-only.",
        minimum=1,
        maximum=3650,
    ),
    _key(
        "banner.text",
        "text",
        "",
        "Announcement shown on every page; empty hides it. Plain text.",
        max_length=280,
        public=True,
    ),
    _key("banner.link", "link", "", "Optional link for the announcement.", max_length=500, public=True),
    _key(
        "maintenance.enabled",
        "bool",
        False,
        "Maintenance mode: the catalog is read-only and every page shows the message.",
        public=True,
    ),
    _key(
        "maintenance.message",
        "text",
        "Maintenance in progress: the catalog is read-only for now.",
        "Message shown during maintenance. Plain text.",
        max_length=280,
        public=True,
    ),
)


@dataclass(frozen=True, slots=True)
class Registry:
    keys: Mapping[str, ConfigKey] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ConfigKey:
        return self.keys[name]

    def __contains__(self, name: object) -> bool:
        return name in self.keys

    def __iter__(self):  # noqa: ANN204 - iterator of keys in declaration order
        return iter(self.keys.values())

    def runtime(self) -> list[ConfigKey]:
        return [key for key in self.keys.values() if key.runtime]

    def lookup(self, name: str) -> ConfigKey:
        """The key, or a refusal that says the key does not exist."""
        try:
            return self.keys[name]
        except KeyError:
            raise ConfigError(name[:64], "unknown key") from None

    def editable(self, name: str) -> ConfigKey:
        """The key if it may change at run time, else a refusal with the reason."""
        key = self.lookup(name)
        if not key.runtime:
            raise ConfigError(
                key.name, f"is set in the environment only ({key.env_var}) and cannot be changed at run time"
            )
        return key


def _is_secret(name: str, annotation: object) -> bool:
    return (
        name in _CREDENTIAL_FIELDS
        or any(word in name for word in _CREDENTIAL_WORDS)
        or "SecretStr" in str(annotation)
        or annotation is SecretStr
    )


def _environment_keys() -> list[ConfigKey]:
    """Every field of the settings object that no run-time key stands on."""
    from app.settings import Settings  # local: settings validates CONFIG__ values through this module

    taken = {"config"} | {key.setting for key in RUNTIME_KEYS if key.setting is not None}
    keys = []
    for name, info in Settings.model_fields.items():
        if name in taken:
            continue
        keys.append(
            ConfigKey(
                name=name,
                kind="text",
                default=None,
                description=info.description or "",
                runtime=False,
                secret=_is_secret(name, info.annotation),
                setting=name,
            )
        )
    return keys


def build_registry() -> Registry:
    keys: dict[str, ConfigKey] = {key.name: key for key in RUNTIME_KEYS}
    for key in _environment_keys():
        keys[key.name] = key
    return Registry(keys)


def environment_layer(settings: Settings) -> dict[str, object]:
    """The run-time keys' values that the environment sets (CONFIG__* and settings-backed keys)."""
    values = parse_env_layer(settings.config)
    for key in RUNTIME_KEYS:
        if key.setting is not None and key.setting in settings.model_fields_set:
            try:
                values[key.name] = key.parse(getattr(settings, key.setting))
            except ConfigError as exc:
                raise ValueError(f"{key.env_var}: {exc.reason}") from None
    return values


def parse_env_layer(raw: Mapping[str, str]) -> dict[str, object]:
    """Validate the CONFIG__* environment values; a bad one names its variable."""
    by_env = {key.env_var[len(ENV_PREFIX) :].lower(): key for key in RUNTIME_KEYS if key.setting is None}
    values: dict[str, object] = {}
    for env_name, text in raw.items():
        key = by_env.get(env_name.lower())
        if key is None:
            raise ValueError(f"{ENV_PREFIX}{env_name.upper()}: no such run-time key")
        try:
            values[key.name] = key.parse(text)
        except ConfigError as exc:
            raise ValueError(f"{key.env_var}: {exc.reason}") from None
    return values


def dump(value: object) -> str:
    """The stored and audited form of a value: JSON (a rate as its text, e.g. "10/60s")."""
    if isinstance(value, tuple):
        value = list(value)
    elif isinstance(value, BaseModel):
        value = str(value)
    return json.dumps(value, separators=(",", ":"))


def load(key: ConfigKey, text: str) -> object:
    """A stored value back to its typed form; run through the rules again so a hand-edited row cannot sneak in."""
    return key.parse(json.loads(text))
