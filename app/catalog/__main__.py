"""Command line: ``python -m app.catalog {check,convert,factorization,seed-demo,register-base,sweep-storage}``.

check: run the catalog's upload checks on files (a PEFT pair, a zip or a .bin) without storing.
convert: PEFT adapter -> MediaPipe LoRA .bin. factorization: write the tiny base and the adapters
of the in-browser layout check (mediapipe-web.md §8.4). seed-demo: add the demo adapters (tiny
model family) to the configured database and storage. register-base: register a base model file
from a path or a URL + sha256 (the operator's shell is trusted: no import-folder restriction).
sweep-storage: delete stored files nothing refers to any more (the app also does it at start-up).
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
    sub.add_parser("seed-demo", help="add the demo base model and adapters to the catalog (idempotent)")
    reg = sub.add_parser("register-base", help="register a base model .bin (e.g. gemma2-2b-it-gpu-int8.bin)")
    source = reg.add_mutually_exclusive_group(required=True)
    source.add_argument("--path", type=Path, help="a file on this machine")
    source.add_argument("--url", help="download it from here (needs --sha256)")
    reg.add_argument("--sha256", help="expected sha256 (required with --url, checked with --path)")
    reg.add_argument("--name", required=True, help="short unique name, e.g. gemma2-2b-it-gpu-int8")
    reg.add_argument("--title", required=True, help="what people see, e.g. 'Gemma2 2B IT (int8, GPU)'")
    reg.add_argument("--architecture", default="gemma2-2b", choices=["gemma2-2b", "tiny-gemma2"])
    reg.add_argument("--license-note", default="", help="e.g. 'Gemma Terms of Use, accepted by the operator'")
    sweep = sub.add_parser("sweep-storage", help="delete stored files no adapter or base model refers to")
    sweep.add_argument("--grace-hours", type=float, default=24.0, help="keep files written more recently (24)")
    sweep.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")
    args = parser.parse_args(argv)

    if args.command in ("seed-demo", "register-base", "sweep-storage"):
        return _catalog_command(args)

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


def _catalog_command(args: argparse.Namespace) -> int:
    from app.catalog import registry
    from app.catalog.demo import seed_demo_catalog
    from app.catalog.schemas import Actor
    from app.db import migrate, session_scope
    from app.storage import get_storage

    migrate()  # a fresh install: the tables exist before the first command
    storage = get_storage()
    with session_scope() as session:
        if args.command == "seed-demo":
            created = seed_demo_catalog(session, storage=storage)
            print(
                f"seeded {len(created)} demo adapter(s)" + (f": {', '.join(created)}" if created else " (all present)")
            )
            return 0
        if args.command == "sweep-storage":
            from app.catalog.sweep import sweep_unreferenced

            report = sweep_unreferenced(session, storage=storage, grace_s=args.grace_hours * 3600, dry_run=args.dry_run)
            verb = "would remove" if args.dry_run else "removed"
            for key in report.removed:
                print(f"{verb} {key}")
            print(
                f"{verb} {len(report.removed)} unreferenced file(s), {report.bytes_freed:,} bytes; "
                f"{report.in_use} in use, {report.too_young} newer than {args.grace_hours:g} h"
            )
            return 0
        operator = Actor(user_id=0, is_admin=True)
        fields = {
            "name": args.name,
            "title": args.title,
            "architecture": args.architecture,
            "license_note": args.license_note,
        }
        try:
            if args.url:
                if not args.sha256:
                    print("--url needs --sha256", file=sys.stderr)
                    return 2
                out = registry.register_from_url(
                    session, url=args.url, expected_sha256=args.sha256, storage=storage, actor=operator, **fields
                )
            else:
                with open(args.path, "rb") as handle:
                    out = registry.register_from_file_source(
                        session,
                        source=handle,
                        storage=storage,
                        actor=operator,
                        expected_sha256=args.sha256,
                        source_label="path",
                        **fields,
                    )
        except (registry.BaseModelError, OSError) as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
    print(f"registered {out.name}: {out.size_bytes:,} bytes, sha256 {out.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
