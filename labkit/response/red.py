"""The red side of the capstone: its plan as data, its queries, and the reference loops that steal the
served model and evade it on chosen cheques through the API.

Threat model: black box. Red holds one API key (with whatever rate limit and budget blue set), sees
only what blue's output policy releases, and has no training data of the bank's: only public
look-alike digits (scikit-learn's 8 x 8 digits), noise, and what it synthesises from them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from labkit import validate as v
from labkit.attacks.extraction import augment_queries, noise_queries, public_digits
from labkit.attacks.pgd import projected_gradient
from labkit.service.client import BudgetExceeded, Client

SOURCES = ("augmented", "public", "noise")
MAX_QUERIES = 3000  # keeps a round short; a real attacker's budget is blue's to limit
MAX_EPSILON = 0.3  # the round's rule: an evasion must stay within this L-inf distance of the cheque
RED_DEFAULTS: dict[str, Any] = {
    "queries": 1500,
    "source": "augmented",
    "batch_size": 50,
    "epochs": 10,
    "epsilon": 0.25,
    "tries": 3,
}


def check_red(plan: Mapping[str, Any]) -> dict[str, Any]:
    """A validated copy of a red plan, defaults filled in (ValueError naming the field otherwise)."""
    if not isinstance(plan, Mapping):
        raise TypeError(f"plan must be a dict of red settings, not {plan!r:.60}.")
    unknown = sorted(set(plan) - set(RED_DEFAULTS))
    if unknown:
        raise ValueError(f"plan has no setting {unknown[0]!r}; the settings are {', '.join(RED_DEFAULTS)}.")
    red = {**RED_DEFAULTS, **plan}
    red["queries"] = v.integer("plan['queries']", red["queries"], low=1, high=MAX_QUERIES)
    red["source"] = v.choice("plan['source']", red["source"], SOURCES)
    red["batch_size"] = v.integer("plan['batch_size']", red["batch_size"], low=1, high=256)
    red["epochs"] = v.integer("plan['epochs']", red["epochs"], low=1, high=30)
    red["epsilon"] = v.finite_float("plan['epsilon']", red["epsilon"], low=0.0, high=MAX_EPSILON)
    red["tries"] = v.integer("plan['tries']", red["tries"], low=0, high=10)
    return red


def red_queries(plan: Mapping[str, Any], *, seed: int = 0) -> torch.Tensor:
    """The images red will send to steal the model, as its plan says."""
    red = check_red(plan)
    seed = v.integer("seed", seed)
    if red["source"] == "noise":
        return noise_queries(red["queries"], seed=seed)
    public, _ = public_digits()
    if red["source"] == "public":
        order = torch.randperm(len(public), generator=torch.Generator().manual_seed(seed))
        return public[order[torch.arange(red["queries"]) % len(public)]]
    return augment_queries(public, red["queries"], seed=seed)


def steal(client: Client, queries: torch.Tensor, *, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Send the queries in batches and keep what was answered: (queries answered, answers), where the
    answers are the released probabilities, or the labels when the policy releases only labels.
    Stops cleanly when the key's budget is spent (the reference for exercise 15.steal)."""
    v.images("queries", queries)
    batch_size = v.positive_int("batch_size", batch_size)
    sent: list[torch.Tensor] = []
    answers: list[torch.Tensor] = []
    for start in range(0, len(queries), batch_size):
        batch = queries[start : start + batch_size]
        try:
            prediction = client.predict(batch)
        except BudgetExceeded:
            break
        sent.append(batch)
        answers.append(prediction.labels if prediction.probabilities is None else prediction.probabilities)
    if not sent:
        return queries[:0], torch.empty(0, dtype=torch.long)
    return torch.cat(sent), torch.cat(answers)


def evade(
    client: Client,
    surrogate: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    tries: int,
    seed: int = 0,
) -> torch.Tensor:
    """Transfer evasion: PGD on the stolen surrogate within `epsilon` (L-inf), each candidate checked
    with one query; up to `tries` candidates per cheque. True where the service misread the cheque."""
    v.module("surrogate", surrogate)
    v.images("x", x)
    v.labels("y", y, n=len(x), num_classes=10)
    epsilon = v.finite_float("epsilon", epsilon, low=0.0, high=MAX_EPSILON)
    tries = v.nonnegative_int("tries", tries)
    generator = torch.Generator().manual_seed(v.integer("seed", seed))
    attacker = copy.deepcopy(surrogate).cpu().eval()  # eight cheques: the CPU copy keeps the generator simple
    x, y = x.cpu(), y.cpu()
    fooled = torch.zeros(len(x), dtype=torch.bool)
    for attempt in range(tries):
        todo = torch.nonzero(~fooled).flatten()
        if len(todo) == 0:
            break
        steps = 10 * (attempt + 1)
        adv = projected_gradient(
            attacker, x[todo], y[todo], epsilon=epsilon, steps=steps, generator=generator
        )
        try:
            labels = client.predict(adv, batch_size=1).labels
        except BudgetExceeded:
            break
        fooled[todo] = labels != y[todo]
    return fooled
