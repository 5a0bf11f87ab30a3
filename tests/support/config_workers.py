"""Drive `config_worker` processes from a test or a benchmark."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """One app worker stand-in: its own process, its own DB engine and Redis connection."""

    def __init__(self, db_url: str, redis_url: str, namespace: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.config_worker", db_url, redis_url, namespace],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.process.stdout, self._lines), daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()
        self.read(timeout=60)  # {"ready": true}

    def _pump(self, stream: IO[str], lines: queue.Queue[str]) -> None:
        for line in stream:
            lines.put(line)

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def read(self, *, timeout: float = 30) -> dict:
        try:
            return json.loads(self._lines.get(timeout=timeout))
        except queue.Empty:
            raise TimeoutError(f"worker did not answer; stderr:\n{''.join(self._stderr[-30:])}") from None

    def send(self, **request: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def call(self, **request: object) -> dict:
        self.send(**request)
        return self.read()

    def start_wait(self, key: str, value: object, *, timeout: float) -> None:
        """Begin watching for `value`; returns once the worker is polling its snapshot."""
        self.send(op="wait", key=key, value=value, timeout=timeout)
        assert self.read() == {"waiting": True}

    def seen(self, *, timeout: float = 30) -> float | None:
        return self.read(timeout=timeout)["seen"]

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
