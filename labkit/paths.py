"""Where the course's files live: the shipped datasets/ and the learner's own directory."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

DATASETS_ENV = "LABKIT_DATASETS"
HOME_ENV = "LABKIT_HOME"


class DatasetsNotFoundError(FileNotFoundError):
    """Raised when labkit cannot find the course's datasets/ directory."""


def repo_root() -> Path:
    """The checkout labkit is installed from (editable install): the parent of the package."""
    return Path(__file__).resolve().parent.parent


def datasets_dir() -> Path:
    """The datasets/ directory: $LABKIT_DATASETS if set, else datasets/ beside the package."""
    override = os.environ.get(DATASETS_ENV)
    candidate = Path(override).expanduser() if override else repo_root() / "datasets"
    if not (candidate / "MANIFEST.sha256").is_file():
        where = f"${DATASETS_ENV}={override}" if override else f"{candidate} (beside labkit)"
        raise DatasetsNotFoundError(
            f"labkit looked for the course data in {where} and found no MANIFEST.sha256 there. "
            f"Run from a clone of the course repository (installed with `make lab`), or set "
            f"{DATASETS_ENV} to the path of its datasets/ directory."
        )
    return candidate


def user_dir() -> Path:
    """Per-learner directory for progress and generated files: $LABKIT_HOME or a user data dir."""
    override = os.environ.get(HOME_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("labkit", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json_atomic(
    path: Path,
    data: Any,  # noqa: ANN401 - anything json.dump takes
    *,
    indent: int = 1,
    sort_keys: bool = False,
    allow_nan: bool = True,
    durable: bool = False,
) -> Path:
    """Write `data` as JSON (and a final newline) to `path` in one step: a temporary file in the same
    directory, renamed over `path`, so a reader never sees half a file and a failure leaves the old one.
    `durable` also syncs it to disk before the rename. Returns `path`."""
    if not isinstance(path, Path):
        raise TypeError(f"path must be a pathlib.Path, not {type(path).__name__}.")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(
                data, stream, indent=indent, sort_keys=sort_keys, ensure_ascii=False, allow_nan=allow_nan
            )
            stream.write("\n")
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
