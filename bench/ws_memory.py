"""Memory per connected browser session: open N Reflex websocket sessions, backend RSS growth.

Starts the production backend (`python -m app.serve --backend-only`, one worker) and opens N
websocket sessions the way a browser does (Engine.IO/Socket.IO over a websocket, connecting with
the hydrate event), each with its own client token, and keeps them open. Measures the backend's
resident memory (supervisor + worker) before (the baseline, same run) and at steps, and Redis'
own memory when state lives there. Prints KiB per session and the after/before ratio.

Usage: .venv/bin/python bench/ws_memory.py [--sessions 500] [--redis]
Only 127.0.0.1 is targeted; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
import redis
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import services  # noqa: E402
from tests.support.app_server import free_port, reflex_env  # noqa: E402

HYDRATE = "reflex___state____state.hydrate_and_load"


async def open_session(url: str) -> websockets.ClientConnection:
    token = str(uuid.uuid4())
    ws = await websockets.connect(
        f"{url}/_event/?token={token}&EIO=4&transport=websocket", open_timeout=20, max_size=None, ping_interval=None
    )
    opening = await asyncio.wait_for(ws.recv(), 20)
    assert str(opening).startswith("0{"), opening
    auth = {"event": {"name": HYDRATE, "payload": {}, "router_data": {"pathname": "/", "asPath": "/"}}}
    await ws.send("40/_event," + json.dumps(auth))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the state arrives: the session exists on the server
        message = str(await asyncio.wait_for(ws.recv(), 30))
        if message == "2":
            await ws.send("3")
        elif message.startswith("42/_event,") and "is_hydrated" in message:
            return ws
    raise TimeoutError("no hydration")


async def keep_alive(sockets: list[websockets.ClientConnection]) -> None:
    """Answer Engine.IO pings so the server keeps every session."""

    async def pump(ws: websockets.ClientConnection) -> None:
        try:
            async for message in ws:
                if message == "2":
                    await ws.send("3")
        except websockets.ConnectionClosed:
            pass

    for ws in sockets:
        asyncio.create_task(pump(ws))  # noqa: RUF006 - lives as long as the socket


def rss_bytes(pid: int) -> int:
    parent = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])


async def measure(url: str, pid: int, sessions: int, redis_url: str | None) -> list[tuple[int, int, int]]:
    store = redis.Redis.from_url(redis_url) if redis_url else None
    sockets = [await open_session(url)]  # warm-up: first-session allocations are not per-session cost
    await keep_alive(sockets)
    await asyncio.sleep(2)
    points = [(0, rss_bytes(pid), int(store.info("memory")["used_memory"]) if store else 0)]
    step = max(1, sessions // 5)
    opened: list[websockets.ClientConnection] = []
    while len(opened) < sessions:
        batch = min(step, sessions - len(opened))
        new = []
        for start in range(0, batch, 25):  # 25 at a time, like a crowd arriving
            new += await asyncio.gather(*(open_session(url) for _ in range(min(25, batch - start))))
        await keep_alive(new)
        opened += new
        await asyncio.sleep(2)
        points.append((len(opened), rss_bytes(pid), int(store.info("memory")["used_memory"]) if store else 0))
        print(f"  {len(opened):4d} sessions: backend RSS {points[-1][1] / 2**20:7.1f} MiB", flush=True)
    for ws in [*sockets, *opened]:
        await ws.close()
    return points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--redis", action="store_true", help="state in Redis (the multi-worker topology)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lorastudio-wsmem-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"DATA_DIR": str(work / "data"), "GRANIAN_WORKERS": "1", "ACCESS_LOG": "false"}
    redis_url = None
    if args.redis:
        if not services.redis_reachable():
            sys.exit("--redis needs Redis at 127.0.0.1:6379")
        redis_url = services.REDIS_URL.rsplit("/", 1)[0] + "/8"
        redis.Redis.from_url(redis_url).flushdb()
        env["REDIS_URL"] = redis_url
    log = (work / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.serve", "--backend-only", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=reflex_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (work / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/healthz/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.5)
        mode = "Redis state manager" if redis_url else "in-process state (embedded)"
        print(f"{args.sessions} websocket sessions against one backend worker, {mode}", flush=True)
        points = asyncio.run(
            asyncio.wait_for(measure(url.replace("http", "ws"), process.pid, args.sessions, redis_url), 600)
        )
        (n0, rss0, redis0), (n1, rss1, redis1) = points[0], points[-1]
        per_session = (rss1 - rss0) / (n1 - n0)
        print(f"backend RSS: {rss0 / 2**20:.1f} MiB -> {rss1 / 2**20:.1f} MiB (ratio {rss1 / rss0:.2f})")
        print(f"backend RSS growth per session: {per_session / 1024:.1f} KiB")
        if redis_url:
            print(f"Redis memory growth per session: {(redis1 - redis0) / (n1 - n0) / 1024:.1f} KiB")
        print("JSON", json.dumps({"mode": mode, "points": points, "per_session_bytes": per_session}))
        return 0
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        if redis_url:
            redis.Redis.from_url(redis_url).flushdb()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
