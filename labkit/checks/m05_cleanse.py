"""Hidden test for module 05's trigger reverse-engineering exercise (Neural Cleanse for one class).

The learner's loop runs on small hand-built readers whose backdoor is known exactly: what the
smallest trigger is, and which mistakes make the search find something else.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from labkit.checks.framework import CheckFailed, exercise

SIZE, CLASSES = 8, 6  # 8 x 8 images, 6 classes: a few hundred milliseconds per search
STEPS, LR, COST, BATCH = 150, 0.1, 0.05, 10


def _fake_reader(seed: int, backdoor: int) -> Any:
    """A differentiable reader: class c's logit is its match with a template of about a dozen pixels;
    in evaluation mode, a bright 2 x 2 bottom-right corner adds to class `backdoor` (in training mode
    the corner is ignored, as dropout can hide a backdoor). It counts forward passes in training mode."""
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(seed)
    templates = (torch.rand(CLASSES, SIZE, SIZE, generator=generator) < 0.3).float()
    templates[:, SIZE - 2 :, :] = 0
    templates[:, :, SIZE - 2 :] = 0

    class FakeReader(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.templates = nn.Parameter(templates / templates.sum(dim=(1, 2), keepdim=True))
            self.training_calls = 0
            self.largest_batch = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.largest_batch = max(self.largest_batch, len(x))
            logits = 5 * torch.einsum("nhw,khw->nk", x[:, 0], self.templates)
            if self.training:
                self.training_calls += 1
                return logits
            corner = x[:, 0, SIZE - 2 :, SIZE - 2 :].mean(dim=(1, 2))
            return logits + 8 * corner[:, None] * nn.functional.one_hot(torch.tensor(backdoor), CLASSES)

    return FakeReader().eval()


def _fake_digits(model: Any, seed: int) -> Any:
    """Five clean images per class: the class's template, bright, over faint noise."""
    import torch

    generator = torch.Generator().manual_seed(100 + seed)
    labels = torch.arange(CLASSES).repeat(5)
    shapes = (model.templates.detach() > 0).float()[labels]
    return (0.85 * shapes + 0.15 * torch.rand(len(labels), SIZE, SIZE, generator=generator))[:, None]


def _read(result: Any, x: Any) -> tuple[Any, Any]:
    """(mask H x W, pattern C x H x W) from what the learner returned, or CheckFailed."""
    import torch

    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"it should return two tensors (mask, pattern), got {type(result).__name__}.")
    c, h, w = x.shape[1:]
    try:
        mask, pattern = (torch.as_tensor(part).detach().float().cpu() for part in result)
    except (TypeError, ValueError, RuntimeError):
        raise CheckFailed("it should return two tensors (mask, pattern).") from None
    if mask.numel() != h * w or pattern.numel() != c * h * w:
        raise CheckFailed(
            f"for {h} x {w} images it returned a mask of shape {tuple(mask.shape)} and a pattern of shape "
            f"{tuple(pattern.shape)}: expected one mask value per pixel ({h} x {w}) and a pattern the "
            f"shape of an image ({c} x {h} x {w})."
        )
    if not (torch.isfinite(mask).all() and torch.isfinite(pattern).all()):
        raise CheckFailed("the mask or the pattern holds NaN or infinite values.")
    return mask.reshape(h, w), pattern.reshape(c, h, w)


def _outcome(model: Any, x: Any, mask: Any, pattern: Any, target: int) -> tuple[float, float, float]:
    """(success: share of other-class images read as target once stamped, share read as their own
    clean class, mask L1), on the model in evaluation mode."""
    import torch

    with torch.no_grad():
        model.eval()
        clean = model(x).argmax(dim=1)
        probe, own = x[clean != target], clean[clean != target]
        read = model((1 - mask) * probe + mask * pattern).argmax(dim=1)
    success = float((read == target).float().mean())
    return success, float((read == own).float().mean()), float(mask.sum())


def reference_trigger(
    model: Any,
    x: Any,
    target: int,
    *,
    steps: int = 100,
    lr: float = 0.1,
    cost: float = 3e-2,
    batch_size: int = 16,
    seed: int = 0,
) -> tuple[Any, Any]:
    """The reference for 05.cleanse: labkit's Neural Cleanse for one class (mask H x W, pattern C x H x W)."""
    from labkit.defenses.backdoor_detection import reverse_engineer_triggers
    from labkit.training import predict_logits

    classes = int(predict_logits(model, x[:1]).shape[1])  # in eval mode, the model's own mode kept
    (found,) = reverse_engineer_triggers(
        model,
        x,
        targets=[target],
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        cost=cost,
        num_classes=classes,
        seed=seed,
        progress=False,
    )
    return found.mask.to(x.device), found.pattern.to(x.device)


@cache
def _reference_outcome(seed: int, backdoor: int, target: int) -> tuple[float, float]:
    """(success, mask L1) of the reference's trigger on a hidden case (deterministic, so kept)."""
    model = _fake_reader(seed, backdoor)
    x = _fake_digits(model, seed)
    mask, pattern = reference_trigger(
        model, x, target, steps=STEPS, lr=LR, cost=COST, batch_size=BATCH, seed=1
    )
    success, _, l1 = _outcome(model, x, mask.float(), pattern.float(), target)
    return success, l1


@exercise(
    "05.cleanse",
    title="reverse-engineer a trigger for one class",
    hint="The search is for the smallest stamp that a real image could carry and that sends other "
    "classes' images to the chosen class, on the model as it is deployed: see which of these your "
    "loop does not hold to.",
)
def _check_cleanse(reverse_engineer_trigger: Any) -> str:
    import torch

    # (seed, backdoored class, class searched for, mode the model is handed over in)
    cases = ((1, 2, 2, "eval"), (2, 4, 4, "train"), (3, 1, 3, "eval"))
    for seed, backdoor, target, mode in cases:
        model = _fake_reader(seed, backdoor)
        x = _fake_digits(model, seed)
        ref_success, ref_l1 = _reference_outcome(seed, backdoor, target)
        before_x, before_w = x.clone(), model.templates.detach().clone()
        model.train(mode == "train")
        model.largest_batch = 0
        result = reverse_engineer_trigger(
            model, x, target, steps=STEPS, lr=LR, cost=COST, batch_size=BATCH, seed=seed
        )
        if not torch.equal(x, before_x):
            raise CheckFailed("it changed the images it was given: stamp copies, not the originals.")
        if not torch.equal(model.templates.detach(), before_w):
            raise CheckFailed(
                "it changed the model's weights: the search may only move the mask and the pattern."
            )
        if model.training_calls:
            raise CheckFailed(
                f"the hidden model came in training mode and your code ran {model.training_calls} forward "
                "passes in that mode; there (as with dropout) this model hides its backdoor, so the "
                "search looked at a different model from the one deployed."
            )
        if model.largest_batch > BATCH:
            raise CheckFailed(
                f"asked for batches of {BATCH} images, it sent the model {model.largest_batch} at once."
            )
        mask, pattern = _read(result, x)
        for name, part in (("mask", mask), ("pattern", pattern)):
            low, high = float(part.min()), float(part.max())
            if low < -1e-6 or high > 1 + 1e-6:
                raise CheckFailed(
                    f"the {name} it returns runs from {low:.2f} to {high:.2f}, outside [0, 1]: "
                    "no real image can carry that stamp."
                )
        success, own, l1 = _outcome(model, x, mask, pattern, target)
        if success < ref_success - 0.1:
            if own > 0.8:
                raise CheckFailed(
                    f"stamped with what it found, {own:.0%} of the images are still read as their own "
                    f"class and {success:.0%} as class {target}: the search was not aimed at class {target}."
                )
            raise CheckFailed(
                f"the trigger it found sends {success:.0%} of the other classes' images to class {target}; "
                f"a search on this hidden model reaches {ref_success:.0%}."
            )
        if l1 > 1.3 * ref_l1 + 1.0:
            raise CheckFailed(
                f"its mask covers {l1:.1f} of {SIZE * SIZE} pixels, while {ref_l1:.1f} are enough to send "
                f"the images to class {target}: nothing held the mask back from growing."
            )
    return "On hidden readers it finds the backdoor's small trigger and an honest class's large one."
