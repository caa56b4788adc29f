"""The attacker's surrogate: its own small model, trained on what the target's API answered.

One trainer for every use in the course: model extraction (module 10: copy the target from its
released probabilities or labels) and transfer attacks (module 07: craft adversarial examples on a
stand-in). Threat model: black-box; the attacker holds only its own queries and the answers.
"""

from __future__ import annotations

import torch
from torch import nn

from labkit import validate as v
from labkit.models import DigitsCNN
from labkit.training import Augment, Loss, loss_objective, predict_logits, train_model


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the student's logits against the teacher's released probabilities."""
    v.tensor("logits", logits, ndim=2, floating=True)
    v.tensor("targets", targets, ndim=2, floating=True)
    if targets.shape != logits.shape:
        raise ValueError(
            f"targets must have the shape of logits, {tuple(logits.shape)}, not {tuple(targets.shape)}."
        )
    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()


def surrogate_model(*, channels: tuple[int, int] = (8, 16), hidden: int = 64) -> DigitsCNN:
    """The attacker's own small CNN (a guess at the architecture, smaller than the target)."""
    return DigitsCNN(channels=channels, hidden=hidden)


def train_surrogate(
    x: torch.Tensor,
    targets: torch.Tensor,
    *,
    loss: Loss | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 3e-3,
    augment: Augment | None = None,
    seed: int = 0,
    model: nn.Module | None = None,
    device: torch.device | None = None,
    progress: bool = True,
) -> nn.Module:
    """Train a surrogate (default `surrogate_model()`) on the target's answers: hard labels (int64
    [N]) with cross-entropy, or released probabilities (float [N, C]) with `loss` (default:
    soft-label cross-entropy). The seed fixes the initial weights and the batches. Returns it in eval mode."""
    v.images("x", x)
    v.tensor("targets", targets)
    soft = targets.is_floating_point()
    if soft and targets.ndim != 2:
        raise ValueError(
            f"soft targets must be N x C probabilities, got shape {tuple(targets.shape)}; pass int64 "
            "labels for hard targets."
        )
    if len(targets) != len(x):
        raise ValueError(
            f"targets must give one answer per query: x has {len(x)} rows, targets has {len(targets)}."
        )
    v.positive_int("epochs", epochs)
    v.positive_int("batch_size", batch_size)
    v.positive_float("lr", lr)
    if model is not None:
        v.module("model", model)
    criterion: Loss = (loss or soft_cross_entropy) if soft else nn.functional.cross_entropy
    torch.manual_seed(v.integer("seed", seed))  # the surrogate's initial weights are part of the recipe
    net = model if model is not None else surrogate_model()
    if not soft:
        v.model_labels("targets", targets, model=net, x=x)
    train_model(
        net,
        x,
        targets if soft else targets.long(),
        objective=loss_objective(criterion),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        augment=augment,
        device=device,
        progress=progress,
        desc="surrogate",
    )
    return net.eval()


@torch.no_grad()
def agreement(a: nn.Module, b: nn.Module, x: torch.Tensor, *, batch_size: int = 500) -> float:
    """Fraction of inputs on which two models predict the same label (the surrogate's fidelity)."""
    v.module("a", a)
    v.module("b", b)
    v.images("x", x)
    batch_size = v.positive_int("batch_size", batch_size)
    return float(
        (
            predict_logits(a, x, batch_size=batch_size).argmax(1)
            == predict_logits(b, x, batch_size=batch_size).argmax(1)
        )
        .float()
        .mean()
    )
