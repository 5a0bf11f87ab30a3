"""Seconds to validate and convert a Gemma2-2b-sized rank-16 PEFT LoRA (q/k/v/o, all 26 layers).

The adapter is synthetic (random factors, F32 safetensors written by the `safetensors` package,
as PEFT saves them). Timed: `validate_peft` + `convert_peft` (the conversion itself), and the
whole upload path `ingest_adapter` (stream to staging with sha256, checks, conversion, commit to
local storage). Median of the rounds. Usage: .venv/bin/python bench/conversion.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.catalog.base_models import GEMMA2_2B  # noqa: E402
from app.catalog.intake import Upload, ingest_adapter  # noqa: E402
from app.catalog.peft import convert_peft, validate_peft  # noqa: E402
from app.catalog.synthetic import ATTENTION, random_factors, write_peft_adapter  # noqa: E402
from app.settings import load_settings  # noqa: E402
from app.storage import LocalStorage  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rank", type=int, default=16)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lorastudio-conversion-"))
    try:
        factors = random_factors(GEMMA2_2B, rank=args.rank, modules=ATTENTION, seed=0, std=0.02)
        config, weights = write_peft_adapter(
            work / "adapter", factors, rank=args.rank, alpha=2 * args.rank, base_model_name="google/gemma-2-2b-it"
        )
        print(f"input: adapter_model.safetensors {weights.stat().st_size:,} bytes (F32, {len(factors)} modules)")

        convert_times = []
        out = work / "adapter.bin"
        for _ in range(args.rounds):
            began = time.perf_counter()
            adapter = validate_peft(config, weights, ranks=(args.rank,))
            result = convert_peft(adapter, out)
            convert_times.append(time.perf_counter() - began)
        print(f"output: MediaPipe LoRA .bin {result.size:,} bytes, rank {result.rank}")
        print(
            f"validate + convert: median {statistics.median(convert_times):.3f} s (rounds: "
            + ", ".join(f"{t:.3f}" for t in convert_times)
            + ")"
        )

        ingest_times = []
        for i in range(args.rounds):
            settings = load_settings(data_dir=work / f"data{i}", lora_ranks=[args.rank])
            storage = LocalStorage(settings.effective_storage_dir)
            began = time.perf_counter()
            with open(config, "rb") as c, open(weights, "rb") as w:
                ingest_adapter(
                    [Upload("adapter_config.json", c), Upload("adapter_model.safetensors", w)],
                    storage=storage,
                    settings=settings,
                )
            ingest_times.append(time.perf_counter() - began)
        print(
            f"whole upload path (stage+hash, checks, conversion, commit): median {statistics.median(ingest_times):.3f} s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
