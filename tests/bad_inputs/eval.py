"""Bad-input table for the worst-case evaluation: labkit.attacks.apgd, labkit.attacks.worstcase and
labkit.zoo.evaluation (issue 12)."""

from __future__ import annotations

from typing import Any

import torch

from tests.bad_inputs_cases import (
    COUNT,
    EPSILON,
    IMAGES,
    LABELS,
    MODEL,
    Bad,
    Entry,
    images,
    labels,
    tiny_model,
)

COVERED = ("labkit.zoo.evaluation",)

NOT_INPUT_TAKING = {
    "labkit.attacks.worstcase.WorstCase": "result record built by worst_case_robustness",
}

SKIPPED = {
    "labkit.zoo.evaluation.evaluate_zoo_model": "a valid call runs the strong ensemble on 1,000 digits "
    "(many minutes) and rewrites a model card; its arguments are checked before any work "
    "(tests/test_worstcase.py)",
}


def _attack() -> dict[str, Any]:
    return dict(model=tiny_model(), x=images(), y=labels(), epsilon=0.1, steps=2)


def _ensemble() -> dict[str, Any]:
    from labkit.attacks.worstcase import Ensemble

    return dict(ensemble=Ensemble("tiny", pgd_steps=1, pgd_restarts=1, apgd_steps=2, square_queries=2))


def cases() -> dict[str, Entry]:
    """qualified name -> Entry (tiny model, four images, two steps)."""
    attack_bad = {
        "model": MODEL,
        "x": IMAGES,
        "y": LABELS,
        "epsilon": EPSILON,
        "steps": COUNT,
        "norm": ["l3", 2],
        "rho": [0.0, 1.5, float("nan")],
    }
    return {
        "labkit.attacks.apgd.dlr_loss": Entry(
            lambda: dict(logits=torch.randn(4, 10), y=labels()),
            {
                "logits": [Bad("2-classes", lambda t: t[:, :2]), Bad("1-dim", lambda t: t[0])],
                "y": LABELS,
                "target": [labels() + 99, labels()[:2]],
            },
        ),
        "labkit.attacks.apgd.checkpoints": Entry(lambda: dict(steps=100), {"steps": COUNT}),
        "labkit.attacks.apgd.apgd": Entry(_attack, {**attack_bad, "loss": ["hinge", 3]}),
        "labkit.attacks.apgd.apgd_targeted": Entry(_attack, {**attack_bad, "targets": [*COUNT, 10]}),
        "labkit.attacks.worstcase.Ensemble": Entry(
            lambda: dict(name="tiny"),
            {"name": ["", 3], "pgd_steps": [-1, 2.5], "apgd_targets": [-1], "square_queries": ["100"]},
        ),
        "labkit.attacks.worstcase.worst_case_robustness": Entry(
            lambda: dict(
                model=tiny_model(), x=images(), y=labels(), epsilon=0.1, progress=False, **_ensemble()
            ),
            {
                "model": MODEL,
                "x": IMAGES,
                "y": LABELS,
                "epsilon": EPSILON,
                "norm": ["l3", 2],
                "ensemble": ["fast", 3],
                "seed": [-1, 2.5],
                "batch_size": COUNT,
            },
        ),
        "labkit.zoo.evaluation.pgd10_accuracy": Entry(
            lambda: dict(model=tiny_model(), x=images(), y=labels(), epsilon=0.1),
            {"model": MODEL, "epsilon": EPSILON, "seed": [-1, 2.5], "batch_size": COUNT},
        ),
        "labkit.zoo.evaluation.robustness_table": Entry(
            lambda: dict(name="digits_cnn"), {"name": ["no_such_model", 3]}
        ),
    }
