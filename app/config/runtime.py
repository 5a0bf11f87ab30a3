"""The configuration a worker reads: an in-memory snapshot of every run-time key, kept current.

Reading is `config.values["signup.enabled"]` (a read-only view of the current snapshot dict) or
`config.get("signup.enabled")` (that dict's bound `__getitem__`): a dict lookup, nothing more. A change
swaps in a whole new dict, so a reader never sees half of one. A change goes through validation, the database (override + audit
row in one transaction) and then the fan-out; a refused change touches nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.config import store
from app.config.fanout import DatabasePoll, RedisFanout
from app.config.keys import ConfigError, ConfigKey, Registry, Source, build_registry, dump, environment_layer, load
from app.config.store import Actor, AuditRecord
from app.settings import Settings

log = logging.getLogger("lorastudio.config")
_UNSET = object()


@dataclass(frozen=True, slots=True)
class Entry:
    """One key as the admin page and the CLI show it. Secrets carry no value at all."""

    key: str
    group: str
    value: str | None  # JSON text; None for a secret
    source: Source
    default: str | None
    description: str
    bounds: str
    editable: bool
    secret: bool
    env_var: str


@dataclass(frozen=True, slots=True)
class PublicConfig:
    """What the browser may see, pre-serialised once per change so the route only copies bytes."""

    values: Mapping[str, object]
    body: bytes
    etag: str


class RuntimeConfig:
    get: Callable[[str], object]

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        redis_url: str | None | object = _UNSET,
        namespace: str = "lorastudio:",
        check_interval: float = 1.0,
        poll_interval: float = 2.0,
    ) -> None:
        self.registry: Registry = build_registry()
        self._settings = settings
        self._engine = engine
        self._env = environment_layer(settings)
        self._base = {key.name: self._env.get(key.name, key.default) for key in self.registry.runtime()}
        self._lock = threading.Lock()
        self._overridden: frozenset[str] = frozenset()
        self.version = -1
        self._install(dict(self._base), frozenset(), -1)
        self.refresh()
        url = settings.redis_url if redis_url is _UNSET else redis_url
        self._fanout: RedisFanout | DatabasePoll
        if url:
            self._fanout = RedisFanout(
                str(url),
                namespace=namespace,
                local_version=lambda: self.version,
                reload=self.refresh,
                interval=check_interval,
            )
        else:
            self._fanout = DatabasePoll(
                remote_version=self._db_version,
                local_version=lambda: self.version,
                reload=self.refresh,
                interval=poll_interval,
            )

    # -- reading -----------------------------------------------------------------------------

    def _install(self, values: dict[str, object], overridden: frozenset[str], version: int) -> None:
        self.values: Mapping[str, object] = MappingProxyType(values)  # the hot path: a dict lookup
        self.get = values.__getitem__
        self._overridden = overridden
        self.version = version
        self.public = _public(self.registry, values)

    def __getitem__(self, name: str) -> object:
        return self.values[name]

    def source(self, name: str) -> Source:
        if name in self._overridden:
            return "override"
        key = self.registry.lookup(name)
        if key.runtime:
            return "env" if name in self._env else "default"
        assert key.setting is not None
        return "env" if key.setting in self._settings.model_fields_set else "default"

    def fallback(self, name: str) -> object:
        """What the key would be without its override: env, else default."""
        return self._base[name]

    def entries(self) -> list[Entry]:
        rows = []
        for key in self.registry:
            secret = key.secret
            if not key.runtime:
                assert key.setting is not None
                current = getattr(self._settings, key.setting)
                value = None if secret else dump(_plain_setting(current))
                default = None
                if not secret:
                    field_default = (
                        type(self._settings).model_fields[key.setting].get_default(call_default_factory=True)
                    )
                    default = dump(_plain_setting(field_default))
            else:
                value = dump(self.values[key.name])
                default = dump(key.default)
            rows.append(
                Entry(
                    key=key.name,
                    group=key.group,
                    value=value,
                    source=self.source(key.name),
                    default=default,
                    description=key.description,
                    bounds=key.bounds() if key.runtime else "set in the environment",
                    editable=key.runtime,
                    secret=secret,
                    env_var=key.env_var,
                )
            )
        return rows

    # -- changing ----------------------------------------------------------------------------

    def validate(self, name: str, raw: object) -> tuple[ConfigKey, object]:
        """The key and the parsed value, or ConfigError with the reason. Touches nothing."""
        key = self.registry.editable(name)
        return key, key.parse(raw)

    def set(self, name: str, raw: object, *, actor: Actor) -> AuditRecord:
        key, value = self.validate(name, raw)
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            record = store.set_override(session, key=key, value=value, fallback=self._base[key.name], actor=actor)
        self._after_change(record)
        return record

    def reset(self, name: str, *, actor: Actor) -> AuditRecord | None:
        key = self.registry.editable(name)
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            record = store.delete_override(session, key=key, fallback=self._base[key.name], actor=actor)
        if record is not None:
            self._after_change(record)
        return record

    def _after_change(self, record: AuditRecord) -> None:
        log.info("config %s %s by %s (change %d)", record.key, record.action, record.actor, record.id)
        version = self.refresh()
        self._fanout.announce(max(version, record.id))

    def audit_log(self, *, limit: int = 100, key: str | None = None) -> list[AuditRecord]:
        with Session(self._engine) as session:
            return store.audit_log(session, limit=limit, key=key)

    # -- keeping current -----------------------------------------------------------------------

    def _db_version(self) -> int:
        with Session(self._engine) as session:
            return store.current_version(session)

    def refresh(self) -> int:
        """Reload overrides from the database; on failure keep serving the snapshot we have."""
        with self._lock:  # one reload at a time, so an older read never replaces a newer snapshot
            try:
                with Session(self._engine) as session:
                    version, rows = store.read_overrides(session)
            except Exception as exc:  # noqa: BLE001 - a worker must keep answering with what it knows
                log.warning("config reload failed, keeping version %d: %s", self.version, exc.__class__.__name__)
                return self.version
            values = dict(self._base)
            overridden = set()
            for name, text in rows.items():
                key = self.registry.keys.get(name)
                if key is None or not key.runtime:
                    log.warning("ignoring stored override for %r: not a run-time key", name)
                    continue
                try:
                    values[name] = load(key, text)
                except (ConfigError, ValueError):
                    log.warning("ignoring stored override for %s: no longer valid", name)
                    continue
                overridden.add(name)
            self._install(values, frozenset(overridden), version)
            return version

    def start(self) -> RuntimeConfig:
        self._fanout.start()
        return self

    def close(self) -> None:
        self._fanout.stop()

    @property
    def connected(self) -> bool:
        """Whether changes from other workers arrive right now (always true without Redis)."""
        return not isinstance(self._fanout, RedisFanout) or self._fanout.connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return not isinstance(self._fanout, RedisFanout) or self._fanout.connected.wait(timeout)


def _plain_setting(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _public(registry: Registry, values: Mapping[str, object]) -> PublicConfig:
    public = {
        key.name: list(v) if isinstance((v := values[key.name]), tuple) else v
        for key in registry.runtime()
        if key.public
    }
    body = json.dumps(public, separators=(",", ":"), sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return PublicConfig(MappingProxyType(public), body, etag)


@functools.cache
def get_runtime_config() -> RuntimeConfig:
    """This process's configuration; the app's start-up calls `.start()` to follow other workers."""
    from app.db import get_engine
    from app.settings import get_settings

    return RuntimeConfig(settings=get_settings(), engine=get_engine())


class MaintenanceError(PermissionError):
    """Raised by writes to the catalog while maintenance mode is on; `message` is the admin's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def ensure_writable(config: RuntimeConfig | None = None) -> None:
    """Call before any catalog write: maintenance mode makes the catalog read-only for everyone."""
    values = (config or get_runtime_config()).values
    if values["maintenance.enabled"]:
        raise MaintenanceError(str(values["maintenance.message"]))
