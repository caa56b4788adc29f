"""Adversarial training (Madry et al.): train on attacked batches.

Threat model defended against: white-box evasion within an L-inf ball of radius epsilon.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn
from tqdm.auto import tqdm

from labkit.attacks.pgd import Perturb, fgsm_random_start, linf_pgd
from labkit.runtime import get_device
from labkit.training import Augment, shuffled_batches


def make_perturb(method: str, *, steps: int = 10) -> Perturb:
    """The training-time attack by name: "fgsm" (FGSM with random start) or "pgd" (PGD-`steps`)."""
    if method == "fgsm":
        return fgsm_random_start
    if method == "pgd":
        return partial(linf_pgd, steps=steps)
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
    """Adversarial training (Madry et al.): train on attacked batches; returns each epoch's mean loss.

    `perturb` is "fgsm" (random start), "pgd" (PGD-`steps`) or your own function; epsilon ramps up
    linearly over `warmup_epochs`; the loss is clean_weight * clean + (1 - clean_weight) * adversarial.
    """
    if not 0.0 <= clean_weight <= 1.0:
        raise ValueError(f"clean_weight must be in [0, 1], not {clean_weight}.")
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"need as many labels as images (and at least one), got {len(x)} and {len(y)}.")
    if epsilon < 0 or warmup_epochs < 0 or epochs < 1:
        raise ValueError(
            f"need epsilon >= 0, warmup_epochs >= 0 and epochs >= 1, got epsilon={epsilon}, "
            f"warmup_epochs={warmup_epochs}, epochs={epochs}."
        )
    attack = make_perturb(perturb, steps=steps) if isinstance(perturb, str) else perturb
    device = device or get_device()
    model.to(device).train()
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    total_batches = max(1, warmup_epochs * math.ceil(len(x) / batch_size))
    losses: list[float] = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    done = 0
    for _ in bar:
        total, count = 0.0, 0
        for xb, yb in shuffled_batches(x, y, batch_size=batch_size, generator=generator):
            if augment is not None:
                xb = augment(xb, generator)
            xb, yb = xb.to(device), yb.to(device)
            eps = epsilon * min(1.0, (done + 1) / total_batches) if warmup_epochs else epsilon
            model.eval()
            x_adv = attack(model, xb, yb, epsilon=eps, generator=generator)
            model.train()
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(model(x_adv), yb)
            if clean_weight:
                loss = (1 - clean_weight) * loss + clean_weight * nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(yb)
            count += len(yb)
            done += 1
        losses.append(total / count)
        bar.set_postfix(loss=f"{losses[-1]:.4f}", eps=f"{eps:.2f}")
    model.eval()
    return losses
