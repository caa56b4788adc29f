"""The training recipes behind `labkit zoo train` (fixed seeds, shipped data only)."""

from __future__ import annotations

from torch import nn

from labkit.data import load_clinic, load_digits
from labkit.runtime import get_device, seed_everything
from labkit.training import accuracy, random_shift, train_model


def train_digits_cnn(model: nn.Module, *, seed: int) -> tuple[nn.Module, float]:
    """Standard training of the cheque reader on the 4,000 training digits."""
    seed_everything(seed)
    x, y = load_digits("train")
    train_model(
        model, x, y, epochs=15, batch_size=64, lr=2e-3, seed=seed, augment=random_shift,
        device=get_device(), desc="digits_cnn",
    )
    xt, yt = load_digits("test")
    return model, accuracy(model, xt, yt)


def train_clinic_mlp(model: nn.Module, *, seed: int) -> tuple[nn.Module, float]:
    """Standard training of the clinic risk model on its training split."""
    seed_everything(seed)
    x, y = load_clinic("train")
    train_model(
        model, x, y, epochs=60, batch_size=32, lr=1e-3, weight_decay=1e-4, seed=seed,
        device=get_device(), desc="clinic_mlp",
    )
    xt, yt = load_clinic("test")
    return model, accuracy(model, xt, yt)
