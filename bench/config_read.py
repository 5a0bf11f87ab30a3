"""Hot-path read of a config key, against a plain dict lookup measured in the same run (target: <= 3x).

Measures both read forms: `config.values[key]` (read-only view of the snapshot) and `config.get(key)`.

Run: .venv/bin/python bench/config_read.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: bench/NAME.py

import argparse
import tempfile
import timeit

from app.config import RuntimeConfig
from app.db import engine_for
from app.settings import load_settings
from tests.support import migrations

KEY = "signup.enabled"


def _best(stmt: str, namespace: dict, *, number: int, repeat: int) -> float:
    """Seconds per execution, best of `repeat` (the least disturbed by other load on the machine)."""
    return min(timeit.repeat(stmt, globals=namespace, number=number, repeat=repeat)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        migrations.upgrade(url)
        config = RuntimeConfig(settings=load_settings(data_dir=Path(scratch)), engine=engine_for(url), redis_url=None)
        plain = dict(config.values)
        namespace = {"config": config, "plain": plain, "KEY": KEY}
        assert config.get(KEY) == plain[KEY]

        timing = {"number": args.number, "repeat": args.repeat}
        empty = _best("pass", namespace, **timing)
        baseline = _best("plain[KEY]", namespace, **timing)
        read = _best("config.get(KEY)", namespace, **timing)
        mapping = _best("config.values[KEY]", namespace, **timing)

    def net(value: float) -> float:
        return max(value - empty, 1e-12)

    print(f"loop overhead           {empty * 1e9:6.1f} ns")
    print(f"plain dict lookup       {baseline * 1e9:6.1f} ns  (net {net(baseline) * 1e9:5.1f} ns)")
    print(f"config.get(key)         {read * 1e9:6.1f} ns  (net {net(read) * 1e9:5.1f} ns)")
    print(f"config.values[key]      {mapping * 1e9:6.1f} ns  (net {net(mapping) * 1e9:5.1f} ns)")
    print(
        f"ratio config.values[key] / dict lookup: {net(mapping) / net(baseline):.2f}x net of loop overhead, "
        f"{mapping / baseline:.2f}x gross  (target <= 3x)"
    )
    print(
        f"ratio config.get(key) / dict lookup:    {net(read) / net(baseline):.2f}x net of loop overhead, "
        f"{read / baseline:.2f}x gross"
    )


if __name__ == "__main__":
    main()
