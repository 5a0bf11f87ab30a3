"""4x4 tile layout and fp16 packing for MediaPipe LoRA tensors (docs/mediapipe-web.md §7.2).

Why: the GPU runtime reads every LoRA factor as fp16 in 4x4 tiles, not row-major. A
matrix M [a, b] is emitted as M.reshape(a/4, 4, b/4, 4).transpose(0, 2, 1, 3).ravel().
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "FP16_MAX",
    "Fp16RangeError",
    "fp16_tiled_bytes",
    "to_fp16",
    "tile4x4",
    "untile4x4",
]

FP16_MAX = 65504.0
"""Largest finite IEEE half-precision value."""


class Fp16RangeError(ValueError):
    """Raised when values are NaN/inf or overflow fp16 (the runtime would compute garbage)."""


def _check_tileable(rows: int, cols: int) -> None:
    if rows <= 0 or cols <= 0 or rows % 4 or cols % 4:
        raise ValueError(f"4x4 tiling needs both dimensions to be positive multiples of 4, got [{rows}, {cols}]")


def tile4x4(matrix: npt.ArrayLike) -> npt.NDArray[np.generic]:
    """Return the 1-D tile-ordered copy of a 2-D matrix (same dtype)."""
    m = np.asarray(matrix)
    if m.ndim != 2:
        raise ValueError(f"tile4x4 needs a 2-D matrix, got shape {m.shape}")
    rows, cols = m.shape
    _check_tileable(rows, cols)
    return np.ascontiguousarray(m.reshape(rows // 4, 4, cols // 4, 4).transpose(0, 2, 1, 3)).reshape(-1)


def untile4x4(flat: npt.ArrayLike, rows: int, cols: int) -> npt.NDArray[np.generic]:
    """Inverse of :func:`tile4x4`: rebuild the [rows, cols] matrix from tile order."""
    f = np.asarray(flat)
    _check_tileable(rows, cols)
    if f.size != rows * cols:
        raise ValueError(f"expected {rows * cols} elements for [{rows}, {cols}], got {f.size}")
    return np.ascontiguousarray(f.reshape(rows // 4, cols // 4, 4, 4).transpose(0, 2, 1, 3)).reshape(rows, cols)


def to_fp16(values: npt.ArrayLike, *, what: str = "tensor") -> npt.NDArray[np.float16]:
    """Cast to little-endian fp16, refusing NaN/inf and values that overflow fp16's range."""
    src = np.asarray(values)
    with np.errstate(over="ignore", invalid="ignore"):
        out = src.astype("<f2")
    if not np.isfinite(out).all():
        if not np.isfinite(src).all():
            raise Fp16RangeError(f"{what}: contains NaN or infinite values")
        peak = float(np.max(np.abs(src.astype(np.float64))))
        raise Fp16RangeError(f"{what}: magnitude {peak:g} exceeds the fp16 limit {FP16_MAX:g}")
    return out


def fp16_tiled_bytes(matrix: npt.ArrayLike, *, what: str = "tensor") -> bytes:
    """fp16 bytes of a matrix in 4x4 tile order: exactly what a LoRA tensor buffer holds."""
    return to_fp16(tile4x4(matrix), what=what).tobytes()
