"""Shared fixtures: the tiny model set is built once per session (it takes well under a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.mediapipe_format.cli import write_tiny_set


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    write_tiny_set(out)
    return out
