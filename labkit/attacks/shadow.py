"""The shadow-model membership attack (Shokri et al., 2017), and the clinic-model training it needs.

Threat model: black-box target; the attacker also has records from the same population and knows
the training recipe, so it can train look-alike models whose membership it knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from labkit import validate as v
from labkit.attacks.membership import log_odds
from labkit.models import ClinicMLP
from labkit.runtime import progress_bar

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
    # a digit reader trained on a few hundred images, long after the training loss is zero: it leaks
    "small_data": Recipe(hidden=(128,), steps=300, lr=1e-3),
}


def _recipe(recipe: str | Recipe) -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe
    if not isinstance(recipe, str) or recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {', '.join(RECIPES)} or a Recipe, not {recipe!r}.")
    return RECIPES[recipe]


def mlp(*, in_features: int, hidden: tuple[int, ...], num_classes: int, dropout: float = 0.0) -> nn.Module:
    """A plain MLP over flattened inputs: in_features -> hidden... -> num_classes logits."""
    in_features = v.positive_int("in_features", in_features)
    num_classes = v.integer("num_classes", num_classes, low=2)
    if not isinstance(hidden, tuple):
        raise TypeError(f"hidden must be a tuple of layer widths, not {hidden!r}.")
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, v.positive_int("hidden", size)), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    return nn.Sequential(*layers, nn.Linear(width, num_classes))


def _check_masks(x: torch.Tensor, masks: torch.Tensor) -> None:
    v.tensor("masks", masks, ndim=2)
    if masks.dtype != torch.bool:
        raise TypeError(f"masks must be a bool tensor (K x N), not dtype {masks.dtype}.")
    if masks.shape[1] != len(x):
        raise ValueError(f"masks must be K x N with N = len(x) = {len(x)}; got masks {tuple(masks.shape)}.")
    if not bool(masks.any(dim=1).all()):
        raise ValueError("every model needs at least one training row: a row of masks is all False.")


def _train_batched(
    models: Sequence[nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    masks: torch.Tensor,
    plan: Recipe,
    progress: bool,
) -> None:
    """Train models[k] on the rows masks[k] of (x, y), all at once with torch.func.vmap (full-batch Adam)."""
    import copy

    from torch.func import functional_call, stack_module_state, vmap

    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    weights = masks.float() / masks.float().sum(dim=1, keepdim=True)

    def one(p: dict, b: dict, xs: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (p, b), (xs,))

    batched = vmap(one, in_dims=(0, 0, None), randomness="different")
    optimiser = torch.optim.Adam(params.values(), lr=plan.lr, weight_decay=plan.weight_decay)
    base.train()
    steps = progress_bar(
        range(plan.steps), desc=f"training {len(models)} models", enabled=progress, leave=False
    )
    for _ in steps:
        logits = batched(params, buffers, x)  # K x N x C
        losses = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.repeat(len(masks)), reduction="none"
        ).view(len(masks), -1)
        optimiser.zero_grad()
        (losses * weights).sum().backward()
        optimiser.step()
    for k, model in enumerate(models):
        model.load_state_dict({name: value[k].detach().clone() for name, value in params.items()})
        model.eval()


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
    v.tensor("x", x, ndim=2, floating=True)
    v.labels("y", y, n=len(x), num_classes=2)
    _check_masks(x, masks)
    plan = _recipe(recipe)
    x, y, masks = x.detach().cpu(), y.cpu(), masks.cpu()
    generator = torch.Generator().manual_seed(seed)
    models = []
    for _ in range(len(masks)):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        models.append(ClinicMLP(in_features=x.shape[1], hidden=plan.hidden, dropout=plan.dropout))
    _train_batched(models, x, y, masks, plan, progress)
    return models


def train_mlps(
    x: torch.Tensor,
    y: torch.Tensor,
    masks: torch.Tensor,
    *,
    num_classes: int,
    recipe: str | Recipe = "small_data",
    seed: int = 0,
    progress: bool = False,
) -> list[nn.Module]:
    """Train one `mlp` per row of `masks` (K x N booleans: which rows of x each model trains on) on
    flattened inputs, full-batch Adam, one after the other (each sees only its own rows); returns the
    K models in eval mode (on the CPU)."""
    v.tensor("x", x, floating=True)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch (N x ...), got shape {tuple(x.shape)}.")
    num_classes = v.integer("num_classes", num_classes, low=2)
    v.labels("y", y, n=len(x), num_classes=num_classes)
    _check_masks(x, masks)
    plan = _recipe(recipe)
    seed = v.integer("seed", seed)
    x, y, masks = x.detach().cpu().flatten(1), y.cpu(), masks.cpu()
    generator = torch.Generator().manual_seed(seed)
    models = []
    for mask in progress_bar(masks, desc=f"training {len(masks)} model(s)", enabled=progress, leave=False):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        model = mlp(in_features=x.shape[1], hidden=plan.hidden, num_classes=num_classes, dropout=plan.dropout)
        optimiser = torch.optim.Adam(model.parameters(), lr=plan.lr, weight_decay=plan.weight_decay)
        rows_x, rows_y = x[mask], y[mask]  # full batch: a few hundred rows
        model.train()
        for _ in range(plan.steps):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(rows_x), rows_y).backward()
            optimiser.step()
        models.append(model.eval())
    return models


def random_halves(n: int, *, count: int, size: int | None = None, seed: int = 0) -> torch.Tensor:
    """`count` x n booleans, each row a random subset of `size` rows (half of n by default)."""
    n = v.integer("n", n, low=2)
    count = v.positive_int("count", count)
    size = v.integer("size", n // 2 if size is None else size, low=1, high=n - 1)
    generator = torch.Generator().manual_seed(v.integer("seed", seed))
    masks = torch.zeros(count, n, dtype=torch.bool)
    for k in range(count):
        masks[k, torch.randperm(n, generator=generator)[:size]] = True
    return masks


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


_Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def attack_classifier(*, seed: int = 0) -> Any:  # noqa: ANN401 - a sklearn classifier
    """The attack classifier, unfitted: small gradient-boosted trees (deterministic, no early stopping)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=100, max_depth=3, early_stopping=False, random_state=v.integer("seed", seed)
    )


def _attack_training_set(
    shadows: Sequence[nn.Module], splits: Sequence[_Split]
) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(shadows, (list, tuple)) or not shadows:
        raise ValueError(f"shadows must be a non-empty list of models, not {shadows!r:.60}.")
    if not isinstance(splits, (list, tuple)) or not splits:
        raise ValueError(f"splits must be a list of (x_in, y_in, x_out, y_out), not {splits!r:.60}.")
    if len(splits) != len(shadows):
        raise ValueError(
            f"splits must hold one split per model in shadows: got {len(splits)} for {len(shadows)}."
        )
    features, answers = [], []
    for k, (model, split) in enumerate(zip(shadows, splits, strict=True)):
        v.function(f"shadows[{k}]", model)
        if not isinstance(split, (list, tuple)) or len(split) != 4:
            raise ValueError(f"splits[{k}] must be (x_in, y_in, x_out, y_out), not {split!r:.60}.")
        x_in, y_in, x_out, y_out = split
        with torch.no_grad():
            for x, y, answer in ((x_in, y_in, 1), (x_out, y_out, 0)):
                features.append(attack_features(model(x), y))
                answers.append(np.full(len(y), answer))
    return np.concatenate(features), np.concatenate(answers)


def shadow_attack_scores(
    shadows: Sequence[nn.Module],
    splits: Sequence[_Split],
    target_logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    seed: int = 0,
) -> torch.Tensor:
    """The shadow-model attack (Shokri et al., 2017): fit `attack_classifier` on each shadow's
    outputs (`attack_features`) on its own training records (answer 1, "in") and on records it never
    saw (answer 0, "out"), `splits[k]` being (x_in, y_in, x_out, y_out) of shadows[k]; return, per
    target record, the classifier's probability of "member".
    Threat model: black-box target (its logits only); the attacker trains look-alike models on its
    own data, so it knows their membership."""
    v.tensor("target_logits", target_logits, ndim=2, floating=True)
    v.labels("labels", labels, n=len(target_logits), num_classes=target_logits.shape[1])
    features, answers = _attack_training_set(shadows, splits)
    classifier = attack_classifier(seed=seed).fit(features, answers)
    return torch.from_numpy(classifier.predict_proba(attack_features(target_logits, labels))[:, 1])


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
    """Train `n_shadows` clinic look-alike models, each on a random `train_size` rows of the attacker's
    pool (half of it by default), and fit the attack on their outputs on every pool row with the
    known in/out answer, as `shadow_attack_scores` does. Threat model: black-box target; the attacker has
    population data and knows (or guesses) the training recipe."""
    n_shadows = v.positive_int("n_shadows", n_shadows)
    v.tensor("x_pool", x_pool, ndim=2, floating=True)
    v.labels("y_pool", y_pool, n=len(x_pool), num_classes=2)
    _recipe(recipe)
    x_pool, y_pool = x_pool.detach().cpu(), y_pool.cpu()
    size = len(x_pool) // 2 if train_size is None else train_size
    size = v.integer("train_size", size, low=1, high=len(x_pool) - 1)
    masks = random_halves(len(x_pool), count=n_shadows, size=size, seed=seed)
    shadows = train_clinic_models(x_pool, y_pool, masks, recipe=recipe, seed=seed + 1)
    splits = [(x_pool[m], y_pool[m], x_pool[~m], y_pool[~m]) for m in masks]
    features, answers = _attack_training_set(shadows, splits)
    classifier = attack_classifier(seed=seed).fit(features, answers)
    return ShadowAttack(classifier, n_shadows, recipe, float(classifier.score(features, answers)))
