"""Adversarial training (Madry et al.): train on attacked batches.

Threat model defended against: white-box evasion within an L-inf ball of radius epsilon.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from labkit import validate as v
from labkit.attacks.pgd import Perturb, fgsm_random_start, projected_gradient
from labkit.training import Augment, check_training_data, train_model


def make_perturb(method: str, *, steps: int = 10) -> Perturb:
    """The training-time attack by name: "fgsm" (FGSM with random start) or "pgd" (PGD-`steps`)."""
    v.choice("method", method, ("fgsm", "pgd"))
    steps = v.positive_int("steps", steps)
    if method == "fgsm":
        return fgsm_random_start
    if method == "pgd":
        return partial(projected_gradient, steps=steps)
    raise ValueError(f"method must be 'fgsm' or 'pgd' (or pass your own perturb function), not {method!r}.")


def adversarial_train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    perturb: str | Perturb = "fgsm",
    epsilon: float = 0.3,
    warmup_epochs: float = 0.0,
    clean_weight: float = 0.0,
    steps: int = 10,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    augment: Augment | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    desc: str = "adversarial training",
) -> list[float]:
    """Adversarial training (Madry et al.): labkit's training loop on attacked batches; returns each
    epoch's mean loss.

    `perturb` is "fgsm" (random start), "pgd" (PGD-`steps`) or your own function; epsilon ramps up
    linearly over `warmup_epochs`; the loss is clean_weight * clean + (1 - clean_weight) * adversarial.
    """
    check_training_data(model, x, y, labels=True)
    clean_weight = v.probability("clean_weight", clean_weight)
    epsilon = v.nonnegative_float("epsilon", epsilon)
    warmup_epochs = v.nonnegative_float("warmup_epochs", warmup_epochs)
    steps = v.positive_int("steps", steps)
    batch_size = v.positive_int("batch_size", batch_size)
    if isinstance(perturb, str):
        v.choice("perturb", perturb, ("fgsm", "pgd"))
    attack = (
        make_perturb(perturb, steps=steps) if isinstance(perturb, str) else v.function("perturb", perturb)
    )
    ramp = max(1.0, warmup_epochs * math.ceil(len(x) / batch_size))  # batches until epsilon is reached
    batches_done = 0

    def attacked_loss(
        net: nn.Module, xb: torch.Tensor, yb: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        nonlocal batches_done
        batches_done += 1
        eps = epsilon * min(1.0, batches_done / ramp) if warmup_epochs else epsilon
        net.eval()  # attack the model as it will be deployed (no dropout, frozen batch statistics)
        x_adv = attack(net, xb, yb, epsilon=eps, generator=generator)
        net.train()
        loss = nn.functional.cross_entropy(net(x_adv), yb)
        if clean_weight:
            loss = (1 - clean_weight) * loss + clean_weight * nn.functional.cross_entropy(net(xb), yb)
        return loss

    return train_model(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        augment=augment,
        objective=attacked_loss,
        device=device,
        progress=progress,
        desc=desc,
    )
