"""Checks on `serve()`'s configuration: every value is validated before the service starts, and a bad
one gets an error naming the argument, the value and what is allowed (a NaN budget must not start a
service on which every request then fails)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from labkit import validate


def whole(name: str, value: Any, *, low: int, what: str = "") -> int:  # noqa: ANN401
    """`value` as an int >= low (checked by labkit.validate), or a ValueError naming `name` and the unit."""
    try:
        return validate.integer(name, value, low=low)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number >= {low}{what}, not {value!r}.") from None


def whole_or_none(name: str, value: Any, *, low: int, what: str = "") -> int | None:  # noqa: ANN401
    """None, or `value` as an int >= low, or a ValueError naming `name`."""
    if value is None:
        return None
    try:
        return whole(name, value, low=low, what=what)
    except ValueError:
        raise ValueError(f"{name} must be a whole number >= {low}{what} (or None), not {value!r}.") from None


def positive(name: str, value: Any, *, what: str = "") -> float:  # noqa: ANN401
    """`value` as a finite float > 0 (checked by labkit.validate), or a ValueError naming `name`."""
    try:
        return validate.positive_float(name, value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0{what}, not {value!r}.") from None


def rate(value: Any) -> int | None:  # noqa: ANN401
    """rate_limit: None or a whole number of requests per second >= 1 (5.0 is read as 5)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    return whole_or_none("rate_limit", value, low=1, what=" requests per second")


def api_keys(keys: Mapping[str, str]) -> dict[str, str]:
    """API keys -> client names: a non-empty mapping of non-empty strings."""
    if not isinstance(keys, Mapping) or not keys:
        raise ValueError(f"api_keys must be a non-empty mapping of API key -> client name, not {keys!r}.")
    for key, client in keys.items():
        if not isinstance(key, str) or not key or not isinstance(client, str) or not client:
            raise ValueError(
                f"api_keys must map non-empty strings to non-empty client names; {key!r}: {client!r} is not."
            )
    return dict(keys)


def shape(value: Any, name: str = "input_shape") -> tuple[int, ...] | None:  # noqa: ANN401
    """input_shape: None or 1 to 3 whole numbers >= 1."""
    if value is None:
        return None
    if (
        not isinstance(value, (tuple, list))
        or not 1 <= len(value) <= 3
        or not all(isinstance(s, Integral) and not isinstance(s, bool) and int(s) >= 1 for s in value)
    ):
        raise ValueError(
            f"{name} must be a tuple of 1 to 3 whole numbers >= 1 (one input, e.g. (30,)), not {value!r}."
        )
    return tuple(int(s) for s in value)


def value_range(value: Any) -> tuple[float, float] | None:  # noqa: ANN401
    """value_range: None or (low, high), finite numbers with low < high."""
    if value is None:
        return None
    message = f"value_range must be None or (low, high) with finite numbers low < high, not {value!r}."
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(message)
    low, high = value
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, Real) or not math.isfinite(bound):
            raise ValueError(message)
    if not low < high:
        raise ValueError(message)
    return float(low), float(high)


def log_path(value: Any) -> Path | None:  # noqa: ANN401
    """log_path: None or a str/Path that is not a directory."""
    if value is None:
        return None
    if not isinstance(value, (str, Path)) or not str(value):
        raise ValueError(f"log_path must be a file path (str or Path) or None, not {value!r}.")
    path = Path(value)
    if path.is_dir():
        raise ValueError(f"log_path must be a file, not the directory {str(path)!r}.")
    return path


def flag(name: str, value: Any) -> bool:  # noqa: ANN401
    """A True/False switch."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, not {value!r}.")
    return value
