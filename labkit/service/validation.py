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


def validate_vectors(
    data: Any, shape: tuple[int, ...], *, max_batch: int, value_range: tuple[float, float] | None
) -> torch.Tensor:
    """Generic check for non-image models: N x *shape (or one input) of finite numbers."""
    try:
        array = np.asarray(data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else data)
    except (ValueError, TypeError):
        raise InputValidationError("the input lists are ragged; every input needs the same shape.") from None
    if array.dtype == object or array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise InputValidationError(f"inputs have dtype {array.dtype}; send numbers (floats).")
    if tuple(array.shape) == shape:
        array = array[None]
    if tuple(array.shape[1:]) != shape:
        wanted = " x ".join(map(str, shape))
        raise InputValidationError(f"input has shape {tuple(array.shape)}; send N x {wanted}.")
    if len(array) == 0:
        raise InputValidationError("the batch is empty; send at least one input.")
    if len(array) > max_batch:
        raise InputValidationError(
            f"batch of {len(array)} inputs exceeds the limit of {max_batch}; split it up."
        )
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InputValidationError("some values are NaN or infinite; every value must be a finite number.")
    if value_range is not None:
        low, high = float(array.min()), float(array.max())
        if low < value_range[0] or high > value_range[1]:
            raise InputValidationError(
                f"values range over [{low:g}, {high:g}]; they must lie in "
                f"[{value_range[0]:g}, {value_range[1]:g}]."
            )
    return torch.from_numpy(np.ascontiguousarray(array))
