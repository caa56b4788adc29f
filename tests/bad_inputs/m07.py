"""Bad-input cases for module 07's patch-size slider (labkit.widgets.patch_size)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tests.bad_inputs_cases import COUNT, IMAGES, LABELS, MODEL, Entry


def _setting() -> dict[str, Any]:
    model = nn.Sequential(nn.Flatten(), nn.Linear(144, 10)).eval()
    x = torch.rand(12, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    y = torch.arange(12) % 10
    return dict(model=model, x=x, y=y, patches={3: torch.ones(1, 3, 3)}, target=3)


def _points() -> Any:
    from labkit.widgets import patch_size_points

    setting = _setting()
    setting["patches"] = {2: torch.ones(1, 2, 2), 4: torch.ones(1, 4, 4)}
    return patch_size_points(**setting, placements=1, examples=2)


def cases() -> dict[str, Entry]:
    return {
        "labkit.widgets.patch_size.patch_size_points": Entry(
            _setting,
            {
                "model": MODEL,
                "x": IMAGES,
                "y": LABELS,
                "patches": [{}, [torch.ones(1, 3, 3)], {3: torch.ones(1, 2, 2)}, {0: torch.ones(1, 3, 3)}],
                "target": [10, -1, "3"],
                "placements": COUNT,
                "examples": COUNT,
                "seed": [-1, "0"],
            },
        ),
        "labkit.widgets.patch_size.render_patch_sizes": Entry(
            lambda: dict(points=_points(), selected=1), {"points": [[], 3, [3]], "selected": [2, -1, 1.5]}
        ),
        "labkit.widgets.patch_size.patch_size_explorer": Entry(
            lambda: dict(points=_points()), {"points": [[], 3, [3]], "selected": [2, -1, "0"]}
        ),
    }
