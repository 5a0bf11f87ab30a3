"""Command line: ``python -m app.catalog {check,convert,factorization}``.

check: run the catalog's upload checks on files (a PEFT pair, a zip or a .bin) without storing.
convert: PEFT adapter -> MediaPipe LoRA .bin. factorization: write the tiny base and the adapters
of the in-browser layout check (mediapipe-web.md §8.4).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from app.catalog.base_models import GEMMA2_2B, BaseModelSpec, tiny_spec
from app.catalog.errors import AdapterRejectedError
from app.catalog.intake import Upload, ingest_adapter
from app.catalog.peft import convert_peft, validate_peft
from app.catalog.synthetic import build_factorization_set
from app.settings import get_settings, load_settings
from app.storage import LocalStorage


def _base(tiny: bool) -> BaseModelSpec:
    return tiny_spec() if tiny else GEMMA2_2B


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.catalog")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="run the upload checks (and conversion) on files; stores nothing")
    check.add_argument("files", type=Path, nargs="+")
    check.add_argument("--tiny", action="store_true", help="check against the tiny test base instead of Gemma2-2b")
    conv = sub.add_parser("convert", help="convert a PEFT adapter folder to a MediaPipe LoRA .bin")
    conv.add_argument("adapter_dir", type=Path, help="folder with adapter_config.json and adapter_model.safetensors")
    conv.add_argument("--out", type=Path, required=True)
    conv.add_argument("--tiny", action="store_true")
    fac = sub.add_parser("factorization", help="write the §8.4 browser check set (tiny base + adapters)")
    fac.add_argument("--out", type=Path, required=True)
    fac.add_argument("--rank", type=int, default=4)
    fac.add_argument("--modules", default="q_proj,k_proj,v_proj,o_proj")
    args = parser.parse_args(argv)

    if args.command == "factorization":
        paths = build_factorization_set(args.out, rank=args.rank, modules=args.modules.split(","))
        for label, path in paths.items():
            print(f"{label}\t{path}")
        return 0
    if args.command == "convert":
        ranks = get_settings().lora_ranks
        try:
            adapter = validate_peft(
                args.adapter_dir / "adapter_config.json",
                args.adapter_dir / "adapter_model.safetensors",
                base=_base(args.tiny),
                ranks=ranks,
            )
            result = convert_peft(adapter, args.out)
        except AdapterRejectedError as exc:
            print(f"rejected: {exc}", file=sys.stderr)
            return 1
        print(f"{result.path}\t{result.size} bytes\trank {result.rank}\tmlp {result.include_mlp}")
        return 0

    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        settings = load_settings(data_dir=Path(scratch))
        storage = LocalStorage(settings.effective_storage_dir)
        uploads = [Upload(path.name, open(path, "rb")) for path in args.files]  # noqa: SIM115
        try:
            result = ingest_adapter(uploads, storage=storage, base=_base(args.tiny), settings=settings)
        except AdapterRejectedError as exc:
            print(f"rejected: {exc}", file=sys.stderr)
            return 1
        finally:
            for upload in uploads:
                upload.source.close()  # type: ignore[union-attr]
    print(
        f"ok: {result.source_format} adapter for {result.base_label}, rank {result.rank}, "
        f"modules {', '.join(result.target_modules)}"
    )
    for item in result.files:
        print(f"  {item.role}\t{item.size:,} bytes\tsha256 {item.key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
