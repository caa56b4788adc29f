"""Argument checks shared by every public labkit function: one implementation of "bad input gets a
clear error that names the argument, the value received and what is allowed".

Each check returns the value (converted where that is harmless: an int, a float) or raises ValueError
or TypeError, e.g. `epochs must be an integer >= 1, not 0.` or `x must be images in [0, 1], got a
pixel of 2.0 (rescale them first).`
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import torch
from torch import nn


class UnknownName(KeyError, ValueError):
    """A name (an exercise, a module, a record id) that is not among the known ones.

    A KeyError for code that looks names up, and a ValueError like every other bad argument; its
    message reads as written (a plain KeyError would show it in quotes)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class OutOfRange(IndexError, ValueError):
    """An index outside a sequence: an IndexError for code that indexes, and a ValueError."""


_TRUSTED: ContextVar[bool] = ContextVar("labkit_trusted_values", default=False)


@contextmanager
def trusted_values() -> Iterator[None]:
    """For labkit's own loops (attack steps, training batches) over values the loop keeps valid by
    construction, after checking its inputs once: inside, the checks that read tensor values back to
    the host (NaN/inf, pixel range, label range) are skipped, so no step waits for the device. Type,
    shape and dtype checks still run."""
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def _show(value: Any) -> str:
    """A short description of a value for an error message."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__} ({text[:40]}...)"


def _bounds(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """An int (not a bool, not a float) in [low, high]."""
    allowed = "an integer"
    if low is not None and high is not None:
        allowed = f"an integer from {low} to {high}"
    elif low is not None:
        allowed = f"an integer, at least {low}"
    elif high is not None:
        allowed = f"an integer, at most {high}"
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_floating_point():
        value = value.item()  # a 0-d integer tensor such as y[i]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {allowed}, not {_show(value)}.")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{name} must be {allowed}, not {number}.")
    return number


def positive_int(name: str, value: Any, *, high: int | None = None) -> int:
    """A count: an int >= 1 (epochs, steps, batch_size, k, ...)."""
    return integer(name, value, low=1, high=high)


def nonnegative_int(name: str, value: Any, *, high: int | None = None) -> int:
    """An int >= 0 (a margin, a number of extra epochs)."""
    return integer(name, value, low=0, high=high)


def finite_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A real number (not a bool or string), finite, within the given bounds."""
    allowed = f"a finite number {_bounds(low, high, low_open, high_open)}".rstrip()
    if isinstance(value, torch.Tensor) and value.ndim == 0 and value.dtype != torch.bool:
        value = value.item()  # a 0-d tensor such as losses.mean()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {allowed}, not {_show(value)}.")
    number = float(value)
    if (
        not math.isfinite(number)
        or (low is not None and (number <= low if low_open else number < low))
        or (high is not None and (number >= high if high_open else number > high))
    ):
        raise ValueError(f"{name} must be {allowed}, not {number}.")
    return number


def positive_float(name: str, value: Any) -> float:
    """A finite number > 0 (a learning rate, a standard deviation)."""
    return finite_float(name, value, low=0.0, low_open=True)


def nonnegative_float(name: str, value: Any) -> float:
    """A finite number >= 0 (an epsilon, a weight decay)."""
    return finite_float(name, value, low=0.0)


def probability(name: str, value: Any) -> float:
    """A finite number in [0, 1] (a rate, a fraction)."""
    return finite_float(name, value, low=0.0, high=1.0)


def choice(name: str, value: Any, options: Iterable[str]) -> str:
    """One of the given strings."""
    allowed = list(options)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} {_show(value)} is not known: choose one of {', '.join(allowed)}.")
    return value


def text(name: str, value: Any, *, empty: bool = False) -> str:
    """A string (non-empty unless `empty`)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {_show(value)}.")
    if not empty and not value:
        raise ValueError(f"{name} must be a non-empty string, not ''.")
    return value


def module(name: str, value: Any) -> nn.Module:
    """A torch model (an nn.Module)."""
    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be a torch model (an nn.Module), not {_show(value)}.")
    return value


def function(name: str, value: Any) -> Any:
    """Something callable."""
    if not callable(value):
        raise TypeError(f"{name} must be callable (a function or a model), not {_show(value)}.")
    return value


def tensor(
    name: str,
    value: Any,
    *,
    ndim: int | Sequence[int] | None = None,
    floating: bool | None = None,
    finite: bool = True,
    empty: bool = False,
) -> torch.Tensor:
    """A torch tensor with the given number of dimensions, float (or integer) dtype, no NaN or inf
    (for float tensors, unless finite=False) and at least one row (unless empty=True)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch tensor (torch.as_tensor converts arrays), not {_show(value)}."
        )
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and value.ndim not in dims:
        want = " or ".join(str(d) for d in dims)
        raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(value.shape)}.")
    is_float = value.dtype.is_floating_point
    if floating is True and not is_float:
        raise ValueError(f"{name} must be a float tensor, not dtype {value.dtype}.")
    if floating is False and (is_float or value.dtype == torch.bool or value.is_complex()):
        raise ValueError(f"{name} must be an integer tensor (int64, torch.long), not dtype {value.dtype}.")
    if not empty and (value.ndim == 0 or len(value) == 0):
        raise ValueError(f"{name} is empty (shape {tuple(value.shape)}): give at least one item.")
    trusted = _TRUSTED.get()
    if (
        finite
        and is_float
        and value.numel()
        and not trusted
        and not bool(torch.isfinite(value.detach()).all())
    ):
        raise ValueError(f"{name} contains NaN or infinite values; every value must be finite.")
    return value


def inputs(name: str, x: Any) -> torch.Tensor:
    """Model inputs: a non-empty float tensor of finite values; when 4-D (images), pixels in [0, 1]."""
    if isinstance(x, torch.Tensor) and x.ndim == 4:
        return images(name, x)
    return tensor(name, x, floating=True)


def images(name: str, x: Any, *, ndim: int = 4) -> torch.Tensor:
    """A non-empty float tensor of images (N x C x H x W by default) with every pixel in [0, 1]."""
    shape = "N x C x H x W" if ndim == 4 else "C x H x W" if ndim == 3 else f"{ndim}-D"
    if isinstance(x, torch.Tensor) and x.ndim != ndim:
        raise ValueError(f"{name} must be images {shape}, got shape {tuple(x.shape)}.")
    x = tensor(name, x, ndim=ndim, floating=True)
    if _TRUSTED.get():
        return x
    low, high = float(x.detach().min()), float(x.detach().max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name} must be images with pixels in [0, 1], got values from {low:g} to {high:g} "
            f"(labkit models normalise inside; rescale them first)."
        )
    return x


def labels(name: str, y: Any, *, n: int | None = None, num_classes: int | None = None) -> torch.Tensor:
    """A non-empty 1-D integer tensor of class indices (n of them, each in 0..num_classes-1)."""
    y = tensor(name, y, ndim=1, floating=False)
    if n is not None and len(y) != n:
        raise ValueError(
            f"{name} must hold one label per input row (matching lengths): {n} rows, {len(y)} labels."
        )
    if _TRUSTED.get():
        return y
    low, high = int(y.min()), int(y.max())
    top = num_classes - 1 if num_classes is not None else None
    if low < 0 or (top is not None and high > top):
        allowed = f"0..{top}" if top is not None else ">= 0"
        raise ValueError(f"{name} must be class indices in {allowed}, got values from {low} to {high}.")
    return y


def model_outputs(model: Any, x: torch.Tensor, *, name: str = "x") -> int | None:
    """How many outputs (classes) the model gives: one forward pass on x[:1], no gradients, eval mode.
    ValueError naming x (`name`) when the model cannot read inputs of its shape. None for a model
    that exposes no parameters (a black box behind an API: asking it would spend a query)."""
    first = next(iter(model.parameters()), None) if isinstance(model, nn.Module) else None
    if first is None:
        return None
    assert isinstance(model, nn.Module)
    training = model.training
    model.eval()
    cuda = [first.device.index or 0] if first.device.type == "cuda" else []
    try:  # without gradients, and without moving the random streams a randomised model draws from
        with torch.no_grad(), torch.random.fork_rng(devices=cuda):
            return int(model(x[:1].to(first.device)).shape[-1])
    except RuntimeError as error:
        raise ValueError(
            f"{name} of shape {tuple(x.shape)} does not fit the model ({type(model).__name__}): {error}"
        ) from None
    finally:
        model.train(training)


def model_labels(name: str, y: Any, *, model: Any, x: torch.Tensor) -> torch.Tensor:
    """Labels for x (one per row) that name one of the model's outputs."""
    outputs = model_outputs(model, x)  # first: inputs the model cannot read are x's fault, not y's
    return labels(name, y, n=len(x), num_classes=outputs)


def position(name: str, value: Any, *, length: int) -> int:
    """An index into a sequence of `length` items: an int in 0..length-1 (OutOfRange if not)."""
    number = integer(name, value)
    if not 0 <= number < length:
        raise OutOfRange(f"{name} {number} is out of range: choose 0 to {length - 1}.")
    return number


def class_index(name: str, value: Any, *, num_classes: int | None) -> int:
    """One class: an int in 0..num_classes-1 (>= 0 when the number of classes is unknown)."""
    number = integer(name, value)
    if number < 0 or (num_classes is not None and number >= num_classes):
        allowed = f"0..{num_classes - 1}" if num_classes is not None else "0 or more"
        raise ValueError(f"{name} must be a class in {allowed}, not {number}.")
    return number


def numbers_list(name: str, values: Any, *, low: float | None = None) -> list[float]:
    """A non-empty sequence of finite numbers (each >= low)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, torch.Tensor)):
        raise TypeError(f"{name} must be a list of numbers, not {_show(values)}.")
    if len(values) == 0:
        raise ValueError(f"{name} is empty: give at least one value.")
    return [finite_float(f"{name}[{i}]", v, low=low) for i, v in enumerate(values)]


def same_length(**named: Any) -> int:
    """The common length of the named sequences; ValueError naming them all when they differ."""
    lengths = {name: len(value) for name, value in named.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {length} rows" for name, length in lengths.items())
        raise ValueError(f"{' and '.join(lengths)} must have matching lengths (one row each): {listed}.")
    return next(iter(lengths.values()), 0)


def path(name: str, value: Any, *, exists: str | None = None) -> Path:
    """A filesystem path (a str or os.PathLike, not empty) as a Path; with exists='file' or 'dir' it
    must be an existing file or directory (FileNotFoundError naming it if not)."""
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)) or not str(value):
        raise TypeError(f"{name} must be a path (a str or pathlib.Path), not {_show(value)}.")
    result = Path(value)
    if exists == "file" and not result.is_file():
        raise FileNotFoundError(f"{name} {str(value)!r} is not a file.")
    if exists == "dir" and not result.is_dir():
        raise FileNotFoundError(f"{name} {str(value)!r} is not a directory.")
    return result
