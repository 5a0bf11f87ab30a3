"""Cold and warm start of the README's first command (`scripts/start`), to the first page served.

Cold: a fresh clone of this repository (its own venv, bun and frontend build, from the package
registries' caches on this machine). Warm: the same clone started again. Prints seconds and the
warm/cold ratio; absolute times drift on these machines, the ratio much less.
Usage: .venv/bin/python bench/startup.py [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def start_and_time(clone: Path, port: int) -> float:
    env = {**os.environ, "PORT": str(port)}
    env.pop("VIRTUAL_ENV", None)
    began = time.perf_counter()
    proc = subprocess.Popen(
        ["scripts/start"],
        cwd=clone,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"scripts/start exited with {proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    return time.perf_counter() - began
            except httpx.HTTPError:
                time.sleep(0.25)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    parser.add_argument("--port", type=int, default=3917)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lorastudio-bench-"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    try:
        cold = start_and_time(clone, args.port)
        warm = start_and_time(clone, args.port)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"cold set-up + first page: {cold:7.1f} s")
    print(f"warm restart, first page: {warm:7.1f} s")
    print(f"ratio warm/cold:          {warm / cold:7.3f}")


if __name__ == "__main__":
    main()
