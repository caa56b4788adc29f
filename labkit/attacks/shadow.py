"""The shadow-model membership attack (Shokri et al., 2017), and the clinic-model training it needs.

Threat model: black-box target; the attacker also has records from the same population and knows
the training recipe, so it can train look-alike models whose membership it knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from labkit import validate as v
from labkit.attacks.membership import log_odds
from labkit.models import ClinicMLP

# ----------------------------------------------------------------------------- training clinic models


@dataclass(frozen=True)
class Recipe:
    """How a clinic model is trained (full-batch Adam; `steps` is the early-stopping point)."""

    hidden: tuple[int, ...]
    steps: int
    lr: float = 3e-3
    weight_decay: float = 0.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.hidden, tuple):
            raise TypeError(f"hidden must be a tuple of layer widths, not {self.hidden!r}.")
        for width in self.hidden:
            v.positive_int("hidden", width)
        v.positive_int("steps", self.steps)
        v.positive_float("lr", self.lr)
        v.nonnegative_float("weight_decay", self.weight_decay)
        v.finite_float("dropout", self.dropout, low=0.0, high=1.0, high_open=True)


RECIPES: dict[str, Recipe] = {
    # big, no weight decay, trained long after the training loss is zero
    "overfit": Recipe(hidden=(128, 128), steps=300, lr=3e-3),
    # small, dropout, weight decay, stopped early
    "regularised": Recipe(hidden=(32,), steps=60, lr=1e-2, weight_decay=1e-2, dropout=0.3),
}


def _recipe(recipe: str | Recipe) -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe
    if not isinstance(recipe, str) or recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {', '.join(RECIPES)} or a Recipe, not {recipe!r}.")
    return RECIPES[recipe]


def train_clinic_models(
    x: torch.Tensor,
    y: torch.Tensor,
    masks: torch.Tensor,
    *,
    recipe: str | Recipe = "overfit",
    seed: int = 0,
    progress: bool = False,
) -> list[ClinicMLP]:
    """Train one ClinicMLP per row of `masks` (K x N booleans: which rows of x each model trains on),
    all at once with torch.func.vmap; returns the K models in eval mode. Runs on the CPU: models this
    small train faster there than on a GPU."""
    from torch.func import functional_call, stack_module_state, vmap

    v.tensor("x", x, ndim=2, floating=True)
    v.labels("y", y, n=len(x), num_classes=2)
    v.tensor("masks", masks, ndim=2)
    if masks.dtype != torch.bool:
        raise TypeError(f"masks must be a bool tensor (K x N), not dtype {masks.dtype}.")
    if masks.shape[1] != len(x):
        raise ValueError(f"masks must be K x N with N = len(x) = {len(x)}; got masks {tuple(masks.shape)}.")
    if not bool(masks.any(dim=1).all()):
        raise ValueError("every model needs at least one training row: a row of masks is all False.")
    plan = _recipe(recipe)
    x, y, masks = x.detach().cpu(), y.cpu(), masks.cpu()
    generator = torch.Generator().manual_seed(seed)
    models = []
    for _ in range(len(masks)):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        models.append(ClinicMLP(in_features=x.shape[1], hidden=plan.hidden, dropout=plan.dropout))
    params, buffers = stack_module_state(models)
    base = ClinicMLP(in_features=x.shape[1], hidden=plan.hidden, dropout=plan.dropout).to("meta")
    weights = masks.float() / masks.float().sum(dim=1, keepdim=True)

    def one(p: dict, b: dict, xs: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (p, b), (xs,))

    batched = vmap(one, in_dims=(0, 0, None), randomness="different")
    optimiser = torch.optim.Adam(params.values(), lr=plan.lr, weight_decay=plan.weight_decay)
    base.train()
    for _ in tqdm(range(plan.steps), desc="training", disable=not progress, leave=False):
        logits = batched(params, buffers, x)  # K x N x 2
        losses = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.repeat(len(masks)), reduction="none"
        ).view(len(masks), -1)
        optimiser.zero_grad()
        (losses * weights).sum().backward()
        optimiser.step()
    for k, model in enumerate(models):
        model.load_state_dict({name: value[k].detach().clone() for name, value in params.items()})
        model.eval()
    return models


def train_clinic_variant(
    x: torch.Tensor, y: torch.Tensor, *, recipe: str | Recipe = "overfit", seed: int = 0
) -> ClinicMLP:
    """One clinic model trained on all of (x, y) with a named recipe ("overfit" or "regularised")."""
    v.tensor("x", x, ndim=2, floating=True)
    masks = torch.ones(1, len(x), dtype=torch.bool)
    return train_clinic_models(x, y, masks, recipe=recipe, seed=seed)[0]


# ----------------------------------------------------------------------------- shadow-model attack


def attack_features(logits: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """What the attack classifier sees per record: the log-odds of the true label, and the label
    (one classifier conditioned on the label instead of Shokri's one attack model per class)."""
    v.tensor("logits", logits, ndim=2, floating=True)
    v.labels("labels", labels, n=len(logits), num_classes=logits.shape[1])
    return np.c_[log_odds(logits.detach().cpu(), labels.cpu()).numpy(), labels.cpu().numpy().astype(float)]


@dataclass
class ShadowAttack:
    """A membership classifier trained on shadow models' outputs (Shokri et al., 2017)."""

    classifier: Any
    n_shadows: int
    recipe: str | Recipe
    shadow_train_accuracy: float

    def score(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Membership score per record: the attack classifier's probability of "member"."""
        return torch.from_numpy(self.classifier.predict_proba(attack_features(logits, labels))[:, 1])


def fit_shadow_attack(
    x_pool: torch.Tensor,
    y_pool: torch.Tensor,
    *,
    n_shadows: int = 8,
    train_size: int | None = None,
    recipe: str | Recipe = "overfit",
    seed: int = 0,
) -> ShadowAttack:
    """Train `n_shadows` look-alike models, each on a random `train_size` rows of the attacker's pool
    (half of it by default), record their outputs on every pool row with the known in/out answer,
    and fit a sklearn classifier that tells "in" from "out". Threat model: black-box target;
    the attacker has population data and knows (or guesses) the training recipe."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    n_shadows = v.positive_int("n_shadows", n_shadows)
    v.tensor("x_pool", x_pool, ndim=2, floating=True)
    v.labels("y_pool", y_pool, n=len(x_pool), num_classes=2)
    _recipe(recipe)
    x_pool, y_pool = x_pool.detach().cpu(), y_pool.cpu()
    size = len(x_pool) // 2 if train_size is None else train_size
    size = v.integer("train_size", size, low=1, high=len(x_pool) - 1)
    generator = torch.Generator().manual_seed(seed)
    masks = torch.zeros(n_shadows, len(x_pool), dtype=torch.bool)
    for k in range(n_shadows):
        masks[k, torch.randperm(len(x_pool), generator=generator)[:size]] = True
    shadows = train_clinic_models(x_pool, y_pool, masks, recipe=recipe, seed=seed + 1)
    features, answers = [], []
    with torch.no_grad():
        for model, mask in zip(shadows, masks, strict=True):
            features.append(attack_features(model(x_pool), y_pool))
            answers.append(mask.numpy())
    classifier = HistGradientBoostingClassifier(max_iter=100, max_depth=3, random_state=seed)
    classifier.fit(np.concatenate(features), np.concatenate(answers))
    accuracy = float(classifier.score(np.concatenate(features), np.concatenate(answers)))
    return ShadowAttack(classifier, n_shadows, recipe, accuracy)
