"""Configuration: typed keys declared once, layered default < environment < run-time override.

`get_runtime_config().values["signup.enabled"]` is the hot-path read (a dict lookup). Changes go through
`RuntimeConfig.set/reset`, which validate, store, audit and fan out to every worker.
"""

from app.config.keys import ConfigError, ConfigKey
from app.config.runtime import (
    Entry,
    MaintenanceError,
    PublicConfig,
    RuntimeConfig,
    ensure_writable,
    get_runtime_config,
)
from app.config.store import Actor, AuditRecord

__all__ = [
    "Actor",
    "AuditRecord",
    "ConfigError",
    "ConfigKey",
    "Entry",
    "MaintenanceError",
    "PublicConfig",
    "RuntimeConfig",
    "ensure_writable",
    "get_runtime_config",
]
