"""Auto-PGD (Croce & Hein, ICML 2020): projected gradient ascent that tunes its own step size.

Unlike fixed-step PGD, APGD starts with a step of 2 * epsilon, adds momentum, and at checkpoints
(22%, then ever closer, of the iterations) halves the step of every example whose loss stopped
rising, restarting it from the best point it found. Losses: cross-entropy ("ce"), the
difference-of-logits ratio ("dlr", scale-free, so it does not saturate on confident models), and
the targeted DLR behind APGD-T (`apgd_targeted`: one run per likely wrong class).

Threat model: white-box (weights and gradients known); the perturbation stays within an L-inf or
L2 ball of radius epsilon around the input, and the result within the [0, 1] pixel box.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from labkit import validate as v

LOSSES = ("ce", "dlr")
NORMS = ("linf", "l2")


def dlr_loss(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    """Per-example difference-of-logits ratio (higher means closer to a mistake).

    Untargeted: -(z_y - max_{i != y} z_i) / (z_(1) - z_(3)); targeted at class t:
    -(z_y - z_t) / (z_(1) - (z_(3) + z_(4)) / 2), where z_(k) is the k-th largest logit."""
    v.tensor("logits", logits, floating=True, finite=False)
    needed = 3 if target is None else 4
    if logits.ndim != 2 or logits.shape[1] < needed:
        raise ValueError(
            f"logits must be N x C with C >= {needed} for this DLR loss, got {tuple(logits.shape)}."
        )
    v.labels("y", y, n=len(logits), num_classes=logits.shape[-1])
    if target is not None:
        v.labels("target", target, n=len(logits), num_classes=logits.shape[-1])
    return _dlr(logits, y, target)


def _dlr(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    ordered, _ = logits.sort(dim=1)
    z_y = logits.gather(1, y[:, None])[:, 0]
    if target is None:
        is_top = logits.argmax(dim=1) == y
        other = torch.where(is_top, ordered[:, -2], ordered[:, -1])
        return -(z_y - other) / (ordered[:, -1] - ordered[:, -3] + 1e-12)
    z_t = logits.gather(1, target[:, None])[:, 0]
    return -(z_y - z_t) / (ordered[:, -1] - 0.5 * (ordered[:, -3] + ordered[:, -4]) + 1e-12)


def _per_example_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (t.ndim - 1))


def _project(adv: torch.Tensor, x0: torch.Tensor, epsilon: float, norm: str) -> torch.Tensor:
    delta = adv - x0
    if norm == "linf":
        delta = delta.clamp(-epsilon, epsilon)
    else:
        delta = delta * (epsilon / _per_example_norm(delta)).clamp(max=1.0)
    return (x0 + delta).clamp(0.0, 1.0)


def _direction(gradient: torch.Tensor, norm: str) -> torch.Tensor:
    return gradient.sign() if norm == "linf" else gradient / _per_example_norm(gradient)


def checkpoints(steps: int) -> list[int]:
    """The iterations at which APGD reconsiders its step sizes: p_0 = 0, p_1 = 0.22,
    p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), times `steps`, rounded up."""
    steps = v.positive_int("steps", steps)
    points, previous, current = [], 0.0, 0.22
    while current <= 1.0:
        points.append(math.ceil(round(current * steps, 6)))
        previous, current = current, current + max(current - previous - 0.03, 0.06)
    return sorted(set(p for p in points if 0 < p <= steps))


def _run(
    model: nn.Module,
    x0: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    norm: str,
    loss: str,
    steps: int,
    rho: float,
    target: torch.Tensor | None,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One APGD run from a random start; (adversarial or best-loss point, broken mask)."""

    def value(adv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        adv = adv.detach().requires_grad_(True)
        logits = model(adv)
        if loss == "ce" and target is None:
            per = nn.functional.cross_entropy(logits, y, reduction="none")
        else:
            per = _dlr(logits, y, target)
        (gradient,) = torch.autograd.grad(per.sum(), adv)
        return per.detach(), gradient, logits.detach().argmax(dim=1) != y

    shape = (-1, *[1] * (x0.ndim - 1))
    device = generator.device if generator is not None else x0.device
    if norm == "linf":
        start = 2 * torch.rand(x0.shape, generator=generator, device=device, dtype=x0.dtype) - 1
        start = epsilon * start.to(x0.device)
    else:
        start = torch.randn(x0.shape, generator=generator, device=device, dtype=x0.dtype).to(x0.device)
        start = epsilon * start / _per_example_norm(start)
    adv = _project(x0 + start, x0, epsilon, norm)
    loss_now, gradient, wrong = value(adv)
    broken = wrong.clone()
    found = torch.where(wrong.view(shape), adv, x0)  # first adversarial seen, per example
    best, best_loss, best_gradient = adv.clone(), loss_now.clone(), gradient.clone()
    step = torch.full((len(x0), *[1] * (x0.ndim - 1)), 2.0 * epsilon, device=x0.device, dtype=x0.dtype)
    marks = checkpoints(steps)
    last_mark, increases = 0, torch.zeros(len(x0), device=x0.device)
    loss_at_mark = best_loss.clone()
    halved_at_mark = torch.ones(len(x0), dtype=torch.bool, device=x0.device)
    previous = adv.clone()
    for i in range(1, steps + 1):
        momentum = 1.0 if i == 1 else 0.75
        z = _project(adv + step * _direction(gradient, norm), x0, epsilon, norm)
        candidate = _project(
            adv + momentum * (z - adv) + (1 - momentum) * (adv - previous), x0, epsilon, norm
        )
        previous, adv = adv, candidate
        new_loss, gradient, wrong = value(adv)
        first = wrong & ~broken
        found = torch.where(first.view(shape), adv, found)
        broken |= wrong
        increases += (new_loss > loss_now).float()
        loss_now = new_loss
        better = new_loss > best_loss
        best = torch.where(better.view(shape), adv, best)
        best_gradient = torch.where(better.view(shape), gradient, best_gradient)
        best_loss = torch.where(better, new_loss, best_loss)
        if i in marks:  # batched decision, no host sync: which examples halve their step
            oscillating = increases < rho * (i - last_mark)
            stalled = ~halved_at_mark & (loss_at_mark >= best_loss)
            halve = oscillating | stalled
            step = torch.where(halve.view(shape), step / 2, step)
            adv = torch.where(halve.view(shape), best, adv)
            gradient = torch.where(halve.view(shape), best_gradient, gradient)
            halved_at_mark, loss_at_mark = halve, best_loss.clone()
            last_mark, increases = i, torch.zeros_like(increases)
    return torch.where(broken.view(shape), found, best).detach(), broken


def _checked(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, norm: str, steps: int, rho: float
) -> tuple[float, int, float]:
    v.function("model", model)
    v.images("x", x)
    v.model_labels("y", y, model=model, x=x)
    v.choice("norm", norm, NORMS)
    epsilon = v.nonnegative_float("epsilon", epsilon)
    steps = v.positive_int("steps", steps)
    rho = v.finite_float("rho", rho, low=0.0, high=1.0, low_open=True)
    return epsilon, steps, rho


def apgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    norm: str = "linf",
    loss: str = "ce",
    steps: int = 100,
    rho: float = 0.75,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Untargeted APGD with the "ce" or "dlr" loss. Returns (adversarial inputs, broken mask): for a
    broken example the first misclassified point found, otherwise the point of highest loss.
    The model is used as given (eval mode first); everything stays on x's device."""
    epsilon, steps, rho = _checked(model, x, y, epsilon, norm, steps, rho)
    v.choice("loss", loss, LOSSES)
    return _run(
        model, x.detach(), y, epsilon=epsilon, norm=norm, loss=loss, steps=steps, rho=rho,
        target=None, generator=generator,
    )  # fmt: skip


def apgd_targeted(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    norm: str = "linf",
    targets: int = 3,
    steps: int = 100,
    rho: float = 0.75,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """APGD-T: targeted-DLR APGD towards each of the `targets` most likely wrong classes in turn
    (by the clean logits), each run attacking only the examples still standing. Returns
    (adversarial inputs, broken mask) like `apgd`."""
    epsilon, steps, rho = _checked(model, x, y, epsilon, norm, steps, rho)
    x0 = x.detach()
    with torch.no_grad():
        logits = model(x0)
    classes = logits.shape[-1]
    if classes < 4:
        raise ValueError(f"APGD-T's targeted DLR loss needs at least 4 classes; the model has {classes}.")
    targets = v.positive_int("targets", targets)
    if targets > classes - 1:
        raise ValueError(f"targets must be at most {classes - 1} (the wrong classes), got {targets}.")
    ranked = logits.masked_fill(nn.functional.one_hot(y, classes).bool(), -math.inf).argsort(
        1, descending=True
    )
    adv, broken = x0.clone(), logits.argmax(dim=1) != y
    for rank in range(targets):
        alive = (~broken).nonzero()[:, 0]  # which examples are still standing (one host sync per target)
        if len(alive) == 0:
            break
        found, hit = _run(
            model, x0[alive], y[alive], epsilon=epsilon, norm=norm, loss="dlr", steps=steps, rho=rho,
            target=ranked[alive, rank], generator=generator,
        )  # fmt: skip
        adv[alive] = found
        broken[alive] = hit
    return adv, broken
