"""Shared test helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

from labkit.paths import datasets_dir


def copy_datasets(tmp_path: Path, *files: str) -> Path:
    """Copy the manifest and the named shipped files into tmp_path/datasets (for tamper tests)."""
    source = datasets_dir()
    target = tmp_path / "datasets"
    target.mkdir()
    shutil.copy(source / "MANIFEST.sha256", target / "MANIFEST.sha256")
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / name, target / name)
    return target
