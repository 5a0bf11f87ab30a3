"""Start the real app (`reflex run --env prod`, one port) for browser and HTTP tests."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
REFLEX = Path(sys.executable).with_name("reflex")
START_TIMEOUT_S = float(os.environ.get("TEST_APP_START_TIMEOUT", "240"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reflex_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "0",
        "PYTHONUNBUFFERED": "1",
    }
    bun = ROOT / ".tools/node_modules/@oven/bun-linux-x64/bin/bun"
    if "REFLEX_BUN_PATH" not in env and bun.exists():
        env["REFLEX_BUN_PATH"] = str(bun)
    env.update(extra)
    return env


WEB_SLOTS = ROOT / ".web-test"


def _claim_web_slot() -> tuple[Path, object]:
    """A compiled frontend folder of this server's own, held (flock) while the server lives.

    A production build bakes the backend port into the frontend, so two servers must never
    share one `.web`. Slots are reused across runs so `bun install` happens once per slot.
    """
    WEB_SLOTS.mkdir(exist_ok=True)
    for index in range(64):
        slot = WEB_SLOTS / f"slot-{index}"
        handle = open(WEB_SLOTS / f"slot-{index}.lock", "w")  # noqa: SIM115 - held until stop()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return slot, handle
    raise RuntimeError("no free frontend slot under .web-test/")


class AppServer:
    def __init__(self, *, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.log_path = data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._slot_lock: object | None = None
        self.web_dir: Path | None = None

    def start(self) -> AppServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        web_dir, self._slot_lock = _claim_web_slot()
        self.web_dir = web_dir
        env = reflex_env(
            DATA_DIR=str(self.data_dir),
            REFLEX_WEB_WORKDIR=str(web_dir),
            REFLEX_STATES_WORKDIR=str(self.data_dir / "states"),
            **self.extra_env,
        )
        cmd = [str(REFLEX), "run", "--env", "prod", "--frontend-port", str(self.port), "--backend-port", str(self.port)]
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()
        return self

    @property
    def genai_package(self) -> Path:
        """The `@mediapipe/tasks-genai` package this server's build installed."""
        assert self.web_dir is not None, "server not started"
        return self.web_dir / "node_modules" / "@mediapipe" / "tasks-genai"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"app exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if (
                    httpx.get(f"{self.url}/ping", timeout=2).status_code == 200
                    and httpx.get(self.url, timeout=5).status_code == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"app did not start within {START_TIMEOUT_S}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        try:
            self._stop_process()
        finally:
            if self._slot_lock is not None:
                self._slot_lock.close()  # type: ignore[attr-defined]
                self._slot_lock = None

    def _stop_process(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
