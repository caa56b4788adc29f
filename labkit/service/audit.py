"""The prediction service's append-only JSONL audit log and the input summaries it records.

One line per request, written with one `os.write` under one lock: concurrent requests never
interleave, and a crash can at worst leave one torn last line, which readers skip. Lines that record an
answered (charged) prediction are fsync'd; the rest are only written (a flood of refused requests cannot
make the service sync the disk). Every record is made serialisable first: non-finite floats become the
strings "nan", "inf", "-inf" and strings longer than `max_field` characters are cut.
"""

from __future__ import annotations

import json
import math
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import torch

from labkit.service import arguments


class AuditLog:
    """Append-only JSONL file: `append(record)` writes one whole line and makes it durable."""

    def __init__(self, path: str | Path, *, fsync: bool = True, max_field: int = 1024) -> None:
        if not isinstance(path, (str, Path)) or not str(path):
            raise ValueError(f"path must be a file path (str or Path), not {path!r}.")
        self.fsync = arguments.flag("fsync", fsync)
        self.max_field = arguments.whole("max_field", max_field, low=16, what=" characters")
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"path must be a file, not the directory {str(self.path)!r}.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if self.path.stat().st_size and not self._ends_with_newline():
            os.write(self._fd, b"\n")  # a previous run died mid-line: keep its torn line apart

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def append(self, record: dict[str, Any], *, durable: bool = True) -> None:
        """Write one record as one line (a single write call); fsync it if `durable` (and the log syncs)."""
        clean = jsonable(record, max_field=self.max_field)
        line = (json.dumps(clean, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
        with self._lock:
            if self._fd < 0:
                raise ValueError(f"the audit log {self.path} is closed.")
            written = os.write(self._fd, line)
            while written < len(line):  # regular files write whole lines; be safe anyway
                written += os.write(self._fd, line[written:])
            if self.fsync and durable:
                os.fsync(self._fd)

    def close(self) -> None:
        """Close the file (further appends raise)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def clip(text: str, limit: int) -> str:
    """`text` cut to at most about `limit` characters, saying how much was cut."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, not {type(text).__name__}.")
    limit = arguments.whole("limit", limit, low=0, what=" characters")
    return _clip(text, limit)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...(+{len(text) - limit} characters)"


def jsonable(value: Any, *, max_field: int = 1024) -> Any:  # noqa: ANN401 - any JSON value
    """A copy of `value` that json.dumps(allow_nan=False) always accepts: non-finite floats as strings,
    long strings clipped, tuples as lists, anything else as its (clipped) repr."""
    return _jsonable(value, arguments.whole("max_field", max_field, low=16, what=" characters"))


def _jsonable(value: Any, max_field: int) -> Any:  # noqa: ANN401 - any JSON value
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _clip(value, max_field)
    if isinstance(value, dict):
        return {_clip(str(k), max_field): _jsonable(v, max_field) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, max_field) for v in value]
    return _clip(repr(value), max_field)


def read_audit_log(path: str | Path) -> list[dict[str, Any]]:
    """Parse an audit log into a list of records; skips (and warns about) torn lines left by a crash
    and raises ValueError, naming the file and line, for a line that is JSON but not an object."""
    if not isinstance(path, (str, Path)):
        raise ValueError(f"path must be a file path (str or Path), not {type(path).__name__}.")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no audit log at path {str(path)!r}; start the service (labkit.service.lifecycle.serve) first."
        )
    records, torn = [], 0
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            torn += 1
            continue
        if not isinstance(record, dict):
            raise ValueError(
                f"path {str(path)!r}: {path.name}, line {number}: an audit line must be a JSON object, "
                f"not {type(record).__name__} "
                f"({clip(line.decode('utf-8', 'replace'), 80)}); this file is not (only) an audit log."
            )
        records.append(record)
    if torn:
        warnings.warn(
            f"{path}: skipped {torn} torn line(s) (a crash mid-write); the rest are whole.", stacklevel=2
        )
    return records


def _round(value: float, places: int = 4) -> float:
    return round(float(value), places)


def summarise_inputs(
    x: torch.Tensor, *, value_range: tuple[float, float] | None = (0.0, 1.0)
) -> dict[str, Any]:
    """Compact statistics of a validated batch for detectors: mean, std, min, max and the fraction of
    values at the ends of the valid range ("saturated"; None without a range)."""
    if not isinstance(x, torch.Tensor) or x.numel() == 0:
        raise ValueError(f"x must be a non-empty tensor, not {type(x).__name__} {getattr(x, 'shape', '')}.")
    value_range = arguments.value_range(value_range)
    flat = x.detach().double().flatten()  # float64: float32 inputs near 3e38 keep a finite std
    summary: dict[str, Any] = {
        "mean": _round(float(flat.mean())),
        "std": _round(float(flat.std(unbiased=False))),
        "min": _round(float(flat.min())),
        "max": _round(float(flat.max())),
        "saturated": None,
    }
    if value_range is not None:
        low, high = value_range
        margin = 0.01 * (high - low)
        summary["saturated"] = _round(
            float(((flat <= low + margin) | (flat >= high - margin)).float().mean())
        )
    return summary


class QueryMemory:
    """The last `size` inputs of each client, to find how close a new query is to earlier ones
    (repeated or slightly varied queries are a sign of extraction or of a black-box attack)."""

    def __init__(self, *, size: int = 512) -> None:
        self.size = arguments.whole("size", size, low=1, what=" inputs per client")
        self._seen: dict[str, torch.Tensor] = {}

    def nearest(self, client: str, x: torch.Tensor) -> list[float | None]:
        """L2 distance from each input to the nearest earlier input of this client (None for the
        client's very first input), then remember the inputs."""
        if not isinstance(x, torch.Tensor) or x.ndim < 2 or len(x) == 0:
            raise ValueError(f"x must be a non-empty batch tensor (N x ...), not {type(x).__name__}.")
        flat = x.detach().float().flatten(1).cpu()
        previous = self._seen.get(client, torch.empty(0, flat.shape[1]))
        pool = torch.cat([previous, flat])
        distances = torch.cdist(flat, pool)
        # input i may only look at the history and at inputs before it in the same batch
        offset = len(previous)
        mask = torch.arange(len(pool))[None, :] >= offset + torch.arange(len(flat))[:, None]
        distances[mask] = float("inf")
        best = distances.min(dim=1).values if len(pool) else torch.full((len(flat),), float("inf"))
        self._seen[client] = pool[-self.size :]
        return [None if torch.isinf(d) else _round(d, 3) for d in best]
