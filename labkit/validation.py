"""Input validation at the model boundary: untrusted pixels in, a clean digit batch or a clear error out."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

IMAGE_SHAPE = (28, 28)
MAX_BATCH = 256


class InputValidationError(ValueError):
    """Untrusted input was rejected; the message says what was wrong and what to send instead."""


_EXPECTED = "send N x 1 x 28 x 28, N x 28 x 28 or one 28 x 28 image"


def _as_array(data: Any) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        tensor = data.detach().cpu()
        return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, (list, tuple)):
        try:
            return np.asarray(data, dtype=np.float64)
        except (ValueError, TypeError):
            raise InputValidationError(
                f"the pixel lists are ragged (rows of different lengths) or hold non-numbers; "
                f"{_EXPECTED}, all numbers."
            ) from None
    raise InputValidationError(
        f"expected a list, NumPy array or torch tensor of pixels, got {type(data).__name__}."
    )


def _check_dtype(array: np.ndarray) -> None:
    if array.dtype == np.uint8 or array.dtype.kind == "f":
        return
    kind = {"b": "bool", "i": "integer", "u": "unsigned integer", "c": "complex"}.get(
        array.dtype.kind, "non-numeric"
    )
    raise InputValidationError(
        f"pixels have {kind} dtype {array.dtype}; send floats in [0, 1] or uint8 in [0, 255]."
    )


def _as_batch(array: np.ndarray) -> np.ndarray:
    shape = tuple(array.shape)
    if shape[-2:] != IMAGE_SHAPE or array.ndim not in (2, 3, 4) or (array.ndim == 4 and shape[1] != 1):
        raise InputValidationError(f"input has shape {shape}; {_EXPECTED} (grey-scale, one channel).")
    if array.ndim == 2:
        return array[None, None]
    if array.ndim == 3:
        return array[:, None]
    return array


def validate_digit_batch(data: Any, *, max_batch: int = MAX_BATCH) -> torch.Tensor:
    """Untrusted pixels (list, NumPy array or tensor) -> float32 N x 1 x 28 x 28 in [0, 1], or raise
    InputValidationError naming what was wrong (type, dtype, shape, batch size, NaN/inf, range)."""
    array = _as_array(data)
    _check_dtype(array)
    array = _as_batch(array)
    n = array.shape[0]
    if n == 0:
        raise InputValidationError("the batch is empty; send at least one image.")
    if n > max_batch:
        raise InputValidationError(f"batch of {n} images exceeds the limit of {max_batch}; split it up.")
    if array.dtype == np.uint8:
        return torch.from_numpy(array.astype(np.float32) / 255.0)  # raw 8-bit pixels, always in range
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InputValidationError(
            f"{bad} pixel(s) are NaN or infinite; every pixel must be a finite number."
        )
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        hint = " (8-bit values? divide by 255, or send uint8)" if high <= 255 and low >= 0 else ""
        raise InputValidationError(f"pixels range over [{low:g}, {high:g}]; they must lie in [0, 1]{hint}.")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
