"""The projected-gradient loop: one implementation behind FGSM with a random start, PGD (L-inf and
L2) and adversarial training, with hooks for the loss, the step direction and the projection.

Threat model: white-box (weights and gradients known); the perturbation stays within an L-inf or
L2 ball of radius epsilon around the input, and the result within the [0, 1] pixel box.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn

from labkit import validate as v

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, labels) -> scalar to ascend
StepFn = Callable[[torch.Tensor], torch.Tensor]  # gradient -> step direction
ProjectFn = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]  # (adv, x0, epsilon) -> adv
NORMS = ("linf", "l2")


class Perturb(Protocol):
    """An attack used inside training: (model, x, y, epsilon, generator) -> adversarial x."""

    def __call__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        epsilon: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor: ...


def _summed_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits, y, reduction="sum")


def _per_sample_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (t.ndim - 1))


def sign_step(gradient: torch.Tensor) -> torch.Tensor:
    """Steepest ascent under the L-inf norm: the sign of the gradient."""
    v.tensor("gradient", gradient, floating=True, finite=False)
    return gradient.sign()


def l2_step(gradient: torch.Tensor) -> torch.Tensor:
    """Steepest ascent under the L2 norm: the gradient scaled to unit length per sample."""
    v.tensor("gradient", gradient, floating=True, finite=False)
    return _unit_l2(gradient)


def project_linf(adv: torch.Tensor, x0: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Back into the L-inf ball of radius epsilon around x0, then into [0, 1]."""
    _projection(adv, x0, epsilon)
    return _clip_linf(adv, x0, epsilon)


def project_l2(adv: torch.Tensor, x0: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Back into the L2 ball of radius epsilon around x0, then into [0, 1]."""
    _projection(adv, x0, epsilon)
    return _clip_l2(adv, x0, epsilon)


# The loop's own steps and projections: the public ones above minus their argument checks, which
# would cost a full pass over the batch and a host synchronisation at every step of every attack.


def _sign(gradient: torch.Tensor) -> torch.Tensor:
    return gradient.sign()


def _unit_l2(gradient: torch.Tensor) -> torch.Tensor:
    return gradient / _per_sample_norm(gradient)


def _clip_linf(adv: torch.Tensor, x0: torch.Tensor, epsilon: float) -> torch.Tensor:
    return (x0 + (adv - x0).clamp(-epsilon, epsilon)).clamp(0.0, 1.0)


def _clip_l2(adv: torch.Tensor, x0: torch.Tensor, epsilon: float) -> torch.Tensor:
    delta = adv - x0
    delta = delta * (epsilon / _per_sample_norm(delta)).clamp(max=1.0)
    return (x0 + delta).clamp(0.0, 1.0)


def _projection(adv: torch.Tensor, x0: torch.Tensor, epsilon: float) -> None:
    v.tensor("adv", adv, floating=True)
    v.tensor("x0", x0, floating=True)
    if adv.shape != x0.shape:
        raise ValueError(
            f"adv and x0 must have the same shape, got {tuple(adv.shape)} and {tuple(x0.shape)}."
        )
    v.nonnegative_float("epsilon", epsilon)


def _random_start(
    x0: torch.Tensor, epsilon: float, norm: str, generator: torch.Generator | None
) -> torch.Tensor:
    """Uniform noise in [-epsilon, epsilon] (L2: projected into the ball), drawn on x0's device. A
    generator on another device (a CPU generator for CUDA images) seeds a generator on x0's device,
    so nothing is made on the CPU and copied; the same seed gives the same start per device type."""
    if generator is not None and generator.device != x0.device:
        seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
        generator = torch.Generator(device=x0.device).manual_seed(seed)
    noise = torch.rand(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    noise = 2 * epsilon * noise - epsilon
    return noise if norm == "linf" else _clip_l2(x0 + noise, x0, epsilon) - x0


def _input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: LossFn) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (gradient,) = torch.autograd.grad(loss(model(x), y), x)
    return gradient


def loss_gradient(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss: LossFn | None = None
) -> torch.Tensor:
    """The gradient of `loss(model(x), y)` (default: summed cross-entropy) with respect to x only."""
    v.function("model", model)
    v.tensor("x", x, floating=True)
    v.tensor("y", y)
    v.same_length(x=x, y=y)
    if loss is not None:
        v.function("loss", loss)
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        if loss is None:
            v.labels("y", y, num_classes=logits.shape[-1])
        value = (loss or _summed_cross_entropy)(logits, y)
        (gradient,) = torch.autograd.grad(value, x)
    return gradient


def projected_gradient(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    norm: str = "linf",
    loss: LossFn | None = None,
    step: StepFn | None = None,
    project: ProjectFn | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Projected gradient ascent on `loss` (Madry et al.): from x (or a random point in the ball),
    take `steps` steps of `step_size` (default 2.5 * epsilon / steps) along `step(gradient)` and
    `project` back into the ball and [0, 1] after each. `norm` picks the default step and projection
    ("linf": sign and clamp; "l2": unit gradient and rescale); the hooks replace them. The model is
    used as given (put it in eval mode first; its mode, device and weights are not touched);
    everything stays on x's device, with no host synchronisation inside the loop.

    The arguments are checked once, before the loop; the loop itself costs what a hand-written PGD
    loop costs (bench/RESULTS.md) and gives the same adversarial examples."""
    v.function("model", model)
    v.images("x", x)
    if loss is None:
        v.labels("y", y, n=len(x))
    else:
        v.tensor("y", y)
        v.same_length(x=x, y=y)
        v.function("loss", loss)
    if step is not None:
        v.function("step", step)
    if project is not None:
        v.function("project", project)
    v.choice("norm", norm, NORMS)
    epsilon = v.nonnegative_float("epsilon", epsilon)
    steps = v.positive_int("steps", steps)
    if step_size is not None:
        step_size = v.nonnegative_float("step_size", step_size)
    size = step_size if step_size is not None else 2.5 * epsilon / steps
    direction = step or (_sign if norm == "linf" else _unit_l2)
    back = project or (_clip_linf if norm == "linf" else _clip_l2)
    objective = loss or _summed_cross_entropy
    x0 = x.detach()
    adv = x0 + _random_start(x0, epsilon, norm, generator) if random_start else x0.clone()
    adv = adv.clamp(0.0, 1.0)
    if loss is None:
        v.model_labels("y", y, model=model, x=x)  # class indices the model has outputs for
    # checked once above; inside, no step reads a value back to the host (a caller's loop may
    # already be trusted: adversarial training checks its data once per run)
    with torch.enable_grad(), v.trusted_values():  # enable_grad: also inside a caller's no_grad()
        for _ in range(steps):
            gradient = _input_gradient(model, adv, y, objective)
            adv = back(adv.detach() + size * direction(gradient), x0, epsilon)
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
    epsilon = v.nonnegative_float("epsilon", epsilon)
    alpha = 1.25 * epsilon if alpha is None else v.nonnegative_float("alpha", alpha)
    return projected_gradient(
        model, x, y, epsilon=epsilon, steps=1, step_size=alpha, random_start=True, generator=generator
    )
