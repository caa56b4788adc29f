"""Output policies: what a deployment releases from a model's probabilities.

One implementation shared by the served API (`labkit.service`), the in-process black box
(`labkit.attacks.blackbox`) and every notebook that compares policies. Releasing less (rounded,
top-k, label only) makes extraction, inversion and membership inference harder and costs honest
clients information.
"""

from __future__ import annotations

import torch

from labkit.validate import tensor

POLICIES = ("probabilities", "rounded", "top-k", "label")


def check_policy(policy: str, *, decimals: int = 2, top_k: int = 3) -> None:
    """Raise a ValueError naming the argument unless the policy and its settings are valid."""
    if not isinstance(policy, str) or policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}.")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals must be a whole number >= 0, not {decimals!r}.")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a whole number >= 1, not {top_k!r}.")


def apply_policy(
    probabilities: torch.Tensor, policy: str, *, decimals: int = 2, top_k: int = 3
) -> torch.Tensor | None:
    """What a deployment releases from the full probabilities (N x C): all of them, rounded to
    `decimals`, only the `top_k` largest (zeros elsewhere), or nothing beyond the label (None)."""
    check_policy(policy, decimals=decimals, top_k=top_k)
    tensor("probabilities", probabilities, ndim=2, floating=True, empty=True)
    if policy == "probabilities":
        return probabilities
    if policy == "rounded":
        return torch.round(probabilities, decimals=decimals)
    if policy == "top-k":
        top = probabilities.topk(min(top_k, probabilities.shape[1]), dim=1)
        return torch.zeros_like(probabilities).scatter_(1, top.indices, top.values)
    return None
