"""Logging configuration: one JSON object per line on stdout, ready for ELK/Loki.

Every line carries the request/event id and the user id of the task that wrote it. Values
whose key names a secret or user content (passwords, tokens, cookies, prompts, answers) are
replaced by "[redacted]" wherever they appear in a record's structured fields: log data as
fields (`log.info("...", extra={...})`), never interpolated into the message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

from app.observability import log_context

REDACTED = "[redacted]"
# A field is sensitive when its name, split into words (snake_case, kebab-case, camelCase), holds
# one of these words or pairs, or is one of the whole names. "tokens_per_second" stays visible.
_SENSITIVE_WORDS = frozenset(
    {"password", "passwd", "passphrase", "secret", "token", "authorization", "cookie", "cookies", "credential"}
    | {"credentials", "apikey", "prompt", "prompts", "answer", "answers", "transcript", "csrf", "otp"}
)
_SENSITIVE_PAIRS = frozenset({("api", "key"), ("private", "key"), ("session", "id"), ("session", "key")})
_SENSITIVE_NAMES = frozenset({"session", "content", "body", "text", "message_text", "messages", "completion", "code"})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def is_sensitive(key: str) -> bool:
    if key.lower() in _SENSITIVE_NAMES:
        return True
    words = [word.lower() for word in _WORD.findall(key)]
    return any(word in _SENSITIVE_WORDS for word in words) or any(
        pair in _SENSITIVE_PAIRS for pair in zip(words, words[1:])
    )


_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_MAX_DEPTH = 6


def redact(value: Any, *, _depth: int = 0) -> Any:
    """A copy of `value` with every sensitive key's value replaced (dicts, lists, tuples)."""
    if _depth > _MAX_DEPTH:
        return "..."
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if is_sensitive(str(key)) else redact(item, _depth=_depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item, _depth=_depth + 1) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        ctx = log_context.current()
        if ctx is not None:
            entry["request_id"] = ctx.request_id
            if ctx.user_id is not None:
                entry["user_id"] = ctx.user_id
        extras = {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS}
        entry.update(redact(extras))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For a terminal: the same fields, readable."""

    def format(self, record: logging.LogRecord) -> str:
        extras = redact({key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS})
        ctx = log_context.current()
        head = f"{record.levelname:<7} {record.name}: {record.getMessage()}"
        if ctx is not None:
            extras = {"request_id": ctx.request_id, **({"user_id": ctx.user_id} if ctx.user_id else {}), **extras}
        fields = " ".join(f"{key}={value}" for key, value in extras.items())
        text = f"{head} {fields}".rstrip()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


_HANDLER_NAME = "lorastudio"


def configure_logging(*, level: str = "info", fmt: str = "json") -> None:
    """Install the handler on the app's loggers (idempotent; workers inherit it when forked)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger = logging.getLogger("lorastudio")
    for existing in list(logger.handlers):
        if existing.get_name() == _HANDLER_NAME:
            logger.removeHandler(existing)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
