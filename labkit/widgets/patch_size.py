"""A patch-size slider (module 07): pick the side of the adversarial sticker and see how often the
model reads patched digits as the target class, against a random-noise sticker of the same size, and
what the patched digits look like with the model's readings.

Patches are trained once per size in the notebook (too slow for a live slider); `patch_size_points`
measures them, `render_patch_sizes` draws one selection headless and `patch_size_explorer` puts a
slider on top (the sweep control of `labkit.widgets.sweep`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from labkit import validate as v
from labkit.attacks.patches import apply_patch, patch_success
from labkit.widgets.sweep import SweepExplorer, SweepPoint, render_sweep, sweep_explorer

X_LABEL = "patch side (pixels)"


def patch_size_points(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    patches: dict[int, torch.Tensor],
    *,
    target: int,
    placements: int = 3,
    examples: int = 8,
    seed: int = 0,
) -> list[SweepPoint]:
    """One point per patch size: the share of (non-target digit, random placement) pairs `model` reads
    as `target` with the trained patch and with a random-noise patch of the same size, and `examples`
    patched digits (the same digits and top-left corners for every size) with their readings."""
    v.module("model", model)
    v.images("x", x)
    classes = v.model_outputs(model, x)
    v.labels("y", y, n=len(x), num_classes=classes)
    v.class_index("target", target, num_classes=classes)
    if not isinstance(patches, dict) or not patches:
        raise ValueError(
            f"patches must be a non-empty dict of side -> patch (C x s x s), not {patches!r:.60}."
        )
    for side, patch in patches.items():
        v.positive_int("patches key", side, high=min(x.shape[-2:]))
        v.images(f"patches[{side}]", patch, ndim=3)
        if tuple(patch.shape[-2:]) != (side, side):
            raise ValueError(f"patches[{side}] must be {side} x {side}, got shape {tuple(patch.shape)}.")
    placements = v.positive_int("placements", placements)
    examples = v.positive_int("examples", examples)
    seed = v.nonnegative_int("seed", seed)
    others = x.cpu()[y.cpu() != target][:examples]
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    corners = torch.rand(2, len(others), generator=generator)  # the same relative places for each size
    points = []
    for side in sorted(patches):
        patch = patches[side].detach().cpu()
        noise = torch.rand(patch.shape, generator=torch.Generator().manual_seed(seed + side))
        values = {
            "trained patch": patch_success(
                model, x, y, patch, target=target, placements=placements, seed=seed
            ),
            "random-noise patch": patch_success(
                model, x, y, noise, target=target, placements=placements, seed=seed
            ),
        }
        rows, cols = (corners * (x.shape[-1] - side + 1)).long()
        if len(others):
            patched = apply_patch(others, patch, rows, cols)
            with torch.no_grad():
                readings = model(patched.to(device)).argmax(dim=1).cpu().tolist()
        else:
            patched, readings = others, []
        area = side * side / (x.shape[-2] * x.shape[-1])
        label = f"{side}x{side} ({area:.0%} of the image)"
        extra = (patched, readings, target)
        points.append(SweepPoint(label=label, x=float(side), values=values, extra=extra))
    return points


def _examples_panel(point: SweepPoint, ax: Any) -> None:  # noqa: ANN401 - a matplotlib axis
    """The patched example digits in two rows, each with the model's reading under it."""
    images, readings, target = point.extra
    ax.figure.axes[0].set_ylabel(f"share of other digits read as {target}")
    ax.set_axis_off()
    if not len(images):
        return
    columns = (len(images) + 1) // 2
    height, width = images.shape[-2:]
    gap = height // 3  # room for the reading under each digit
    canvas = torch.ones(2 * (height + gap), columns * (width + 2))
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = r * (height + gap), c * (width + 2)
        canvas[top : top + height, left : left + width] = image.mean(dim=0)
    ax.imshow(canvas.numpy(), cmap="gray", vmin=0, vmax=1)
    for i, reading in enumerate(readings):
        r, c = divmod(i, columns)
        x, y = c * (width + 2) + width / 2, r * (height + gap) + height + gap / 2
        ax.text(x, y, f"read {reading}", ha="center", va="center", fontsize=8)
    ax.set_title(f"{point.label}: the same digits, the same places", fontsize=8)


def render_patch_sizes(points: list[SweepPoint], *, selected: int = 0) -> Any:  # noqa: ANN401
    """Success against patch side with the selected size ringed, and its patched examples."""
    return render_sweep(points, selected=selected, x_label=X_LABEL, detail=_examples_panel)


def patch_size_explorer(points: list[SweepPoint], *, selected: int = 0) -> SweepExplorer:
    """An ipywidgets slider over the measured patch sizes (from `patch_size_points`)."""
    return sweep_explorer(
        points, description="patch side", x_label=X_LABEL, detail=_examples_panel, selected=selected
    )
