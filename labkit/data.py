"""Load the shipped, checksummed datasets: digits (the cheque reader) and clinic (the risk model)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from labkit.integrity import read_verified

Split = Literal["train", "test", "all"]

DIGITS_FILE = "digits/digits.npz"
CLINIC_FILE = "clinic/clinic.npz"


def _check_split(split: str) -> None:
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}.")


def _open(relative: str) -> np.lib.npyio.NpzFile:
    """The shipped archive, parsed from the very bytes whose hash was checked (no reopen)."""
    return np.load(io.BytesIO(read_verified(relative)), allow_pickle=False)


def _indices(archive: np.lib.npyio.NpzFile, split: str) -> np.ndarray:
    if split == "all":
        return np.arange(len(archive["labels"]))
    return archive[f"{split}_idx"]


def digits_arrays(split: Split = "train") -> tuple[np.ndarray, np.ndarray]:
    """Raw digits as stored: uint8 images N x 28 x 28 and int64 labels (hash-verified)."""
    _check_split(split)
    with _open(DIGITS_FILE) as archive:
        idx = _indices(archive, split)
        return archive["images"][idx], archive["labels"][idx]


def load_digits(split: Split = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Real MNIST digits: float images N x 1 x 28 x 28 in [0, 1] and int64 labels."""
    images, labels = digits_arrays(split)
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


@dataclass(frozen=True)
class ClinicInfo:
    """What the clinic features are and how they were standardised."""

    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    positive_class: str = "malignant"


def _clinic_info(archive: np.lib.npyio.NpzFile) -> ClinicInfo:
    train = archive["features"][archive["train_idx"]]
    names = tuple(str(n) for n in archive["feature_names"])
    scale = train.std(axis=0)
    scale[scale == 0] = 1.0
    return ClinicInfo(feature_names=names, mean=train.mean(axis=0), scale=scale)


def clinic_info() -> ClinicInfo:
    """Feature names and the standardisation fitted on the clinic training split only."""
    with _open(CLINIC_FILE) as archive:
        return _clinic_info(archive)


def load_clinic(split: Split = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Breast-cancer diagnostic records: standardised float features N x 30, labels (1 = malignant)."""
    _check_split(split)
    with _open(CLINIC_FILE) as archive:  # statistics and records come from the same verified bytes
        info = _clinic_info(archive)
        idx = _indices(archive, split)
        features = archive["features"][idx]
        labels = archive["labels"][idx]
    x = (features - info.mean) / info.scale
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(labels.astype(np.int64))
