"""A slider over Neural Cleanse's L1 cost (module 05): how the weight of the mask's size in the loss
decides what trigger reverse-engineering finds, for the backdoor's target and for an honest class.

Each setting is an optimisation, so the sweep is measured once (`cleanse_cost_sweep`, a few
seconds); `cleanse_cost_explorer` puts a slider over it that answers at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from labkit import validate as v
from labkit.defenses.backdoor_detection import reverse_engineer_triggers
from labkit.runtime import progress_bar
from labkit.widgets.sweep import SweepExplorer, SweepPoint, render_sweep, sweep_explorer

X_LABEL = "L1 cost λ (log scale)"


def cleanse_cost_sweep(
    model: nn.Module,
    x: torch.Tensor,
    *,
    targets: Sequence[int],
    costs: Sequence[float] = (0.003, 0.01, 0.03, 0.1, 0.3),
    steps: int = 60,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> list[SweepPoint]:
    """For each L1 cost, reverse-engineer a trigger for each class in `targets` (labkit's Neural
    Cleanse on the clean images x) and record, per class, the share of other images its trigger sends
    there ("success") and its mask's share of the image ("mask"). The masks go in each point's extra.
    For a 10-class reader such as the cheque reader."""
    v.module("model", model)
    v.images("x", x)
    if isinstance(targets, (str, bytes)) or not isinstance(targets, (list, tuple)) or not targets:
        raise TypeError(f"targets must be a non-empty list of classes, not {targets!r:.60}.")
    targets = [v.class_index("targets", t, num_classes=10) for t in targets]
    costs = [v.positive_float(f"costs[{i}]", c) for i, c in enumerate(v.numbers_list("costs", costs))]
    steps = v.positive_int("steps", steps)
    batch_size = v.positive_int("batch_size", batch_size)
    seed = v.integer("seed", seed)
    pixels = x.shape[-2] * x.shape[-1]
    points = []
    for cost in progress_bar(costs, desc="Neural Cleanse per L1 cost", enabled=progress):
        found = reverse_engineer_triggers(
            model,
            x,
            targets=targets,
            steps=steps,
            batch_size=batch_size,
            cost=cost,
            seed=seed,
            progress=False,
        )
        values: dict[str, float] = {}
        for trigger in found:
            values[f"class {trigger.target}: success"] = trigger.success
            values[f"class {trigger.target}: mask"] = trigger.l1 / pixels
        masks = {trigger.target: trigger.mask for trigger in found}
        points.append(SweepPoint(label=f"λ = {cost:g}", x=cost, values=values, extra=masks))
    return points


def _draw_masks(point: SweepPoint, ax: Any) -> None:  # noqa: ANN401 - a matplotlib axis
    """The recovered masks side by side, each titled with its class and size."""
    masks = point.extra
    ax.imshow(torch.cat([masks[t] for t in masks], dim=1).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_title(
        "recovered masks: " + ", ".join(f"→ {t} ({float(m.sum()):.0f} px)" for t, m in masks.items()),
        fontsize=8,
    )
    ax.axis("off")


def _check_points(points: Any) -> list[SweepPoint]:  # noqa: ANN401
    if not isinstance(points, list) or not points:
        raise ValueError(f"points must be the non-empty list cleanse_cost_sweep returns, not {points!r:.60}.")
    for point in points:
        if not isinstance(point, SweepPoint) or not isinstance(point.extra, dict):
            raise TypeError(f"points must come from cleanse_cost_sweep, not {point!r:.60}.")
    return points


def render_cleanse_costs(points: list[SweepPoint], *, selected: int = 0) -> Any:  # noqa: ANN401 - a figure
    """The sweep's curves against the L1 cost, the selected cost ringed, and its recovered masks."""
    return render_sweep(
        _check_points(points), selected=selected, x_label=X_LABEL, log_x=True, detail=_draw_masks
    )


def cleanse_cost_explorer(points: list[SweepPoint], *, selected: int = 0) -> SweepExplorer:
    """An ipywidgets slider over a measured `cleanse_cost_sweep`: the numbers per class, where they
    sit on the curves, and the recovered masks for the selected L1 cost."""
    return sweep_explorer(
        _check_points(points),
        description="L1 cost λ",
        x_label=X_LABEL,
        log_x=True,
        detail=_draw_masks,
        selected=selected,
    )
