"""Load on loopback: 200 concurrent clients for 60 s against 1 backend worker, then 2 workers.

The server is the production one (`python -m app.serve`: the built pages and the backend on
one port, GRANIAN_WORKERS workers) on the real PostgreSQL and Redis. The load generator is wrk
(Debian: `apt-get install wrk`) with a Lua script that mixes the requests below and reports
p50/p95/p99 and every kind of error. Prints requests/s per worker count and the ratio
2 workers / 1 worker (the baseline is measured in the same run), and exits non-zero on errors.

Request mix (weights): what a signed-in visitor costs the app today. Every request carries the
visitor's session cookie, so each guarded route resolves the session (Redis) and the user
(PostgreSQL). Catalog browsing and analytics ingest are added automatically once their routes
exist (probed at start).

Usage: .venv/bin/python bench/load.py [--duration 60] [--connections 200] [--workers 1,2]
Only 127.0.0.1 is ever targeted; every run is bounded by --duration.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import migrations, services  # noqa: E402
from tests.support.app_server import free_port, reflex_env  # noqa: E402
from tests.support.topology import export_site  # noqa: E402

BASE_MIX = [
    (4, "GET", "/", None),  # the home page (HTML from the build)
    (2, "GET", "/catalog/", None),  # the catalog page
    (3, "GET", "/runtime/mediapipe/0.10.29/genai_wasm_internal.js", None),  # engine file; session + user lookup
    (1, "GET", "/healthz/ready", None),  # what load balancers call
]
OPTIONAL = [
    # (weight, method, path, body, probe): added when `probe` answers below 400.
    (2, "GET", "/api/v1/adapters?sort=popular&per_page=24", None, "/api/v1/adapters"),
    (1, "GET", "/api/v1/adapters?q=demo&sort=newest", None, "/api/v1/adapters?q=demo"),
    (1, "GET", "/api/v1/facets", None, "/api/v1/facets"),
    (
        3,
        "POST",
        "/api/v1/events",
        json.dumps(
            {
                "events": [
                    {
                        "v": 1,
                        "type": "page_view",
                        "page": "catalog",
                        "session_id": "bench-session-000001",
                        "app_version": "0.1.0",
                    },
                    {
                        "v": 1,
                        "type": "page_view",
                        "page": "adapter",
                        "session_id": "bench-session-000001",
                        "app_version": "0.1.0",
                    },
                ]
            }
        ),
        "/api/v1/events",
    ),
]

LUA = r"""
local mix = MIX
local i = 0
request = function()
  i = i + 1
  local item = mix[(i % #mix) + 1]
  local headers = {Cookie = COOKIE, Origin = ORIGIN}
  if item.body then headers["Content-Type"] = "application/json" end
  return wrk.format(item.method, item.path, headers, item.body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, '
    .. '"timeout": %d, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


def lua_script(mix: list[tuple[int, str, str, str | None]], cookie: str, origin: str) -> str:
    items = []
    for weight, method, path, body in mix:
        body_lua = "nil" if body is None else "[==[" + body + "]==]"
        items += [f'{{method="{method}", path="{path}", body={body_lua}}}'] * weight
    return (
        LUA.replace("MIX", "{" + ", ".join(items) + "}")
        .replace("COOKIE", "[==[" + cookie + "]==]")
        .replace("ORIGIN", "[==[" + origin + "]==]")
    )


def sign_in(url: str, db_url: str) -> str:
    """A user, signed in over HTTP like a browser: returns the Cookie header value."""
    from sqlmodel import Session

    from app.db import engine_for
    from tests.support.auth import PASSWORD, make_user

    with Session(engine_for(db_url)) as db:
        make_user(db, email="load@example.com", name="Load Tester")
    response = httpx.post(
        f"{url}/auth/signin",
        data={"email": "load@example.com", "password": PASSWORD},
        headers={"Accept": "application/json", "Origin": url},
    )
    assert response.status_code == 200 and response.json().get("ok"), response.text
    return "; ".join(f"{name}={value}" for name, value in response.cookies.items())


class Server:
    def __init__(self, *, workers: int, port: int, env: dict[str, str], log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "app.serve", "--host", "127.0.0.1", "--port", str(port)]
        full_env = reflex_env(GRANIAN_WORKERS=str(workers), **env)
        self.process = subprocess.Popen(
            cmd, cwd=ROOT, env=full_env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 120
        while True:
            assert self.process.poll() is None, "server exited:\n" + log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(f"{self.url}/healthz/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"server did not start; see {log}"
            time.sleep(0.5)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


def run_wrk(url: str, script: Path, *, connections: int, duration: int) -> dict:
    result = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed:\n{result.stdout}\n{result.stderr}")
    data = json.loads(line[len("RESULT ") :])
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    data["errors"] = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    if not (services.postgres_reachable() and services.redis_reachable()):
        sys.exit("needs PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 (the production topology)")

    work = Path(tempfile.mkdtemp(prefix="lorastudio-load-"))
    port = free_port()
    db_url = services.create_postgres_database()
    redis_url = services.REDIS_URL.rsplit("/", 1)[0] + "/9"
    try:
        migrations.upgrade(db_url)
        print("building the pages (reflex export)...", flush=True)
        export_site(api_url=f"http://127.0.0.1:{port}", dest=work / "site", work=work / "web")
        env = {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "DATA_DIR": str(work / "data"),
            "REFLEX_WEB_WORKDIR": str(work / "web" / ".web"),
            "SECRET_KEY": "load-benchmark-secret-key",
            "SEED_DEMO_CATALOG": "true",  # something to browse
            # One benchmark client is one user: lift the per-user API limit (300/min) out of the way.
            "RATE_LIMIT_API": "100000/1",
        }
        results: dict[int, dict] = {}
        mix = list(BASE_MIX)
        for count in [int(w) for w in args.workers.split(",")]:
            redis.Redis.from_url(redis_url).flushdb()
            server = Server(workers=count, port=port, env=env, log=work / f"server-{count}.log")
            try:
                if count == int(args.workers.split(",")[0]):
                    cookie = sign_in(server.url, db_url)
                    for weight, method, path, body, probe in OPTIONAL:
                        headers = {"Cookie": cookie, "Origin": server.url, "Content-Type": "application/json"}
                        status = httpx.request(
                            method, server.url + probe, content=body or None, headers=headers
                        ).status_code
                        if status < 400:
                            mix.append((weight, method, path, body))
                    print("mix:", ", ".join(f"{w}x {m} {p}" for w, m, p, _ in mix), flush=True)
                    script = work / "mix.lua"
                    script.write_text(lua_script(mix, cookie, server.url))
                run_wrk(server.url, script, connections=20, duration=3)  # warm-up
                results[count] = run_wrk(server.url, script, connections=args.connections, duration=args.duration)
            finally:
                server.stop()
            r = results[count]
            print(
                f"{count} worker(s): {r['rps']:8.0f} req/s  p50 {r['p50_ms']:.1f} ms  p95 {r['p95_ms']:.1f} ms  "
                f"p99 {r['p99_ms']:.1f} ms  errors {r['errors']} ({r['requests']} requests, "
                f"{args.connections} connections, {args.duration} s)",
                flush=True,
            )
        counts = sorted(results)
        if len(counts) >= 2:
            ratio = results[counts[-1]]["rps"] / results[counts[0]]["rps"]
            print(f"throughput ratio {counts[-1]} workers / {counts[0]} worker: {ratio:.2f} (cores: {os.cpu_count()})")
        print("JSON", json.dumps({str(k): v for k, v in results.items()}))
        return 1 if any(r["errors"] for r in results.values()) else 0
    finally:
        services.drop_postgres_database(db_url)
        redis.Redis.from_url(redis_url).flushdb()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
