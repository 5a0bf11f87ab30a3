"""Process environment the metrics need, set before any worker starts.

Production runs several server worker processes; Prometheus' client aggregates them through
files in one directory (multiprocess mode), which must be chosen before prometheus_client is
imported and before the workers fork. rxconfig.py calls this in the supervising process.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

ENV = "PROMETHEUS_MULTIPROC_DIR"


def ensure_metrics_dir() -> str:
    """The shared metrics directory: the operator's, or a fresh empty one for this server run."""
    path = os.environ.get(ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        return path
    path = tempfile.mkdtemp(prefix="lorastudio-metrics-")
    os.environ[ENV] = path
    creator = os.getpid()
    atexit.register(lambda: os.getpid() == creator and shutil.rmtree(path, ignore_errors=True))
    return path
