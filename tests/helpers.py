"""Shared test helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

from labkit.integrity import MANIFEST_NAME, PUBLIC_KEY_NAME, SIGNATURE_NAME
from labkit.paths import datasets_dir


def copy_datasets(tmp_path: Path, *files: str) -> Path:
    """Copy the signed manifest (with its signature and public key) and the named shipped files into
    tmp_path/datasets: the copy verifies as shipped until a tamper test changes it."""
    source = datasets_dir()
    target = tmp_path / "datasets"
    target.mkdir()
    for name in (MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME):
        shutil.copy(source / name, target / name)
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / name, target / name)
    return target
