"""Loaders use the very bytes they hashed: swapping a file right after its hash was checked has no effect."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from labkit import integrity
from labkit.data import load_clinic, load_digits
from labkit.zoo.registry import load_model
from tests.helpers import copy_datasets


def _swap_after_check(monkeypatch, path: Path, evil: bytes) -> list[bool]:
    """Replace `path` with `evil` the moment labkit finishes hashing its (good) bytes."""
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    swapped: list[bool] = []

    class Hasher:
        def __init__(self, data: bytes = b"") -> None:
            self._inner = hashlib.sha256(data)

        def update(self, data: bytes) -> None:
            self._inner.update(data)

        def hexdigest(self) -> str:
            digest = self._inner.hexdigest()
            if digest == good and not swapped:
                tmp = path.with_suffix(".evil")
                tmp.write_bytes(evil)
                os.replace(tmp, path)  # the attacker wins the race
                swapped.append(True)
            return digest

    monkeypatch.setattr(integrity, "hashlib", SimpleNamespace(sha256=Hasher))
    return swapped


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_digits_come_from_the_checked_bytes(tmp_path, monkeypatch):
    target = copy_datasets(tmp_path, "digits/digits.npz")
    monkeypatch.setenv("LABKIT_DATASETS", str(target))
    x, y = load_digits("test")
    with np.load(target / "digits/digits.npz") as good:
        evil = {k: good[k] for k in good.files}
    evil["images"] = np.zeros_like(evil["images"])
    swapped = _swap_after_check(monkeypatch, target / "digits/digits.npz", _npz(**evil))
    x2, y2 = load_digits("test")
    assert swapped and torch.equal(x, x2) and torch.equal(y, y2)


def test_clinic_statistics_and_records_come_from_one_checked_read(tmp_path, monkeypatch):
    target = copy_datasets(tmp_path, "clinic/clinic.npz")
    monkeypatch.setenv("LABKIT_DATASETS", str(target))
    x, _ = load_clinic("train")
    with np.load(target / "clinic/clinic.npz") as good:
        evil = {k: good[k] for k in good.files}
    evil["features"] = evil["features"] * 1000.0
    swapped = _swap_after_check(monkeypatch, target / "clinic/clinic.npz", _npz(**evil))
    x2, _ = load_clinic("train")
    assert swapped and torch.equal(x, x2)


def test_model_weights_come_from_the_checked_bytes(tmp_path, monkeypatch):
    from safetensors.torch import load, save

    files = ("models/digits_cnn.safetensors", "models/digits_cnn.json")
    target = copy_datasets(tmp_path, *files)
    monkeypatch.setenv("LABKIT_DATASETS", str(target))
    reference = load_model("digits_cnn", device="cpu").state_dict()
    weights = target / files[0]
    evil = save({k: torch.zeros_like(v) for k, v in load(weights.read_bytes()).items()})
    swapped = _swap_after_check(monkeypatch, weights, evil)
    loaded = load_model("digits_cnn", device="cpu").state_dict()
    assert swapped and all(torch.equal(reference[k], loaded[k]) for k in reference)


@pytest.mark.parametrize("relative", ["models/digits_cnn.json"])
def test_verify_returns_the_bytes_it_hashed(tmp_path, monkeypatch, relative):
    target = copy_datasets(tmp_path, relative)
    monkeypatch.setenv("LABKIT_DATASETS", str(target))
    good = (target / relative).read_bytes()
    swapped = _swap_after_check(monkeypatch, target / relative, b"{}")
    assert integrity.read_verified(relative) == good and swapped
