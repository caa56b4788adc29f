"""Measuring evasion: robustness curves, robust accuracy, perturbation sizes of minimal attacks.

Threat model: that of the attack measured (see `labkit.attacks.evasion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from labkit import validate as v
from labkit.attacks.evasion import Attack, check_images, resolve_attack, run_attack
from labkit.runtime import get_device


@dataclass(frozen=True)
class RobustnessCurve:
    """Accuracy under attack at each epsilon (epsilon 0 is clean accuracy)."""

    attack: str
    epsilons: tuple[float, ...]
    accuracies: tuple[float, ...]

    def table(self) -> str:
        """A markdown table of epsilon against accuracy."""
        rows = ["| epsilon | accuracy |", "|---|---|"]
        rows += [f"| {e:g} | {a:.1%} |" for e, a in zip(self.epsilons, self.accuracies, strict=True)]
        return "\n".join(rows)

    def plot(self, ax: Any = None, *, label: str | None = None) -> Any:
        """Draw the curve on a matplotlib axis (a new one if none is given); returns the axis."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(self.epsilons, self.accuracies, marker="o", label=label or self.attack)
        ax.set_xlabel(
            "epsilon (L-inf, fraction of pixel range)" if "2" not in self.attack else "epsilon (L2)"
        )
        ax.set_ylabel("accuracy under attack")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
        return ax


def robustness_curve(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: str | Attack,
    *,
    epsilons: Sequence[float],
    batch_size: int = 500,
    device: torch.device | None = None,
    progress: bool = True,
    restarts: int = 1,
) -> RobustnessCurve:
    """Accuracy of `model` on (x, y) under `attack` at each epsilon; a sample counts as robust only
    if it is classified correctly and the attack fails (in every one of `restarts` runs)."""
    v.module("model", model)
    attack = resolve_attack(attack)
    v.numbers_list("epsilons", epsilons, low=0.0)
    _, success = run_attack(
        model,
        x,
        y,
        attack,
        epsilons=epsilons,
        batch_size=batch_size,
        device=device,
        progress=progress,
        restarts=restarts,
    )
    accuracies = tuple(1.0 - float(rate) for rate in success.float().mean(dim=1))
    return RobustnessCurve(type(attack).__name__, tuple(float(e) for e in epsilons), accuracies)


def robust_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: str | Attack,
    *,
    epsilon: float,
    batch_size: int = 500,
    device: torch.device | None = None,
    progress: bool = True,
    restarts: int = 1,
) -> float:
    """Accuracy under `attack` at one epsilon (foolbox counts misclassified clean inputs as successes)."""
    epsilon = v.nonnegative_float("epsilon", epsilon)
    curve = robustness_curve(
        model,
        x,
        y,
        attack,
        epsilons=[epsilon],
        batch_size=batch_size,
        device=device,
        progress=progress,
        restarts=restarts,
    )
    return curve.accuracies[0]


def perturbation_norms(x: torch.Tensor, adv: torch.Tensor, *, norm: str = "l2") -> torch.Tensor:
    """Per-sample size of `adv - x` in the L2 or L-inf norm."""
    v.choice("norm", norm, ("l2", "linf"))
    v.tensor("x", x, floating=True)
    v.tensor("adv", adv, floating=True, finite=False)
    if adv.shape != x.shape:
        raise ValueError(f"adv must have the shape of x, {tuple(x.shape)}, not {tuple(adv.shape)}.")
    delta = (adv.detach().cpu() - x.detach().cpu()).flatten(1)
    return delta.norm(dim=1) if norm == "l2" else delta.abs().amax(dim=1)


def adversarial_examples(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: str | Attack,
    *,
    epsilon: float | None,
    device: torch.device | None = None,
    restarts: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Adversarial inputs for one epsilon (None for minimal attacks) and whether each one succeeded."""
    if epsilon is not None:
        epsilon = v.nonnegative_float("epsilon", epsilon)
    (adv,), success = run_attack(
        model,
        x,
        y,
        attack,
        epsilons=None if epsilon is None else [epsilon],
        device=device,
        progress=False,
        restarts=restarts,
    )
    return adv, success[0]


@dataclass(frozen=True)
class PerturbationStats:
    """How large the smallest successful perturbations are (for minimal attacks like C&W, DeepFool).

    Only inputs the model classifies correctly are attacked (`attacked` of them): a misclassified
    input needs no perturbation and would drag the median towards zero.
    """

    norm: str
    success_rate: float
    median: float
    mean: float
    norms: torch.Tensor
    attacked: int = 0
    attacked_mask: torch.Tensor | None = None  # which of the given inputs were attacked (read correctly)
    adversarials: torch.Tensor | None = None  # one per attacked input (see `fooled` for which worked)
    fooled: torch.Tensor | None = None  # per attacked input: did the attack succeed


@torch.no_grad()
def _predictions(model: nn.Module, x: torch.Tensor, *, batch_size: int, device: torch.device) -> torch.Tensor:
    model.eval()
    return torch.cat(
        [model(x[i : i + batch_size].to(device)).argmax(dim=1).cpu() for i in range(0, len(x), batch_size)]
    )


def minimal_perturbations(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: str | Attack,
    *,
    norm: str = "l2",
    batch_size: int = 500,
    device: torch.device | None = None,
    progress: bool = True,
) -> PerturbationStats:
    """Run a minimal-perturbation attack (epsilons=None) on the correctly classified inputs and
    summarise the size of the successful perturbations in the L2 or L-inf norm."""
    v.choice("norm", norm, ("l2", "linf"))
    v.module("model", model)
    attack = resolve_attack(attack)
    check_images(x, y)
    v.model_labels("y", y, model=model, x=x)
    batch_size = v.positive_int("batch_size", batch_size)
    device = device or get_device()
    model.to(device)
    correct = _predictions(model, x, batch_size=batch_size, device=device) == y.cpu()
    if not correct.any():
        raise ValueError("the model misclassifies every input given: nothing left to attack.")
    xc, yc = x[correct], y[correct]
    (adv,), success = run_attack(
        model, xc, yc, attack, epsilons=None, batch_size=batch_size, device=device, progress=progress
    )
    norms = perturbation_norms(xc, adv, norm=norm)
    ok = success[0]
    found = norms[ok]
    return PerturbationStats(
        norm=norm,
        success_rate=float(ok.float().mean()),
        median=float(found.median()) if len(found) else float("nan"),
        mean=float(found.mean()) if len(found) else float("nan"),
        norms=found,
        attacked=int(correct.sum()),
        attacked_mask=correct,
        adversarials=adv,
        fooled=ok,
    )
