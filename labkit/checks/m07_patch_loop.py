"""Hidden test for module 07's patch exercise: the adversarial-patch training loop (expectation over
placements), run on a small fixed model whose behaviour separates the plausible mistakes."""

from __future__ import annotations

from typing import Any

from labkit.checks.framework import CheckFailed, exercise


def _spy(model: Any) -> Any:
    """`model` wrapped so that it keeps every batch it is shown (to see where patches were stamped)."""
    from torch import nn

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.seen: list[Any] = []

        def forward(self, x: Any) -> Any:
            self.seen.append(x.detach().cpu().clone())
            return self.model(x)

    return Spy()


def _sticker_model(*, flip_in_training: bool = False) -> Any:
    """A fixed digit-free classifier for 1 x 10 x 10 images: class k scores the best match of a 3x3
    pattern anywhere (max-pooled), so one patch can win wherever it lands. With `flip_in_training` a
    layer shuffles the features in training mode, as dropout or batch norm change a model in training."""
    import torch
    from torch import nn

    class Flip(nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return z.roll(1, dims=1) if self.training and flip_in_training else z

    class Sticker(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.flip = nn.Conv2d(1, 10, 3, bias=False), Flip()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.flip(self.conv(x)).amax(dim=(2, 3))

    model = Sticker()
    weight = torch.randn(10, 1, 3, 3, generator=torch.Generator().manual_seed(717))
    with torch.no_grad():
        model.conv.weight.copy_(4 * (weight - weight.mean(dim=(1, 2, 3), keepdim=True)))
    return model.eval()


_PATCH_CASE: dict[str, Any] = {"target": 2, "size": 4, "steps": 40, "batch_size": 16, "lr": 0.1}


def _success_everywhere(model: Any, x: Any, patch: Any, target: int) -> float:
    """Share of (image, placement) pairs read as `target` in eval mode, over every placement."""
    import torch

    from labkit.attacks.patches import apply_patch

    model.eval()
    side, size = x.shape[-1], patch.shape[-1]
    hits = []
    with torch.no_grad():
        for r in range(side - size + 1):
            for c in range(side - size + 1):
                where = torch.full((len(x),), r), torch.full((len(x),), c)
                hits.append((model(apply_patch(x, patch, *where)).argmax(dim=1) == target).float().mean())
    return float(torch.stack(hits).mean())


def _run_patch_loop(train_patch_loop: Any, model: Any, x: Any, seed: int) -> Any:
    import torch

    x_before = x.clone()
    out = train_patch_loop(model, x, generator=torch.Generator().manual_seed(seed), **_PATCH_CASE)
    size = _PATCH_CASE["size"]
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, size, size):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise CheckFailed(f"return the patch, a tensor of shape (1, {size}, {size}) here; got {got}.")
    if not torch.equal(x, x_before):
        raise CheckFailed("it changed the images x in place; stamp the patch on copies.")
    out = out.detach().cpu().float()
    if not bool(torch.isfinite(out).all()) or out.min() < 0 or out.max() > 1:
        raise CheckFailed(
            f"the returned patch has values from {float(out.min()):.3g} to {float(out.max()):.3g}: a sticker "
            f"is printed, so its pixels must stay in [0, 1]."
        )
    return out


def _placements_seen(seen: list[Any], background: float, size: int, side: int) -> str | None:
    """What was wrong with the patched batches a model was shown, or None."""
    import torch

    batches = torch.cat(seen)
    if batches.min() < 0 or batches.max() > 1:
        return (
            f"during the loop the model was shown images with pixels from {float(batches.min()):.3g} to "
            f"{float(batches.max()):.3g}, outside [0, 1]: the patch it was trained as is not one that "
            f"can be printed."
        )
    changed = (batches != background).any(dim=1)  # N x H x W: where a patch landed
    hit = changed.any(dim=2), changed.any(dim=1)
    stamped = hit[0].any(dim=1)
    if not bool(stamped.any()):
        return "the model never saw an image with the patch on it."
    corners = {
        (int(r.nonzero()[0]), int(c.nonzero()[0]))
        for r, c in zip(hit[0][stamped], hit[1][stamped], strict=True)
    }
    if len(corners) == 1:
        return (
            f"all {int(stamped.sum())} patched images the model saw had the patch at the same place "
            f"{corners.pop()}: the patch only learns to work there, and a sticker lands anywhere."
        )
    far = side - size
    if max(r for r, _ in corners) < far or max(c for _, c in corners) < far:
        return (
            f"over {int(stamped.sum())} patched images the patch never touched the bottom or right edge "
            f"(top-left corners up to row {max(r for r, _ in corners)}, column "
            f"{max(c for _, c in corners)}, of 0..{far}): some placements are never trained for."
        )
    return None


@exercise(
    "07.patch_loop",
    title="train an adversarial patch over random placements",
    hint="A sticker lands anywhere, is printed, and is trained on a model as it is deployed. Ask where "
    "each step puts it, which way the loss should move for the target class, what range printed "
    "pixels have, and where your randomness comes from.",
)
def _check_patch_loop(train_patch_loop: Any) -> str:
    import torch

    model = _sticker_model()
    weights = [p.detach().clone() for p in model.parameters()]
    images = 0.35 + 0.3 * torch.rand(96, 1, 10, 10, generator=torch.Generator().manual_seed(70))
    x, held_out = images[:64], images[64:]
    target = int(_PATCH_CASE["target"])
    patch = _run_patch_loop(train_patch_loop, model, x, seed=11)
    if any(not torch.equal(a, b.detach()) for a, b in zip(weights, model.parameters(), strict=True)):
        raise CheckFailed("the model's weights changed: only the patch may be trained.")
    spy, background = _spy(model), 0.3141
    _run_patch_loop(train_patch_loop, spy, torch.full((32, 1, 10, 10), background), seed=11)
    wrong = _placements_seen(spy.seen, background, int(_PATCH_CASE["size"]), 10)
    if wrong:
        raise CheckFailed(wrong)
    ours = _success_everywhere(model, held_out, patch, target)
    with torch.no_grad():
        baseline = float((model(held_out).argmax(dim=1) == target).float().mean())
    reference = _success_everywhere(
        model,
        held_out,
        reference_patch_loop(model, x, generator=torch.Generator().manual_seed(11), **_PATCH_CASE),
        target,
    )
    if ours <= baseline:
        raise CheckFailed(
            f"at every placement on held-out images, {ours:.0%} are read as class {target} with your patch "
            f"and {baseline:.0%} with no patch at all: the steps moved the patch away from the target class."
        )
    if ours < reference - 0.2:
        raise CheckFailed(
            f"your patch makes {ours:.0%} of held-out (image, placement) pairs read as class {target}; a "
            f"working loop with the same settings reaches {reference:.0%} on this model."
        )
    if not torch.equal(_run_patch_loop(train_patch_loop, model, x, seed=11), patch):
        raise CheckFailed(
            "two runs with the same seed gave different patches: some of its randomness does not come "
            "from `generator`."
        )
    if torch.equal(_run_patch_loop(train_patch_loop, model, x, seed=12), patch):
        raise CheckFailed("another seed gave exactly the same patch: it does not use `generator`.")
    moody = _sticker_model(flip_in_training=True).train()  # handed over in training mode
    in_eval = _success_everywhere(
        moody, held_out, _run_patch_loop(train_patch_loop, moody, x, seed=11), target
    )
    if in_eval < reference - 0.2:
        raise CheckFailed(
            f"on a model with a layer that behaves differently in training mode (as dropout and batch norm "
            f"do), handed over in training mode, your patch reaches {in_eval:.0%} on the model as deployed "
            f"(eval mode), against {ours:.0%} on the same model without that layer."
        )
    return (
        f"{ours:.0%} of held-out images read as class {target} over every placement ({baseline:.0%} "
        f"without the patch): a sticker that works wherever it lands."
    )


def reference_patch_loop(
    model: Any, x: Any, *, target: int, size: int, steps: int, batch_size: int, lr: float, generator: Any
) -> Any:
    """The reference for 07.patch_loop: signed-gradient descent on the target-class loss, a fresh
    random batch at random placements each step, the patch clamped to [0, 1]."""
    import torch
    from torch import nn

    from labkit.attacks.patches import apply_patch, random_positions
    from labkit.runtime import progress_bar

    model.eval()
    patch = torch.rand(x.shape[1], size, size, generator=generator).to(x.device)
    goal = torch.full((batch_size,), int(target), device=x.device)
    for _ in progress_bar(range(steps), desc="patch (reference)", leave=False):
        pick = torch.randint(0, len(x), (batch_size,), generator=generator)
        rows, cols = random_positions(
            batch_size, patch_size=size, image_size=x.shape[-1], generator=generator
        )
        patch.requires_grad_(True)
        loss = nn.functional.cross_entropy(model(apply_patch(x[pick.to(x.device)], patch, rows, cols)), goal)
        (grad,) = torch.autograd.grad(loss, patch)
        patch = (patch.detach() - lr * grad.sign()).clamp(0.0, 1.0)
    return patch.detach()
