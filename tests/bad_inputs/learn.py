"""Bad-input cases for the learner-experience work (issue 11): calibrated membership scores, the
small-data MLPs and reference models, the sweep control, notebook metadata."""

from __future__ import annotations

import shutil
from typing import Any

import torch

from tests.bad_inputs_cases import COUNT, LABELS, TMP, VECTORS, Bad, Entry, _nan_pixel, labels, solutions


def _points() -> list[Any]:
    from labkit.widgets import SweepPoint

    return [SweepPoint(label=f"{x}", x=float(x), values={"accuracy": 0.5 + x / 10}) for x in range(3)]


def _notebook_copy() -> Any:
    target = TMP / "normalise" / "01_x.ipynb"
    target.parent.mkdir(exist_ok=True)
    shutil.copy(solutions() / "01_x.ipynb", target)
    return target


def _notebook() -> Any:
    import nbformat

    return nbformat.read(solutions() / "01_x.ipynb", as_version=4)


def _tiny_recipe() -> Any:
    from labkit.attacks.shadow import Recipe

    return Recipe(hidden=(4,), steps=2)


def cases() -> dict[str, Entry]:
    return {
        "labkit.attacks.membership.calibrated_scores": Entry(
            lambda: dict(
                target_logits=torch.randn(4, 10), reference_logits=[torch.randn(4, 10)], labels=labels()
            ),
            {
                "target_logits": [Bad("nan", _nan_pixel)],
                "reference_logits": [
                    [],
                    3,
                    Bad("wrong-shape", lambda r: [torch.zeros(3, 10)]),
                    Bad("nan", lambda r: [torch.full((4, 10), float("nan"))]),
                ],
                "labels": LABELS,
            },
        ),
        "labkit.attacks.shadow.mlp": Entry(
            lambda: dict(in_features=4, hidden=(3,), num_classes=10),
            {"in_features": COUNT, "hidden": [(0,), 4], "num_classes": [1, True, 2.5]},
        ),
        "labkit.attacks.shadow.train_mlps": Entry(
            lambda: dict(
                x=torch.rand(8, 1, 2, 2),
                y=torch.arange(8) % 3,
                masks=torch.ones(2, 8, dtype=torch.bool),
                num_classes=3,
                recipe=_tiny_recipe(),
            ),
            {
                "x": [
                    Bad("nan", _nan_pixel),
                    Bad("empty", lambda x: x[:0]),
                    Bad("1-dim", lambda x: x[0, 0, 0]),
                ],
                "y": LABELS[:3],
                "masks": [
                    Bad("float", lambda m: m.float()),
                    Bad("one-short", lambda m: m[:, :-1]),
                    torch.zeros(1, 8, dtype=torch.bool),
                ],
                "num_classes": [1, True],
                "recipe": ["huge", 3],
                "seed": ["0", 1.5],
            },
        ),
        "labkit.attacks.shadow.random_halves": Entry(
            lambda: dict(n=6, count=2),
            {"n": [1, True, 2.5], "count": COUNT, "size": [0, 6, -1], "seed": ["0", 1.5]},
        ),
        "labkit.widgets.sweep.SweepPoint": Entry(
            lambda: dict(label="a", x=0.5, values={"accuracy": 0.9}),
            {"label": [3, ""], "x": [float("nan"), "1"], "values": [{}, [0.9], {"accuracy": float("nan")}]},
        ),
        "labkit.widgets.sweep.render_sweep": Entry(
            lambda: dict(points=_points(), selected=1),
            {"points": [[], 3, [3]], "selected": [3, -1, 1.5], "x_label": [3, ""], "detail": [3]},
        ),
        "labkit.widgets.sweep.SweepExplorer": Entry(
            lambda: dict(
                points=_points(), description="d", x_label="x", log_x=False, detail=None, selected=0
            ),
            {"points": [[], 3], "selected": [3, -1]},
        ),
        "labkit.widgets.sweep.sweep_explorer": Entry(
            lambda: dict(points=_points()),
            {
                "points": [[], 3, [3]],
                "selected": [3, -1],
                "description": [3, ""],
                "x_label": [None],
                "log_x": ["yes"],
                "detail": [3],
            },
        ),
        "labkit.course.labgen.metadata_problems": Entry(
            lambda: dict(notebook=_notebook()), {"notebook": [{}, 3, None]}
        ),
        "labkit.course.labgen.normalise_notebook": Entry(
            lambda: dict(path=_notebook_copy()), {"path": [TMP / "missing.ipynb", 3, "x.ipynb"]}
        ),
    }


__all__ = ["VECTORS", "cases"]
