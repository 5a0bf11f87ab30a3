"""Hostile and broken uploads: each is rejected with its exact message and leaves no file behind."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from app.catalog.base_models import BaseModelSpec, tiny_spec
from app.catalog.errors import AdapterRejectedError
from app.catalog.intake import Upload, ingest_adapter
from app.catalog.synthetic import ATTENTION, peft_key, random_factors, write_peft_adapter
from app.mediapipe_format import ContainerWriter, build_tiny_base, build_tiny_lora, lora_tensor_plan
from app.mediapipe_format.names import llm_metadata
from app.settings import Settings, load_settings
from app.storage import LocalStorage
from tests.catalog.conftest import files_left

TINY = tiny_spec()
ALLOWED = "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"
SIZES = "2 layers, width 128, 2 heads and 1 KV heads of 64, MLP 256"
Q0A = peft_key(0, "q_proj", "A")


def upload(path: Path, name: str | None = None) -> Upload:
    return Upload(name or path.name, iter([path.read_bytes()]))


def peft(tmp: Path, *, rank: int = 4, alpha: float = 8, base: BaseModelSpec = TINY, **kw) -> tuple[Path, Path]:
    factors = kw.pop("factors", None) or random_factors(base, rank=rank, modules=kw.pop("modules", ATTENTION))
    return write_peft_adapter(
        tmp / "adapter",
        factors,
        rank=rank,
        alpha=alpha,
        base_model_name=kw.pop("base_model_name", "lorastudio/tiny-gemma2"),
        **kw,
    )


def pair(tmp: Path, **kw) -> list[Upload]:
    config, weights = peft(tmp, **kw)
    return [upload(config), upload(weights)]


def with_config(tmp: Path, **overrides) -> list[Upload]:
    return pair(tmp, config_overrides=overrides)


def with_tensors(tmp: Path, extra: dict[str, np.ndarray], **kw) -> list[Upload]:
    return pair(tmp, extra_tensors=extra, **kw)


def with_weights_bytes(tmp: Path, data: bytes) -> list[Upload]:
    config, _ = peft(tmp)
    return [upload(config), Upload("adapter_model.safetensors", iter([data]))]


def zip_upload(
    tmp: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]], name: str = "adapter.zip"
) -> list[Upload]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return [Upload(name, iter([buffer.getvalue()]))]


def good_files(tmp: Path) -> tuple[bytes, bytes]:
    config, weights = peft(tmp)
    return config.read_bytes(), weights.read_bytes()


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


def safetensors_bytes(header: dict | bytes, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def truncated_weights(tmp: Path) -> tuple[list[Upload], str]:
    config, weights = peft(tmp)
    data = weights.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    last = max(header, key=lambda k: header[k]["data_offsets"][1])
    end = header[last]["data_offsets"][1]
    cut = data[:-100]
    message = (
        f"adapter_model.safetensors is truncated: tensor {last!r} ends at byte {end:,} of the data section, "
        f"which has only {end - 100:,} bytes"
    )
    return [upload(config), Upload("adapter_model.safetensors", iter([cut]))], message


def zip_bomb(tmp: Path) -> tuple[list[Upload], str]:
    config, _ = good_files(tmp)
    zeros = bytes(20 * 1024 * 1024)
    data = b"".join(zip_upload(tmp, [("adapter_config.json", config), ("adapter_model.safetensors", zeros)])[0].source)  # type: ignore[arg-type]
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("adapter_model.safetensors")
    ratio = info.file_size // info.compress_size
    message = (
        f"zip entry 'adapter_model.safetensors' expands {ratio:,}:1 to {len(zeros):,} bytes; refusing a likely zip bomb"
    )
    return [Upload("adapter.zip", iter([data]))], message


def overflowing(tmp: Path) -> list[Upload]:
    a = np.full((4, 128), 0.1, dtype=np.float32)
    b = np.ones((128, 4), dtype=np.float32)
    return pair(tmp, alpha=1e9, factors={(0, "q_proj"): (a, b)})


def nan_factor(tmp: Path) -> list[Upload]:
    a = np.zeros((4, 128), dtype=np.float32)
    a[1, 2] = np.nan
    return pair(tmp, factors={(0, "q_proj"): (a, np.zeros((128, 4), dtype=np.float32))})


def bin_missing_k(tmp: Path) -> list[Upload]:
    params = TINY.params.encode()
    plan = [s for s in lora_tensor_plan(TINY.sizes, 4, include_mlp=False) if ".self_attention.k." not in s.name]
    path = tmp / "partial.bin"
    with ContainerWriter(path, metadata=llm_metadata(params, tokenizer=None, lora_rank=4)) as writer:
        for spec in plan:
            writer.write_tensor(spec.name, bytes(spec.nbytes))
    return [upload(path)]


def bin_with_nan(tmp: Path) -> list[Upload]:
    params = TINY.params.encode()
    path = tmp / "nan.bin"
    plan = lora_tensor_plan(TINY.sizes, 4, include_mlp=False)
    with ContainerWriter(path, metadata=llm_metadata(params, tokenizer=None, lora_rank=4)) as writer:
        for i, spec in enumerate(plan):
            data = np.zeros(spec.nbytes // 2, dtype="<f2")
            if i == 3:
                data[7] = np.inf
            writer.write_tensor(spec.name, data.tobytes())
    return [upload(path)]


X = "x_layers_0"
CASES: dict[str, tuple[Callable[[Path], list[Upload]], str]] = {
    "wrong base model (name)": (
        lambda t: pair(t, base_model_name="meta-llama/Llama-3.2-1B"),
        "the adapter was trained on 'meta-llama/Llama-3.2-1B', not the tiny test model; "
        "this catalog takes adapters for lorastudio/tiny-gemma2",
    ),
    "wrong base model (shapes)": (
        lambda t: pair(t, factors=random_factors(tiny_spec(hidden=256), rank=4)),
        f"layer 0 k_proj lora_A has shape [4, 256]; the tiny test model needs [4, 128] ({SIZES}): "
        "the adapter was made for another base model",
    ),
    "target lm_head in config": (
        lambda t: with_config(t, target_modules=["q_proj", "lm_head"]),
        f"target module 'lm_head' cannot be applied by the browser runtime; allowed: {ALLOWED}",
    ),
    "target embed_tokens in config": (
        lambda t: with_config(t, target_modules=["embed_tokens", "v_proj"]),
        f"target module 'embed_tokens' cannot be applied by the browser runtime; allowed: {ALLOWED}",
    ),
    "lm_head LoRA tensors": (
        lambda t: with_tensors(
            t,
            {"base_model.model.lm_head.lora_A.weight": np.zeros((4, 128), np.float32)},
            config_overrides={"target_modules": ".*(q_proj|k_proj|v_proj|o_proj|lm_head)"},
        ),
        "tensor 'base_model.model.lm_head.lora_A.weight' targets lm_head, which the browser runtime cannot apply LoRA to",
    ),
    "embedding LoRA tensors": (
        lambda t: with_tensors(
            t, {"base_model.model.model.embed_tokens.lora_embedding_A": np.zeros((4, 256), np.float32)}
        ),
        "tensor 'base_model.model.model.embed_tokens.lora_embedding_A' is an embedding LoRA (lora_embedding_A/B); "
        "the runtime cannot apply LoRA to embeddings",
    ),
    "DoRA in config": (
        lambda t: with_config(t, use_dora=True),
        "DoRA adapters (use_dora: true) are not supported: the browser runtime applies plain LoRA only",
    ),
    "DoRA magnitude tensor": (
        lambda t: with_tensors(
            t, {"base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector": np.ones(128, np.float32)}
        ),
        "tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector' is a DoRA magnitude vector; "
        "DoRA adapters are not supported",
    ),
    "rank 12 not declared": (
        lambda t: pair(t, rank=12),
        "rank r=12 is not supported: the browser runtime is set up for ranks 4, 8, 16",
    ),
    "rank 6 not a multiple of 4": (
        lambda t: pair(t, rank=6),
        "rank r=6 is not supported: the browser runtime is set up for ranks 4, 8, 16",
    ),
    "tensor rank differs from config": (
        lambda t: pair(t, rank=8, factors=random_factors(TINY, rank=4)),
        "layer 0 k_proj lora_A has rank 4, but adapter_config.json says r=8",
    ),
    "rank_pattern": (
        lambda t: with_config(t, rank_pattern={"q_proj": 8}),
        "rank_pattern (per-module ranks) is not supported: the runtime takes one rank and one scale for the "
        "whole adapter; retrain without it",
    ),
    "alpha_pattern": (
        lambda t: with_config(t, alpha_pattern={"v_proj": 32}),
        "alpha_pattern (per-module alphas) is not supported: the runtime takes one rank and one scale for the "
        "whole adapter; retrain without it",
    ),
    "modules_to_save in config": (
        lambda t: with_config(t, modules_to_save=["lm_head"]),
        "modules_to_save (['lm_head']) is not supported: it ships fully trained copies of base layers, "
        "which a LoRA file cannot carry",
    ),
    "modules_to_save full weight tensor": (
        lambda t: with_tensors(t, {"base_model.model.lm_head.weight": np.zeros((256, 128), np.float32)}),
        "tensor 'base_model.model.lm_head.weight' is a full copy of lm_head (modules_to_save), which a LoRA file cannot carry",
    ),
    "bias in config": (
        lambda t: with_config(t, bias="all"),
        "bias='all' is not supported: the runtime has no LoRA bias terms; use bias='none'",
    ),
    "lora_bias in config": (
        lambda t: with_config(t, lora_bias=True),
        "lora_bias: true is not supported: the runtime has no LoRA bias terms",
    ),
    "bias tensor": (
        lambda t: with_tensors(
            t, {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.bias": np.zeros(128, np.float32)}
        ),
        "tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.bias' is a bias; "
        "LoRA biases (bias/lora_bias) are not supported",
    ),
    "fan_in_fan_out": (
        lambda t: with_config(t, fan_in_fan_out=True),
        "fan_in_fan_out: true (Conv1D-style weights) is not supported; Gemma2 uses Linear layers",
    ),
    "not a LoRA (IA3)": (
        lambda t: with_config(t, peft_type="IA3"),
        "adapter_config.json: peft_type is 'IA3'; only LORA adapters can run in the browser",
    ),
    "config is not JSON": (
        lambda t: [Upload("adapter_config.json", iter([b"r: 8\n"])), upload(peft(t)[1])],
        "adapter_config.json is not valid JSON (Expecting value: line 1 column 1 (char 0))",
    ),
    "lora_A without lora_B": (
        lambda t: pair(t, factors={(0, "q_proj"): (np.zeros((4, 128), np.float32), None)}),
        "layer 0 q_proj has lora_A but no lora_B",
    ),
    "layer beyond the model": (
        lambda t: pair(t, factors=random_factors(TINY, rank=4, modules=["q_proj"], layers=[0, 5])),
        f"tensor {peft_key(5, 'q_proj', 'A')!r} is for layer 5, but the tiny test model has 2 layers (0-1)",
    ),
    "integer tensor": (
        lambda t: with_tensors(
            t, {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": np.zeros((4, 128), np.int64)}
        ),
        f"adapter_model.safetensors: tensor {Q0A!r} has dtype 'I64'; LoRA weights must be F32, F16, BF16",
    ),
    "fp16 overflow after alpha scaling": (
        overflowing,
        "conversion failed: layer 0 q scaled lora_B: magnitude 2.5e+08 exceeds the fp16 limit 65504",
    ),
    "NaN in a factor": (nan_factor, "conversion failed: layer 0 q lora_A: contains NaN or infinite values"),
    "pickle renamed .safetensors": (
        lambda t: with_weights_bytes(t, pickle.dumps({"lora_A": list(range(64))}, protocol=4)),
        "adapter_model.safetensors is a Python pickle (e.g. a PyTorch .bin/.pt checkpoint), not a safetensors file; "
        "only safetensors are accepted (pickles can run code)",
    ),
    "torch zip checkpoint renamed .safetensors": (
        lambda t: with_weights_bytes(t, b"".join(zip_upload(t, [("archive/data.pkl", b"\x80\x02}q\x00.")])[0].source)),  # type: ignore[arg-type]
        "adapter_model.safetensors is a zip archive (e.g. a PyTorch checkpoint saved with torch.save, which holds "
        "pickles), not a safetensors file; only safetensors are accepted (pickles can run code)",
    ),
    "header claims a 10 GB tensor": (
        lambda t: with_weights_bytes(
            t,
            safetensors_bytes(
                {Q0A: {"dtype": "F32", "shape": [50_000, 50_000], "data_offsets": [0, 10_000_000_000]}}, bytes(16)
            ),
        ),
        f"adapter_model.safetensors: tensor {Q0A!r} claims 10,000,000,000 bytes (shape [50000, 50000]), "
        "more than the limit of 4,096",
    ),
    "header length beyond the limit": (
        lambda t: with_weights_bytes(t, struct.pack("<Q", 1 << 40) + b"{}"),
        "adapter_model.safetensors: the header claims 1,099,511,627,776 bytes, more than the limit of 1,048,576",
    ),
    "header shorter than claimed": (
        lambda t: with_weights_bytes(t, struct.pack("<Q", 5000) + b'{"a": 1}'),
        "adapter_model.safetensors is truncated: the header claims 5,000 bytes but only 8 follow",
    ),
    "duplicate name in header": (
        lambda t: with_weights_bytes(
            t,
            safetensors_bytes(
                b'{"%s": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
                b'"%s": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}' % (Q0A.encode(), Q0A.encode()),
                bytes(4),
            ),
        ),
        f"adapter_model.safetensors: the header names {Q0A!r} twice",
    ),
    "overlapping tensors": (
        lambda t: with_weights_bytes(
            t,
            safetensors_bytes(
                {
                    Q0A: {"dtype": "F32", "shape": [4, 128], "data_offsets": [0, 2048]},
                    peft_key(0, "q_proj", "B"): {"dtype": "F32", "shape": [128, 4], "data_offsets": [1024, 3072]},
                },
                bytes(3072),
            ),
        ),
        f"adapter_model.safetensors: tensor {peft_key(0, 'q_proj', 'B')!r} overlaps another tensor "
        "(data_offsets must tile the data section)",
    ),
    "0-byte safetensors": (
        lambda t: with_weights_bytes(t, b""),
        "adapter_model.safetensors is empty (0 bytes)",
    ),
    "0-byte .bin": (lambda t: [Upload("adapter.bin", iter([b""]))], "adapter.bin is empty (0 bytes)"),
    "safetensors without config": (
        lambda t: [upload(peft(t)[1])],
        "adapter_config.json is missing: upload it together with adapter_model.safetensors (or both in one zip)",
    ),
    "PyTorch adapter_model.bin with config": (
        lambda t: [upload(peft(t)[0]), Upload("adapter_model.bin", iter([pickle.dumps({"w": 1}, protocol=2)]))],
        "PyTorch adapter_model.bin files are pickles and are not accepted; save the adapter with "
        "safe_serialization=True and upload adapter_model.safetensors",
    ),
    "zip with ../ path": (
        lambda t: zip_upload(t, [("../adapter_config.json", b"{}"), ("adapter_model.safetensors", b"x")]),
        "zip entry '../adapter_config.json' has a '..' path component; refusing the archive",
    ),
    "zip with absolute path": (
        lambda t: zip_upload(t, [("/etc/adapter_config.json", b"{}")]),
        "zip entry '/etc/adapter_config.json' has an absolute path; refusing the archive",
    ),
    "zip with a symlink": (
        lambda t: zip_upload(
            t, [("adapter_config.json", b"{}"), (symlink_info("adapter_model.safetensors"), b"/etc/passwd")]
        ),
        "zip entry 'adapter_model.safetensors' is a symbolic link; refusing the archive",
    ),
    "zip holding a pickle": (
        lambda t: zip_upload(t, [("adapter_config.json", good_files(t)[0]), ("adapter_model.bin", b"\x80\x02.")]),
        "the zip holds 'adapter_model.bin', a PyTorch pickle; save the adapter with safe_serialization=True "
        "(adapter_model.safetensors) and upload that",
    ),
    "zip with two adapters": (
        lambda t: zip_upload(
            t,
            [
                ("a/adapter_config.json", good_files(t)[0]),
                ("a/adapter_model.safetensors", good_files(t)[1]),
                ("b/adapter_config.json", good_files(t)[0]),
                ("b/adapter_model.safetensors", good_files(t)[1]),
            ],
        ),
        "the zip holds more than one adapter_config.json ('a/adapter_config.json', 'b/adapter_config.json'); "
        "upload one adapter per zip",
    ),
    "not a zip": (
        lambda t: [Upload("adapter.zip", iter([b"PK\x03\x04" + bytes(100)]))],
        "the upload is not a valid zip archive (File is not a zip file)",
    ),
    ".bin without TFL3": (
        lambda t: [Upload("adapter.bin", iter([bytes(range(256)) * 8192]))],
        "adapter.bin is not a MediaPipe LoRA file: bytes 4-7 are not the TFL3 identifier",
    ),
    ".task bundle as .bin": (
        lambda t: [Upload("model.bin", iter([b"\x00\x00\x00\x00PK\x03\x04" + bytes(2 << 20)]))],
        "model.bin is a MediaPipe .task bundle; LoRA adapters must be .bin files",
    ),
    ".bin under 1 MiB": (
        lambda t: [Upload("small.bin", iter([b"\x1c\x00\x00\x00TFL3" + bytes(4096)]))],
        "small.bin is 4,104 bytes; MediaPipe LoRA files must be at least 1,048,576 bytes "
        "(the runtime crashes on shorter ones; pad with zeros)",
    ),
    "base model uploaded as LoRA": (
        lambda t: [upload(build_tiny_base(t / "tiny-base.bin"))],
        "tiny-base.bin has no lora_rank metadata: it is a base model or not a LoRA file",
    ),
    ".bin with an undeclared rank": (
        lambda t: [upload(build_tiny_lora(t / "tiny-lora-r12.bin", rank=12))],
        "tiny-lora-r12.bin has lora_rank 12, which is not supported: the browser runtime is set up for ranks 4, 8, 16",
    ),
    ".bin for another model": (
        lambda t: [upload(build_tiny_lora(t / "other.bin", hidden=256))],
        "other.bin was built for another model than the tiny test model: embedding_dim 256 (expected 128)",
    ),
    ".bin missing attention tensors": (
        bin_missing_k,
        f"partial.bin is missing tensor params.lm.transformer.{X}.self_attention.k.w_prime_left "
        "(the runtime needs all 8 attention tensors per layer)",
    ),
    ".bin with infinite values": (
        bin_with_nan,
        f"nan.bin: tensor params.lm.transformer.{X}.self_attention.k.w_prime_right holds NaN or infinite values",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_upload_is_rejected_and_leaves_nothing(
    case: str, tmp_path: Path, settings: Settings, storage: LocalStorage
) -> None:
    build, message = CASES[case]
    uploads = build(tmp_path)
    with pytest.raises(AdapterRejectedError) as info:
        ingest_adapter(uploads, storage=storage, base=TINY, settings=settings)
    assert info.value.message == message
    assert files_left(storage) == []


def test_truncated_safetensors(tmp_path: Path, settings: Settings, storage: LocalStorage) -> None:
    uploads, message = truncated_weights(tmp_path)
    with pytest.raises(AdapterRejectedError) as info:
        ingest_adapter(uploads, storage=storage, base=TINY, settings=settings)
    assert info.value.message == message
    assert files_left(storage) == []


def test_zip_bomb(tmp_path: Path, settings: Settings, storage: LocalStorage) -> None:
    uploads, message = zip_bomb(tmp_path)
    with pytest.raises(AdapterRejectedError) as info:
        ingest_adapter(uploads, storage=storage, base=TINY, settings=settings)
    assert info.value.message == message
    assert files_left(storage) == []


def test_oversized_upload_stops_streaming(tmp_path: Path, storage: LocalStorage) -> None:
    small = load_settings(data_dir=tmp_path / "data", max_adapter_upload_bytes=1024 * 1024)
    read = []

    def chunks():
        for i in range(64):
            read.append(i)
            yield bytes(64 * 1024)

    with pytest.raises(AdapterRejectedError) as info:
        ingest_adapter([Upload("big.bin", chunks())], storage=storage, base=TINY, settings=small)
    assert info.value.message == "big.bin is larger than the upload limit of 1,048,576 bytes"
    assert len(read) == 17  # stopped at the first chunk past the limit
    assert files_left(storage) == []


def test_upload_names_are_never_paths(tmp_path: Path, settings: Settings, storage: LocalStorage) -> None:
    with pytest.raises(AdapterRejectedError) as info:
        ingest_adapter(
            [Upload("../../../../etc/cron.d/x.bin", iter([b""]))], storage=storage, base=TINY, settings=settings
        )
    assert info.value.message == "x.bin is empty (0 bytes)"
    assert files_left(storage) == []
