"""Bad-input table for module 05's Neural Cleanse L1-cost widget (labkit.widgets.cleanse)."""

from __future__ import annotations

from typing import Any

import torch

from tests.bad_inputs_cases import COUNT, Entry


def _model() -> Any:  # noqa: ANN401
    from labkit.models import DigitsCNN

    torch.manual_seed(0)
    return DigitsCNN().eval()


def _images() -> torch.Tensor:
    return torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def _sweep() -> Any:  # noqa: ANN401
    from labkit.widgets.cleanse import cleanse_cost_sweep

    return cleanse_cost_sweep(
        _model(), _images(), targets=[0], costs=[0.1], steps=1, batch_size=2, progress=False
    )


def cases() -> dict[str, Entry]:
    return {
        "labkit.widgets.cleanse.cleanse_cost_sweep": Entry(
            lambda: dict(
                model=_model(),
                x=_images(),
                targets=[0, 1],
                costs=[0.1],
                steps=1,
                batch_size=2,
                progress=False,
            ),
            {
                "model": [None, "model"],
                "x": [None, torch.rand(4, 28, 28), torch.full((2, 1, 28, 28), 2.0)],
                "targets": [[], "0", [10], [-1], 3],
                "costs": [[], [0.0], [-0.1], [float("nan")], "0.1"],
                "steps": COUNT,
                "batch_size": COUNT,
                "seed": [1.5, "0"],
            },
        ),
        "labkit.widgets.cleanse.render_cleanse_costs": Entry(
            lambda: dict(points=_sweep()), {"points": [[], 3, ["x"]], "selected": [3, -1, 1.5]}
        ),
        "labkit.widgets.cleanse.cleanse_cost_explorer": Entry(
            lambda: dict(points=_sweep()), {"points": [[], 3, ["x"]], "selected": [3, -1, 1.5]}
        ),
    }
