"""Differentially private training (DP-SGD with opacus) as a defence against privacy attacks.

Threat model defended against: membership inference and reconstruction by anyone who sees the
model's outputs (or weights); the guarantee is (epsilon, delta)-differential privacy per record.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

from labkit import validate as v
from labkit.models import ClinicMLP
from labkit.runtime import progress_bar

DELTA = 1e-5


# ----------------------------------------------------------------------------- differential privacy


@dataclass(frozen=True)
class DPResult:
    """A model trained with DP-SGD and the privacy budget it spent."""

    model: nn.Module
    epsilon: float
    delta: float
    noise_multiplier: float
    max_grad_norm: float
    epochs: int


def train_dp(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    target_epsilon: float | None = None,
    noise_multiplier: float | None = None,
    max_grad_norm: float = 1.0,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 0.5,
    hidden: tuple[int, ...] = (64, 32),
    model: nn.Module | None = None,
    num_classes: int = 2,
    progress: bool = False,
    delta: float = DELTA,
    seed: int = 0,
) -> DPResult:
    """Train a ClinicMLP with DP-SGD (opacus): per-record gradients clipped to `max_grad_norm`,
    Gaussian noise added, Poisson batches. Give either `target_epsilon` (opacus picks the noise)
    or `noise_multiplier`; the result reports the epsilon spent at `delta` (RDP accountant).
    `model` (any opacus-compatible module with `num_classes` outputs, e.g. `labkit.attacks.shadow.mlp`)
    replaces the default ClinicMLP of `hidden` widths; it is trained in place on the CPU.
    Opacus's secure_mode (a cryptographically secure noise source) is off, as fits a lab; turn it
    on for a model you release."""
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    if (target_epsilon is None) == (noise_multiplier is None):
        raise ValueError("give exactly one of target_epsilon or noise_multiplier.")
    if target_epsilon is not None:
        target_epsilon = v.positive_float("target_epsilon", target_epsilon)
    if noise_multiplier is not None:
        noise_multiplier = v.nonnegative_float("noise_multiplier", noise_multiplier)
    v.tensor("x", x, ndim=2, floating=True)
    num_classes = v.integer("num_classes", num_classes, low=2)
    v.labels("y", y, n=len(x), num_classes=num_classes)
    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (or None for a ClinicMLP), not {model!r:.60}.")
    max_grad_norm = v.positive_float("max_grad_norm", max_grad_norm)
    epochs = v.positive_int("epochs", epochs)
    batch_size = v.positive_int("batch_size", batch_size)
    lr = v.positive_float("lr", lr)
    delta = v.finite_float("delta", delta, low=0.0, high=1.0, low_open=True, high_open=True)
    seed = v.integer("seed", seed)
    x, y = x.detach().cpu(), y.cpu()  # a tiny MLP: the CPU is the fast place for it
    torch.manual_seed(seed)
    if model is None:
        model = ClinicMLP(in_features=x.shape[1], hidden=hidden)
    model = model.cpu()
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    loader = DataLoader(
        TensorDataset(x, y),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]ecure RNG.*")  # fine for a lab; see docstring
        warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")  # accountant's tightness hint
        engine = PrivacyEngine(accountant="rdp")
        common = {
            "module": model,
            "optimizer": optimiser,
            "data_loader": loader,
            "max_grad_norm": max_grad_norm,
        }
        if target_epsilon is not None:
            private, optimiser, loader = engine.make_private_with_epsilon(
                **common, target_epsilon=target_epsilon, target_delta=delta, epochs=epochs
            )
        else:
            private, optimiser, loader = engine.make_private(**common, noise_multiplier=noise_multiplier)
    private.train()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ff]ull backward hook.*")
        for _ in progress_bar(range(epochs), desc="DP-SGD epochs", enabled=progress, leave=False):
            for xb, yb in loader:
                if len(yb) == 0:  # Poisson sampling can draw an empty batch
                    continue
                optimiser.zero_grad()
                nn.functional.cross_entropy(private(xb), yb).backward()
                optimiser.step()
    model = private.to_standard_module().eval()  # opacus's hooks and per-sample gradients removed
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")
        epsilon = float(engine.get_epsilon(delta))
    return DPResult(
        model=model,
        epsilon=epsilon,
        delta=delta,
        noise_multiplier=float(optimiser.noise_multiplier),
        max_grad_norm=max_grad_norm,
        epochs=epochs,
    )
