"""Hidden tests for module 07 (black-box evasion)."""

from __future__ import annotations

from typing import Any

from labkit.checks.framework import CheckFailed, exercise


def _linear_model() -> Any:
    """A fixed random linear digit classifier: along any line its class regions are intervals, so
    each (clean, start) segment has exactly one point where the label stops being the clean one."""
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(707)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with torch.no_grad():
        linear = model[1]
        assert isinstance(linear, nn.Linear)
        linear.weight.copy_(torch.randn(10, 784, generator=generator) * 0.05)
        linear.bias.zero_()
    return model.eval(), generator


def _first_crossing(model: Any, x: Any, x_start: Any, y: Any) -> Any:
    """Exact alpha in (0, 1] where x + alpha (x_start - x) stops being labelled y (linear model)."""
    import torch

    with torch.no_grad():
        a = model(x).double()
        b = model(x_start).double()
    a = a - a.gather(1, y[:, None])  # logit margins of every class over y: <= 0 at alpha = 0
    b = b - b.gather(1, y[:, None])
    crossing = torch.where(b > 0, a / (a - b), torch.full_like(a, torch.inf))
    crossing[a >= 0] = torch.inf  # (the clean class itself)
    return crossing.min(dim=1).values


@exercise(
    "07.boundary_search",
    title="find the decision boundary with few queries",
    hint="A binary search on the line between the clean image and the starting point: ask what each "
    "answer from the model says about which half to keep, which end is sure to be misclassified, "
    "and how many calls the budget allows.",
)
def _check_boundary_search(boundary_search: Any) -> str:
    import torch

    from labkit.attacks.blackbox import BlackBoxModel, QueryBudgetExceeded

    model, generator = _linear_model()
    pool = torch.rand(400, 1, 28, 28, generator=generator)
    with torch.no_grad():
        labels = model(pool).argmax(dim=1)
    if labels.unique().numel() < 3:  # pragma: no cover - a property of the fixed seed
        raise RuntimeError("hidden test data are degenerate")
    worst = 0.0
    for steps, n in ((8, 12), (12, 7)):
        picks = torch.randperm(200, generator=generator)[:n]
        x, y = pool[picks], labels[picks]
        starts = torch.stack([pool[200:][labels[200:] != label][0] for label in y])
        x_before, starts_before = x.clone(), starts.clone()
        box = BlackBoxModel(model, budget=steps * n, policy="label")
        try:
            out = boundary_search(box, x, starts, y, steps=steps)
        except QueryBudgetExceeded as error:
            raise CheckFailed(
                f"it spent more than steps={steps} queries per image ({n} images, budget {steps * n}): "
                f"{error}"
            ) from None
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            raise CheckFailed(
                f"return one point per image, a tensor shaped like x {tuple(x.shape)}; got "
                f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}."
            )
        if not (torch.equal(x, x_before) and torch.equal(starts, starts_before)):
            raise CheckFailed("it changed x or x_start in place; work on copies.")
        out = out.detach().cpu().float()
        with torch.no_grad():
            still = model(out).argmax(dim=1) == y
        direction = (starts - x).flatten(1)
        alpha = ((out - x).flatten(1) * direction).sum(dim=1) / direction.pow(2).sum(dim=1)
        truth = _first_crossing(model, x, starts, y).float()
        if still.any() and bool((alpha[still] < truth[still] - 0.1).any()):
            raise CheckFailed(
                f"{int(still.sum())} of {n} returned points ended far on the clean side of the boundary "
                f"(closer to the clean image): the bracket moved away from the boundary. A misread "
                f"midpoint and a correctly read one should replace different ends."
            )
        if still.any() and bool(((alpha - truth).abs() <= 2.0**-steps + 1e-4).all()):
            raise CheckFailed(
                f"the points are within the final bracket, but {int(still.sum())} of {n} are still read "
                f"correctly: a point in between the bracket's ends is not known to be misread."
            )
        if still.any():
            raise CheckFailed(
                f"{int(still.sum())} of {n} returned points are still labelled with the true class: "
                f"return the end of the bracket that the black box misclassifies."
            )
        off_line = (out - x).flatten(1) - alpha[:, None] * direction
        if off_line.norm(dim=1).max() > 1e-3 or alpha.min() < -1e-4 or alpha.max() > 1 + 1e-4:
            raise CheckFailed(
                "the returned points must lie on the segment between each clean image and its "
                "starting point (x + alpha * (x_start - x) with alpha in [0, 1])."
            )
        gap = alpha - truth
        allowed = 2.0**-steps + 1e-4
        if gap.max() > allowed:
            raise CheckFailed(
                f"with steps={steps} queries per image the boundary should be pinned to within "
                f"{2.0**-steps:.4f} of the line, but some points are {float(gap.max()):.4f} past it: "
                f"each query removed less than half of the remaining uncertainty."
            )
        worst = max(worst, float(gap.max()))
        if box.queries == 0:  # pragma: no cover - impossible if the points are right
            raise CheckFailed("it never queried the black box.")
    return (
        "12 queries per image pin the boundary to 1/4096 of the way: that is how decision-based "
        "attacks start."
    )


def _readout_model() -> Any:
    """A stand-in target whose predicted class is written in the first pixel (class k at k/10)."""
    import torch
    from torch import nn

    class Readout(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(5.0))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            k = (x[:, 0, 0, 0] * 10).round().long().clamp(0, 9)
            return nn.functional.one_hot(k, 10).float() * self.scale

    return Readout().eval()


def _case(
    n_right: int, n_flipped: int, n_wrong: int, n_wrong_adv_same: int, n_wrong_adv_fixed: int, seed: int
) -> tuple[Any, Any, Any, float]:
    """Images whose clean / adversarial predictions are set exactly; returns x, x_adv, y, rate."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    n = n_right + n_wrong
    y = torch.randint(0, 10, (n,), generator=generator)
    other = (y + 1 + torch.randint(0, 8, (n,), generator=generator)) % 10  # never y
    third = (y + 9) % 10  # neither y nor other
    clean_pred = torch.where(torch.arange(n) < n_right, y, other)
    adv_pred = clean_pred.clone()
    adv_pred[:n_flipped] = other[:n_flipped]  # flipped by the attack
    wrong = torch.arange(n_right, n)
    adv_pred[wrong] = third[wrong]  # clean-wrong, adversarial wrong in another way
    adv_pred[wrong[:n_wrong_adv_same]] = other[wrong[:n_wrong_adv_same]]  # unchanged
    fixed = wrong[n_wrong_adv_same : n_wrong_adv_same + n_wrong_adv_fixed]
    adv_pred[fixed] = y[fixed]  # the "attack" happened to correct the prediction
    order = torch.randperm(n, generator=generator)

    def images(pred: torch.Tensor) -> torch.Tensor:
        x = torch.rand(n, 1, 28, 28, generator=generator) * 0.5
        x[:, 0, 0, 0] = pred.float() / 10
        return x

    return images(clean_pred)[order], images(adv_pred)[order], y[order], n_flipped / n_right


@exercise(
    "07.transfer_rate",
    title="measure how often a surrogate's attack transfers",
    hint="The rate answers: of the cheques the target read correctly, how many does the "
    "adversarial version make it misread? Decide which images belong in the denominator, compare "
    "predictions with the true labels, and return a fraction.",
)
def _check_transfer_rate(transfer_rate: Any) -> str:
    import math

    import torch

    target = _readout_model()
    for args in ((30, 12, 10, 5, 2, 1), (17, 4, 8, 2, 3, 2)):
        x, x_adv, y, expected = _case(*args)
        x_before, adv_before = x.clone(), x_adv.clone()
        out = transfer_rate(target, x, x_adv, y)
        if isinstance(out, torch.Tensor):
            if out.numel() != 1:
                raise CheckFailed(f"return one number, not a tensor of shape {tuple(out.shape)}.")
            out = out.item()
        if isinstance(out, bool) or not isinstance(out, (int, float)):
            raise CheckFailed(f"return the rate as a float between 0 and 1, got {out!r}.")
        if not (torch.equal(x, x_before) and torch.equal(x_adv, adv_before)):
            raise CheckFailed("it changed the images in place.")
        out = float(out)
        if math.isnan(out) or not 0.0 <= out <= 1.0:
            raise CheckFailed(f"a rate is a fraction between 0 and 1, got {out}.")
        if abs(out - expected) > 1e-6:
            n = len(y)
            clean_ok = int(args[0])
            if abs(out - 1 + expected) < 1e-6:
                raise CheckFailed(
                    "it returned the fraction the target still gets right, not the fraction it gets wrong."
                )
            if abs(out - args[1] / n) < 1e-6:
                raise CheckFailed(
                    f"it divided by all {n} images; divide by the {clean_ok} the target "
                    f"classified correctly when clean."
                )
            with torch.no_grad():
                clean_pred, adv_pred = target(x).argmax(dim=1), target(x_adv).argmax(dim=1)
            if abs(out - float((adv_pred != y).float().mean())) < 1e-6:
                raise CheckFailed(
                    f"it counts all {n} images, including the {n - clean_ok} the target already misread "
                    f"when clean: those were not fooled by the attack."
                )
            if abs(out - float((adv_pred != clean_pred).float().mean())) < 1e-6:
                raise CheckFailed(
                    "it compares the adversarial reading with the clean reading, not with the true label y."
                )
            raise CheckFailed(
                f"wrong rate on a hidden batch of {n} images ({n - clean_ok} already misclassified when "
                f"clean): count only images the target got right before the attack, and compare with "
                f"the true labels."
            )
    return "An attack only 'transfers' on inputs the target got right to begin with."


def reference_boundary_search(box: Any, x: Any, x_start: Any, y: Any, *, steps: int) -> Any:
    """The reference for 07.boundary_search: a batched bisection, one label query per image per step."""
    import torch

    lo, hi = torch.zeros(len(x)), torch.ones(len(x))
    direction = x_start - x
    for _ in range(steps):
        mid = (lo + hi) / 2
        fooled = box.labels(x + mid.view(-1, 1, 1, 1) * direction).cpu() != y
        hi, lo = torch.where(fooled, mid, hi), torch.where(fooled, lo, mid)
    return x + hi.view(-1, 1, 1, 1) * direction


def reference_transfer_rate(target: Any, x: Any, x_adv: Any, y: Any) -> float:
    """The reference for 07.transfer_rate: of the images read correctly when clean, the share misread."""
    from labkit.training import predict_logits

    clean_ok = predict_logits(target, x).argmax(dim=1) == y
    fooled = predict_logits(target, x_adv).argmax(dim=1) != y
    return float((clean_ok & fooled).sum()) / max(1.0, float(clean_ok.sum()))
