"""Bad-input table for the shadow-model attack's public functions (module 11)."""

from __future__ import annotations

from typing import Any

import torch

from tests.bad_inputs_cases import LABELS, VECTORS, Bad, Entry

SEED = [2.5, "3", True, None]


def _shadow_call() -> dict[str, Any]:
    from labkit.attacks.shadow import mlp

    torch.manual_seed(0)
    shadow = mlp(in_features=6, hidden=(4,), num_classes=3).eval()
    x, y = torch.randn(40, 6), torch.arange(40) % 3
    return dict(
        shadows=[shadow],
        splits=[(x[:20], y[:20], x[20:], y[20:])],
        target_logits=torch.randn(8, 3),
        labels=torch.arange(8) % 3,
    )


def cases() -> dict[str, Entry]:
    return {
        "labkit.attacks.shadow.attack_classifier": Entry(lambda: dict(seed=0), {"seed": SEED}),
        "labkit.attacks.shadow.shadow_attack_scores": Entry(
            _shadow_call,
            {
                "shadows": [[], "not a list", ["not a model"], Bad("one-extra", lambda s: s + s)],
                "splits": [[], "not a list", [(1, 2)], ["x"]],
                "target_logits": VECTORS,
                "labels": LABELS,
                "seed": SEED,
            },
        ),
    }
