"""Throughput of a 1 GiB download through the app's `/files/` route, as a ratio to nginx.

Both serve the same stored file on loopback in the same run: the real app (`reflex run --env
prod`, as tests/support/app_server.py starts it) and nginx (Debian package; a temporary config,
sendfile on). curl downloads to /dev/null, alternating servers; the median of the rounds counts.
Target: ratio >= 0.8. Usage: .venv/bin/python bench/delivery.py [--size-mib 1024] [--rounds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.storage import LocalStorage  # noqa: E402
from tests.support.app_server import AppServer, free_port  # noqa: E402

MIB = 1024 * 1024


def make_file(storage: LocalStorage, size_mib: int) -> str:
    block = hashlib.sha256(b"bench").digest() * (MIB // 32)

    def chunks():
        for i in range(size_mib):
            yield i.to_bytes(8, "little") + block[8:]

    return storage.put_stream(chunks()).key


def start_nginx(work: Path, storage_root: Path) -> tuple[subprocess.Popen[bytes], str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed: apt-get install -y nginx")
    port = free_port()
    prefix = work / "nginx"
    (prefix / "logs").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        textwrap.dedent(f"""
        daemon off;
        worker_processes 1;
        pid {prefix}/nginx.pid;
        error_log {prefix}/logs/error.log warn;
        events {{ worker_connections 64; }}
        http {{
            access_log off;
            sendfile on;
            tcp_nopush on;
            client_body_temp_path {prefix}/body;
            proxy_temp_path {prefix}/proxy;
            fastcgi_temp_path {prefix}/fastcgi;
            uwsgi_temp_path {prefix}/uwsgi;
            scgi_temp_path {prefix}/scgi;
            default_type application/octet-stream;
            server {{
                listen 127.0.0.1:{port};
                location ~ "^/files/(([0-9a-f]{{2}})([0-9a-f]{{2}})[0-9a-f]{{60}})$" {{
                    alias {storage_root}/$2/$3/$1;
                }}
            }}
        }}
        """)
    )
    proc = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs/error.log")])
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url, timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"nginx did not start: {(prefix / 'logs/error.log').read_text()}")


def download(url: str, expected: int) -> float:
    """Bytes per second of one curl download to /dev/null."""
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    status, size, seconds = int(out[0]), int(out[1]), float(out[2])
    if status != 200 or size != expected:
        raise SystemExit(f"{url}: HTTP {status}, {size} bytes (expected {expected})")
    return size / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lorastudio-delivery-"))
    work.chmod(0o755)  # nginx workers run as an unprivileged user
    app = nginx = None
    try:
        data_dir = work / "data"
        storage = LocalStorage(data_dir / "files")
        began = time.perf_counter()
        key = make_file(storage, args.size_mib)
        size = args.size_mib * MIB
        print(f"file: {size:,} bytes, sha256 {key[:16]}..., written in {time.perf_counter() - began:.1f} s")
        app = AppServer(data_dir=data_dir).start()
        nginx, nginx_url = start_nginx(work, storage.root)
        urls = {"app": f"{app.url}/files/{key}", "nginx": f"{nginx_url}/files/{key}"}
        for url in urls.values():  # warm the page cache and both servers
            download(url, size)
        speeds: dict[str, list[float]] = {"app": [], "nginx": []}
        for _ in range(args.rounds):
            for name, url in urls.items():
                speeds[name].append(download(url, size))
        app_bps, nginx_bps = statistics.median(speeds["app"]), statistics.median(speeds["nginx"])
        for name, values in speeds.items():
            rounds = ", ".join(f"{v / MIB:,.0f}" for v in values)
            print(f"{name:6s} median {statistics.median(values) / MIB:8,.0f} MiB/s  (rounds: {rounds})")
        print(f"ratio app/nginx: {app_bps / nginx_bps:.2f}  (target >= 0.8)")
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=10)
        if app is not None:
            app.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
