"""Helpers for the observability tests: settings from the environment, and metric samples."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from app.observability import metrics
from app.observability.logs import JsonFormatter
from app.settings import get_settings


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set environment variables and re-read the app's settings; undone after the test."""

    def apply(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


def sample(name: str, **labels: str) -> float:
    """The current value of one metric series, summed over every process writing metrics."""
    # Imported here: prometheus_client must first be imported by app.observability.metrics,
    # which chooses its multiprocess storage.
    from prometheus_client.parser import text_string_to_metric_families

    text = metrics.render()[0].decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for item in family.samples:
            if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                total += item.value
    return total


class JsonLines:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def records(self, logger: str | None = None) -> list[dict]:
        lines = [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]
        return [line for line in lines if logger is None or line["logger"] == logger]


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    """Everything the app's loggers write, as parsed JSON objects."""
    captured = JsonLines()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("lorastudio")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield captured
    logger.removeHandler(handler)
    logger.setLevel(previous)
