"""Production topologies on loopback: the exported static site on a static server, backends run
alone (`reflex run --env prod --backend-only` or `python -m app.serve`), several of them behind
one entry point.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from tests.support.app_server import REFLEX, ROOT, START_TIMEOUT_S, free_port, reflex_env


def export_site(*, api_url: str, dest: Path, work: Path) -> Path:
    """`reflex export --frontend-only --no-zip` with the backend URL baked in.

    Built in its own web directory (REFLEX_WEB_WORKDIR) so that it never replaces the pages a
    running `reflex run --env prod` serves from .web; the result is copied to `dest`."""
    web = work / ".web"
    env = reflex_env(REFLEX_API_URL=api_url, REFLEX_WEB_WORKDIR=str(web), DATA_DIR=str(work / "data"))
    result = subprocess.run(
        [str(REFLEX), "export", "--frontend-only", "--no-zip"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )
    built = web / "build" / "client"
    if result.returncode != 0 or not (built / "index.html").is_file():
        raise RuntimeError(
            f"reflex export failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    shutil.copytree(built, dest)
    return dest


def static_app(site: Path) -> Starlette:
    """What any static host does with the export (nginx: try_files $uri $uri.html $uri/index.html)."""
    root = site.resolve()

    async def serve(request: Request) -> Response:
        path = request.url.path.strip("/")
        for candidate in (path, f"{path}.html", f"{path}/index.html" if path else "index.html"):
            file = (root / candidate).resolve()
            if file.is_file() and file.is_relative_to(root):
                return FileResponse(file)
        return FileResponse(root / "404.html", status_code=404)

    return Starlette(routes=[Route("/{path:path}", serve, methods=["GET", "HEAD"])])


class StaticServer:
    def __init__(self, site: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(static_app(site), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> StaticServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "static server did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


class Backend:
    """One backend process: `reflex run --env prod --backend-only` (the documented static-export
    command, command="reflex") or `python -m app.serve` (the image's, command="serve"), which
    also serves the pages built by `reflex export` unless pages=False."""

    def __init__(self, *, data_dir: Path, env: dict[str, str], command: str = "reflex", pages: bool = False) -> None:
        self.pages = pages
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.command = command
        self.log_path = data_dir / f"backend-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Backend:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.command == "reflex":
            cmd = [str(REFLEX), "run", "--env", "prod", "--backend-only", "--backend-port", str(self.port)]
        else:
            cmd = [sys.executable, "-m", "app.serve", "--port", str(self.port), "--host", "127.0.0.1"]
            if not self.pages:
                cmd.append("--backend-only")
        env = reflex_env(DATA_DIR=str(self.data_dir), **self.env)
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"backend exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz/live", timeout=2).status_code == 200:
                    return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"backend did not start within {START_TIMEOUT_S}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    def stop(self) -> None:
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
