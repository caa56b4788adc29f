"""Input validation at the model boundary: untrusted pixels in, a clean digit batch or a clear error out."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from labkit.service import arguments

IMAGE_SHAPE = (28, 28)
MAX_BATCH = 256


class InputValidationError(ValueError):
    """Untrusted input was rejected; the message says what was wrong and what to send instead."""


_EXPECTED = "send N x 1 x 28 x 28, N x 28 x 28 or one 28 x 28 image"


def numbers_from_lists(data: list | tuple, expected: str) -> np.ndarray:
    """Nested lists of real numbers -> a float64 array; refuse booleans (JSON true/false), strings,
    None, ragged rows and numbers too large for a float with an InputValidationError."""
    if not isinstance(expected, str):
        raise TypeError(f"expected must be a string (what to send instead), not {expected!r}.")
    try:
        objects = np.asarray(data, dtype=object)
    except (ValueError, TypeError, RecursionError):
        objects = np.asarray([None], dtype=object)  # unreadable: reported as ragged below
    kinds = set(map(type, objects.ravel().tolist())) if objects.size else set()
    if any(issubclass(kind, (bool, np.bool_)) for kind in kinds):
        raise InputValidationError(f"booleans (true/false) are not numbers; {expected}, all numbers.")
    if not all(issubclass(kind, (int, float, np.integer, np.floating)) for kind in kinds):
        raise InputValidationError(
            f"the lists are ragged (rows of different lengths) or hold non-numbers; {expected}, all numbers."
        )
    try:
        return objects.astype(np.float64)
    except (OverflowError, ValueError, TypeError):
        raise InputValidationError(
            f"some numbers are too large to be read as floats; {expected}, all finite numbers."
        ) from None


def _as_array(data: Any) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        tensor = data.detach().cpu()
        return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, (list, tuple)):
        return numbers_from_lists(data, _EXPECTED)
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
    max_batch = arguments.whole("max_batch", max_batch, low=1, what=" images")
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
    shape = arguments.shape(shape, "shape") or ()
    if not shape:
        raise ValueError("shape must be a tuple of 1 to 3 whole numbers >= 1, not None.")
    max_batch = arguments.whole("max_batch", max_batch, low=1, what=" inputs")
    value_range = arguments.value_range(value_range)
    wanted = " x ".join(map(str, shape))
    if isinstance(data, (list, tuple)):
        array = numbers_from_lists(data, f"send N x {wanted}")
    elif isinstance(data, torch.Tensor):
        array = (
            data.detach().cpu().float().numpy()
            if data.dtype == torch.bfloat16
            else data.detach().cpu().numpy()
        )
    elif isinstance(data, np.ndarray):
        array = data
    else:
        raise InputValidationError(
            f"expected a list, NumPy array or tensor of inputs, got {type(data).__name__}."
        )
    if array.dtype == object or array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise InputValidationError(f"inputs have dtype {array.dtype}; send numbers (floats).")
    if tuple(array.shape) == shape:
        array = array[None]
    if tuple(array.shape[1:]) != shape:
        raise InputValidationError(f"input has shape {tuple(array.shape)}; send N x {wanted}.")
    if len(array) == 0:
        raise InputValidationError("the batch is empty; send at least one input.")
    if len(array) > max_batch:
        raise InputValidationError(
            f"batch of {len(array)} inputs exceeds the limit of {max_batch}; split it up."
        )
    with np.errstate(over="ignore", invalid="ignore"):
        array = array.astype(np.float32)  # too large for float32 becomes inf, refused next
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
