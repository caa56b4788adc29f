"""The projected-gradient loop: one implementation behind FGSM with a random start, PGD and
adversarial training, with hooks for the loss, the step and the projection.

Threat model: white-box (weights and gradients known), perturbation within an L-inf (or L2) ball of
radius epsilon around an input in [0, 1].
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn


class Perturb(Protocol):
    """An attack used inside training: (model, x, y, epsilon, generator) -> adversarial x."""

    def __call__(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epsilon: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor: ...


def _uniform(like: torch.Tensor, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    noise = torch.rand(like.shape, generator=generator, dtype=like.dtype)  # CPU generator, then move
    return (low + (high - low) * noise).to(like.device)


def _loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(x), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def linf_pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Hand-written L-inf PGD on the cross-entropy (Madry et al.); white-box, |delta|_inf <= epsilon.

    Step size defaults to 2.5 * epsilon / steps, as in labkit.attacks.evasion's foolbox PGD.
    """
    if epsilon < 0 or steps < 1:
        raise ValueError(f"need epsilon >= 0 and steps >= 1, got epsilon={epsilon}, steps={steps}.")
    step = step_size if step_size is not None else 2.5 * epsilon / steps
    x0 = x.detach()
    adv = x0 + _uniform(x0, -epsilon, epsilon, generator) if random_start else x0.clone()
    adv = adv.clamp(0.0, 1.0)
    for _ in range(steps):
        adv = adv + step * _loss_gradient(model, adv, y).sign()
        adv = (x0 + (adv - x0).clamp(-epsilon, epsilon)).clamp(0.0, 1.0)
    return adv.detach()


def fgsm_random_start(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    alpha: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """FGSM from a random point in the ball ("fast is better than free", Wong et al. 2020); white-box.

    One signed-gradient step of size alpha (default 1.25 * epsilon), projected back to the ball and [0, 1].
    """
    alpha = 1.25 * epsilon if alpha is None else alpha
    if epsilon < 0 or alpha < 0:
        raise ValueError(f"need epsilon >= 0 and alpha >= 0, got epsilon={epsilon}, alpha={alpha}.")
    x0 = x.detach()
    start = (x0 + _uniform(x0, -epsilon, epsilon, generator)).clamp(0.0, 1.0)
    adv = start + alpha * _loss_gradient(model, start, y).sign()
    return (x0 + (adv - x0).clamp(-epsilon, epsilon)).clamp(0.0, 1.0).detach()
