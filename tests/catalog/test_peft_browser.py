"""The factorization check of mediapipe-web.md §8.4, in the real runtime (headless Chromium, WebGPU on SwiftShader).

For an invertible r x r matrix M, adapters (A, B) and (M·A, B·M⁻¹) have the same product B·A.
Uploaded as PEFT adapters, checked and converted by the catalog, stored, and delivered by the
app's `/files/` route, both must give identical greedy output for every attention module, and
differ from the base. Negative controls with the same (M·A, B·M⁻¹): plain row-major bytes, and
MediaPipe 0.10.35's o_proj rule, must not reproduce the (A, B) output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app import settings as settings_module
from app.catalog.base_models import tiny_spec
from app.catalog.intake import Upload, ingest_adapter
from app.catalog.synthetic import factorization_pair, write_lora_with_layout, write_peft_adapter
from app.mediapipe_format import build_tiny_base
from app.runtime_assets import wasm_dir
from app.storage import get_storage
from tests.support import migrations, services
from tests.support.genai_harness import HarnessServer

pytestmark = pytest.mark.browser

RANK = 8
MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
DIMS = {"hidden": 128, "heads": 4, "kv_heads": 2, "head_dim": 64, "ffn": 256, "layers": 2, "vocab": 256}


def test_factorization_invariance_in_the_real_runtime(page, app_server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("STORAGE_BACKEND", raising=False)
    monkeypatch.setenv("MEDIAPIPE_WASM_DIR", str(app_server.genai_package / "wasm"))
    settings_module.get_settings.cache_clear()
    try:
        settings = settings_module.get_settings()
        wasm = wasm_dir(settings)
        if wasm is None:
            services.unavailable("the MediaPipe npm package is not installed in .web (run the app's build)")
        storage = get_storage()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrations.upgrade(settings.effective_database_url)  # /files/ asks the catalog who may download
        base_spec = tiny_spec(**DIMS)
        base_key = storage.put_file(build_tiny_base(tmp_path / "base.bin", **DIMS)).key

        def ingest(uploads: list[Upload]) -> str:
            result = ingest_adapter(uploads, storage=storage, base=base_spec, settings=settings)
            return f"/files/{result.lora_file.key}"

        loras: dict[str, str] = {}
        for i, module in enumerate(MODULES):
            ab, mamb = factorization_pair(base_spec, rank=RANK, modules=[module], seed=100 + i)
            for label, factors in (("ab", ab), ("mamb", mamb)):
                config, weights = write_peft_adapter(
                    tmp_path / f"{module}-{label}",
                    factors,
                    rank=RANK,
                    alpha=RANK,
                    base_model_name="lorastudio/tiny-gemma2",
                )
                loras[f"{module}:{label}"] = ingest(
                    [
                        Upload(config.name, iter([config.read_bytes()])),
                        Upload(weights.name, iter([weights.read_bytes()])),
                    ]
                )
            for layout in ("row-major", "official-post") if module == "o_proj" else ("row-major",):
                path = write_lora_with_layout(
                    tmp_path / f"{module}-{layout}.bin", base_spec, mamb, rank=RANK, layout=layout
                )
                loras[f"{module}:mamb-{layout}"] = ingest([Upload(path.name, iter([path.read_bytes()]))])

        with HarnessServer(wasm.parent) as harness:
            page.goto(harness.url)
            page.wait_for_function("window.harnessReady === true", timeout=30_000)
            out = page.evaluate(
                "args => window.runGenerations(args)",
                {
                    "baseUrl": f"/files/{base_key}",
                    "loras": loras,
                    "prompt": "hello world",
                    "ranks": [RANK],
                    "maxTokens": 48,
                },
            )
    finally:
        settings_module.get_settings.cache_clear()

    assert out["base"], "the base model produced no text"
    for module in MODULES:
        ab, mamb = out[f"{module}:ab"], out[f"{module}:mamb"]
        assert ab != out["base"], f"{module}: the LoRA did not change the output"
        assert mamb == ab, f"{module}: (M·A, B·M⁻¹) gave {mamb!r}, (A, B) gave {ab!r}"
    for module in MODULES:
        assert out[f"{module}:mamb-row-major"] != out[f"{module}:ab"], f"{module}: untiled bytes were not caught"
    assert out["o_proj:mamb-official-post"] != out["o_proj:ab"], "the official o_proj rule was not caught"
