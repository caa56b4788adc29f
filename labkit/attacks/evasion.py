"""Evasion attacks with foolbox underneath: attacks by name, batched, device-aware runs.

Threat model (unless an attack says otherwise): white-box, the attacker knows the weights and can
compute gradients, and perturbs the input within an L-inf or L2 ball of radius epsilon, in [0, 1].
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Protocol

import torch
from torch import nn

from labkit import validate as v
from labkit.runtime import borrowed, get_device, progress_bar


class FoolboxModel(Protocol):
    """A model as foolbox sees it: inputs in `bounds`, logits out."""

    bounds: Any

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor: ...


class Attack(Protocol):
    """A foolbox attack: (model, inputs, labels or criterion, epsilons) -> (raw, clipped, success).

    With a list of epsilons, `raw` and `clipped` are lists with one batch per epsilon and `success`
    is [eps, N]; with one epsilon or None (minimal attacks), one batch and success [N]."""

    def __call__(
        self, model: FoolboxModel, inputs: torch.Tensor, criterion: Any, *, epsilons: Any
    ) -> tuple[Any, Any, torch.Tensor]: ...

    def run(self, model: FoolboxModel, inputs: torch.Tensor, criterion: Any, **kwargs: Any) -> torch.Tensor:
        """The attack's raw search, without epsilons (decision-based attacks take starting points)."""
        ...


def foolbox() -> ModuleType:
    """Import foolbox without needing `git` on PATH (GitPython is told to stay quiet)."""
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    import foolbox as fb

    return fb


def as_foolbox(model: nn.Module, *, device: torch.device | None = None) -> FoolboxModel:
    """Wrap a [0, 1]-input model as a foolbox PyTorchModel. It wraps, not copies: the model itself is
    switched to eval mode and moved to `device` and stays so (`run_attack` restores both; or wrap
    the call in `labkit.runtime.borrowed`)."""
    v.module("model", model)
    if device is None:
        first = next(iter(model.parameters()), None)  # a BlackBoxModel exposes no parameters
        device = first.device if first is not None else get_device()
    wrapped: FoolboxModel = foolbox().PyTorchModel(model.eval().to(device), bounds=(0.0, 1.0), device=device)
    return wrapped


def _rel_stepsize(value: float | None, steps: int) -> float:
    """The PGD step as a fraction of epsilon: 2.5 / steps when None (Madry et al.: enough to cross the
    ball and back); a given value must be > 0 (0 would never move, so it is refused, not replaced)."""
    return 2.5 / steps if value is None else v.positive_float("rel_stepsize", value)


def _factories() -> dict[str, Callable[..., Attack]]:
    fa = foolbox().attacks
    return {
        "fgsm": lambda **kw: fa.LinfFastGradientAttack(**kw),
        # step size 2.5 * epsilon / steps (Madry et al.): enough to cross the ball and back
        "pgd": lambda *, steps=40, rel_stepsize=None, random_start=True, **kw: fa.LinfPGD(
            steps=steps, rel_stepsize=_rel_stepsize(rel_stepsize, steps), random_start=random_start, **kw
        ),
        "l2pgd": lambda *, steps=40, rel_stepsize=None, random_start=True, **kw: fa.L2PGD(
            steps=steps, rel_stepsize=_rel_stepsize(rel_stepsize, steps), random_start=random_start, **kw
        ),
        "cw": lambda *, steps=100, binary_search_steps=5, initial_const=1.0, stepsize=0.05, **kw: (
            fa.L2CarliniWagnerAttack(
                steps=steps,
                binary_search_steps=binary_search_steps,
                initial_const=initial_const,
                stepsize=stepsize,
                **kw,
            )
        ),
        "deepfool": lambda *, steps=50, **kw: fa.LinfDeepFoolAttack(steps=steps, **kw),
        "l2deepfool": lambda *, steps=50, **kw: fa.L2DeepFoolAttack(steps=steps, **kw),
        "boundary": lambda *, steps=1000, **kw: fa.BoundaryAttack(steps=steps, **kw),
        "hopskipjump": lambda *, steps=10, **kw: fa.HopSkipJumpAttack(steps=steps, **kw),
    }


ATTACK_NAMES = ("fgsm", "pgd", "l2pgd", "cw", "deepfool", "l2deepfool", "boundary", "hopskipjump")


def make_attack(name: str, **params: Any) -> Attack:
    """A foolbox attack by short name (fgsm, pgd, l2pgd, cw, deepfool, l2deepfool, boundary, hopskipjump)."""
    v.choice("name", name, ATTACK_NAMES)
    for key in ("steps", "binary_search_steps"):
        if key in params:
            v.positive_int(key, params[key])
    return _factories()[name](**params)


def resolve_attack(attack: str | Attack) -> Attack:
    """An attack object as given, or made from its short name ("pgd") with default settings."""
    if isinstance(attack, str):
        v.choice("attack", attack, ATTACK_NAMES)
        return make_attack(attack)
    if not callable(attack):
        raise TypeError(
            f"attack must be a foolbox attack or a name such as 'pgd', not {type(attack).__name__}."
        )
    return attack


def check_images(x: torch.Tensor, y: torch.Tensor) -> None:
    """x: N x C x H x W float images in [0, 1], no NaN; y: N integer labels (ValueError/TypeError if not)."""
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(
            f"x and y must be torch tensors (use torch.as_tensor on NumPy arrays), got "
            f"{type(x).__name__} and {type(y).__name__}."
        )
    if x.ndim != 4 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"x must be images N x C x H x W and y their N labels, got {tuple(x.shape)} and {tuple(y.shape)}."
        )
    if len(x) == 0:
        raise ValueError("no images to attack: x is empty.")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"y must be integer class indices (torch.long), not {y.dtype}.")
    v.images("x", x)
    v.labels("y", y)


def _check_epsilons(epsilons: Sequence[float] | None) -> None:
    if epsilons is not None:
        v.numbers_list("epsilons", epsilons, low=0.0)


def _monotone(best: list[torch.Tensor], broken: torch.Tensor, epsilons: Sequence[float]) -> None:
    """Balls of one norm are nested: an adversarial found within a smaller epsilon also counts for
    every larger one (in place). Keeps curves from rising through attack randomness."""
    order = sorted(range(len(epsilons)), key=lambda i: float(epsilons[i]))
    for smaller, larger in zip(order[:-1], order[1:], strict=True):
        carry = broken[smaller] & ~broken[larger]
        best[larger] = torch.where(
            carry.view(-1, *[1] * (best[larger].ndim - 1)), best[smaller], best[larger]
        )
        broken[larger] |= broken[smaller]


def _attack_batch(
    attack: Attack, fmodel: FoolboxModel, xb: torch.Tensor, yb: torch.Tensor, epsilons: Sequence[float] | None
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """One attack run on one batch: adversarials per epsilon and success [eps, B]. Epsilon 0 is not
    attacked (nothing can move): the input itself, broken exactly when the model misreads it."""
    if epsilons is None:
        _, clipped, success = attack(fmodel, xb, yb, epsilons=None)
        return [clipped.detach()], success[None].detach()
    nonzero = [float(e) for e in epsilons if float(e) > 0]
    found: Iterator[tuple[torch.Tensor, torch.Tensor]] = iter(())
    if nonzero:
        _, clipped, success = attack(fmodel, xb, yb, epsilons=nonzero)
        found = iter(zip(clipped, success, strict=True))
    wrong = torch.zeros(len(yb), dtype=torch.bool, device=yb.device)
    if len(nonzero) < len(epsilons):
        with torch.no_grad():
            wrong = fmodel(xb).argmax(dim=-1) != yb
    advs, successes = [], []
    for epsilon in epsilons:
        adv, ok = next(found) if float(epsilon) > 0 else (xb, wrong)
        advs.append(adv.detach())
        successes.append(ok.detach())
    return advs, torch.stack(successes)


@contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[None]:
    """Turn off requires_grad on the model's weights for the duration (restored afterwards, even on error).

    An attack needs the gradient with respect to the input only; without this, every backward pass also
    computes (and accumulates into `.grad`) the gradient of every weight.
    """
    v.module("model", model)
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def run_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: str | Attack,
    *,
    epsilons: Sequence[float] | None,
    batch_size: int = 500,
    device: torch.device | None = None,
    progress: bool = True,
    restarts: int = 1,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Run a foolbox attack in batches; returns one adversarial batch per epsilon and success [eps, N].

    With `epsilons=None` (minimal-perturbation attacks such as C&W or DeepFool) one batch is returned.
    With `restarts` > 1 the attack runs that many times (useful with a random start) and a sample
    counts as broken if any run breaks it; the first successful adversarial is kept. With several
    epsilons, an adversarial found at a smaller epsilon also counts at the larger ones (nested balls).
    `attack` may be a foolbox attack or a short name (see `make_attack`). Runs on `device`
    (default `get_device()`: CUDA when present) and returns CPU tensors. The model is borrowed
    (`labkit.runtime.borrowed`): its mode, device and weights' requires_grad are restored afterwards.
    """
    v.module("model", model)
    attack = resolve_attack(attack)
    check_images(x, y)
    v.model_labels("y", y, model=model, x=x)
    _check_epsilons(epsilons)
    restarts = v.positive_int("restarts", restarts)
    batch_size = v.positive_int("batch_size", batch_size)
    device = device or get_device()
    with borrowed(model, device=device):
        return _run_batches(model, x, y, attack, epsilons, batch_size, device, progress, restarts)


def _run_batches(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: Attack,
    epsilons: Sequence[float] | None,
    batch_size: int,
    device: torch.device,
    progress: bool,
    restarts: int,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    fmodel = as_foolbox(model, device=device)
    n_eps = len(epsilons) if epsilons is not None else 1
    advs: list[list[torch.Tensor]] = [[] for _ in range(n_eps)]
    successes: list[torch.Tensor] = []
    starts = [(s, r) for s in range(0, len(x), batch_size) for r in range(restarts)]
    best: list[torch.Tensor] = []
    broken = torch.empty(0)
    for start, restart in progress_bar(starts, desc=type(attack).__name__, enabled=progress, leave=False):
        xb = x[start : start + batch_size].to(device)
        yb = y[start : start + batch_size].to(device)
        if restart == 0:
            with frozen_parameters(model):  # input gradients only: no wasted weight gradients
                best, broken = _attack_batch(attack, fmodel, xb, yb, epsilons)
            best = [adv.clone() for adv in best] if restarts > 1 else best  # filled in place below
        else:  # a restart attacks only the samples still standing at some epsilon
            alive = (~broken.all(dim=0)).nonzero()[:, 0]
            if len(alive):
                with frozen_parameters(model):
                    clipped, success = _attack_batch(attack, fmodel, xb[alive], yb[alive], epsilons)
                new = success & ~broken[:, alive]
                for i, adv in enumerate(clipped):
                    keep = alive[new[i]]
                    best[i][keep] = adv[new[i]]
                broken[:, alive] |= success
        if restart == restarts - 1:
            if epsilons is not None and len(epsilons) > 1:
                _monotone(best, broken, epsilons)
            for i, adv in enumerate(best):
                advs[i].append(adv.cpu())
            successes.append(broken.cpu())
    return [torch.cat(a) for a in advs], torch.cat(successes, dim=1)
