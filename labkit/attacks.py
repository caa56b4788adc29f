"""Evasion attacks with foolbox underneath: batched, device-aware, with robustness curves.

Threat model (unless an attack says otherwise): white-box, the attacker knows the weights and can
compute gradients, and perturbs the input within an L-inf or L2 ball of radius epsilon, in [0, 1].
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from labkit.runtime import get_device


def foolbox():  # noqa: ANN201 - returns the foolbox module
    """Import foolbox without needing `git` on PATH (GitPython is told to stay quiet)."""
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    import foolbox as fb

    return fb


def as_foolbox(model: nn.Module, *, device: torch.device | None = None) -> Any:
    """Wrap a [0, 1]-input model as a foolbox PyTorchModel (eval mode, on `device`)."""
    device = device or next(model.parameters()).device
    return foolbox().PyTorchModel(model.eval().to(device), bounds=(0.0, 1.0), device=device)


def _factories() -> dict[str, Callable[..., Any]]:
    fa = foolbox().attacks
    return {
        "fgsm": lambda **kw: fa.LinfFastGradientAttack(**kw),
        # step size 2.5 * epsilon / steps (Madry et al.): enough to cross the ball and back
        "pgd": lambda *, steps=40, rel_stepsize=None, random_start=True, **kw: fa.LinfPGD(
            steps=steps, rel_stepsize=rel_stepsize or 2.5 / steps, random_start=random_start, **kw
        ),
        "l2pgd": lambda *, steps=40, rel_stepsize=None, random_start=True, **kw: fa.L2PGD(
            steps=steps, rel_stepsize=rel_stepsize or 2.5 / steps, random_start=random_start, **kw
        ),
        "cw": lambda *, steps=100, binary_search_steps=5, initial_const=1.0, stepsize=0.05, **kw:
            fa.L2CarliniWagnerAttack(steps=steps, binary_search_steps=binary_search_steps,
                                     initial_const=initial_const, stepsize=stepsize, **kw),
        "deepfool": lambda *, steps=50, **kw: fa.LinfDeepFoolAttack(steps=steps, **kw),
        "l2deepfool": lambda *, steps=50, **kw: fa.L2DeepFoolAttack(steps=steps, **kw),
        "boundary": lambda *, steps=1000, **kw: fa.BoundaryAttack(steps=steps, **kw),
        "hopskipjump": lambda *, steps=10, **kw: fa.HopSkipJumpAttack(steps=steps, **kw),
    }


ATTACK_NAMES = ("fgsm", "pgd", "l2pgd", "cw", "deepfool", "l2deepfool", "boundary", "hopskipjump")


def make_attack(name: str, **params: Any) -> Any:
    """A foolbox attack by short name (fgsm, pgd, l2pgd, cw, deepfool, l2deepfool, boundary, hopskipjump)."""
    factories = _factories()
    if name not in factories:
        raise ValueError(f"Unknown attack {name!r}; choose one of {', '.join(ATTACK_NAMES)}.")
    return factories[name](**params)


def _check_inputs(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.ndim != 4 or len(x) != len(y):
        raise ValueError(
            f"expected images N x C x H x W and N labels, got {tuple(x.shape)} and {tuple(y.shape)}."
        )
    if float(x.min()) < 0.0 or float(x.max()) > 1.0:
        raise ValueError("images must be in [0, 1] (labkit models normalise inside); rescale them first.")


def run_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: Any,
    *,
    epsilons: Sequence[float] | None,
    batch_size: int = 500,
    device: torch.device | None = None,
    progress: bool = True,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Run a foolbox attack in batches; returns one adversarial batch per epsilon and success [eps, N].

    With `epsilons=None` (minimal-perturbation attacks such as C&W or DeepFool) one batch is returned.
    """
    _check_inputs(x, y)
    device = device or get_device()
    fmodel = as_foolbox(model, device=device)
    eps_arg: Any = list(epsilons) if epsilons is not None else None
    n_eps = len(epsilons) if epsilons is not None else 1
    advs: list[list[torch.Tensor]] = [[] for _ in range(n_eps)]
    successes: list[torch.Tensor] = []
    starts = range(0, len(x), batch_size)
    for start in tqdm(starts, desc=type(attack).__name__, disable=not progress, leave=False):
        xb = x[start : start + batch_size].to(device)
        yb = y[start : start + batch_size].to(device)
        _, clipped, success = attack(fmodel, xb, yb, epsilons=eps_arg)
        if epsilons is None:
            clipped, success = [clipped], success[None]
        for i, adv in enumerate(clipped):
            advs[i].append(adv.detach().cpu())
        successes.append(success.detach().cpu())
    return [torch.cat(a) for a in advs], torch.cat(successes, dim=1)


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
        ax.set_xlabel("epsilon (L-inf, fraction of pixel range)" if "2" not in self.attack
                      else "epsilon (L2)")
        ax.set_ylabel("accuracy under attack")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
        return ax


def robustness_curve(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: Any,
    *,
    epsilons: Sequence[float],
    batch_size: int = 500,
    device: torch.device | None = None,
    progress: bool = True,
) -> RobustnessCurve:
    """Accuracy of `model` on (x, y) under `attack` at each epsilon; a sample counts as robust only
    if it is classified correctly and the attack fails."""
    _, success = run_attack(model, x, y, attack, epsilons=epsilons, batch_size=batch_size,
                            device=device, progress=progress)
    accuracies = tuple(1.0 - success.float().mean(dim=1).tolist()[i] for i in range(len(epsilons)))
    return RobustnessCurve(type(attack).__name__, tuple(float(e) for e in epsilons), accuracies)


def robust_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: Any,
    *,
    epsilon: float,
    batch_size: int = 500,
    device: torch.device | None = None,
    progress: bool = True,
) -> float:
    """Accuracy under `attack` at one epsilon (foolbox counts misclassified clean inputs as successes)."""
    curve = robustness_curve(model, x, y, attack, epsilons=[epsilon], batch_size=batch_size,
                             device=device, progress=progress)
    return curve.accuracies[0]


@dataclass(frozen=True)
class PerturbationStats:
    """How large the smallest successful perturbations are (for minimal attacks like C&W, DeepFool)."""

    norm: str
    success_rate: float
    median: float
    mean: float
    norms: torch.Tensor


def minimal_perturbations(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: Any,
    *,
    norm: str = "l2",
    batch_size: int = 500,
    device: torch.device | None = None,
    progress: bool = True,
) -> PerturbationStats:
    """Run a minimal-perturbation attack and summarise the size of the successful perturbations."""
    if norm not in ("l2", "linf"):
        raise ValueError(f"norm must be 'l2' or 'linf', not {norm!r}.")
    (adv,), success = run_attack(model, x, y, attack, epsilons=None, batch_size=batch_size,
                                 device=device, progress=progress)
    delta = (adv - x).flatten(1)
    norms = delta.norm(dim=1) if norm == "l2" else delta.abs().amax(dim=1)
    ok = success[0]
    found = norms[ok]
    return PerturbationStats(
        norm=norm,
        success_rate=float(ok.float().mean()),
        median=float(found.median()) if len(found) else float("nan"),
        mean=float(found.mean()) if len(found) else float("nan"),
        norms=found,
    )
