"""Privacy attacks on trained models, and differentially private training as a defence.

Membership inference. Threat model: black-box; the attacker holds candidate records with their true
labels and reads the model's output for them. The loss-threshold attack needs nothing else; the
shadow-model attack (Shokri et al., 2017) also has records from the same population and knows the
training recipe, so it can train look-alike models whose membership it knows.

Model inversion. Threat model: the attacker wants what the model learnt about a class (a prototype).
White-box: it has the weights and follows the gradient. Query-only: it sees only what the API
releases and estimates the gradient from many slightly different queries (NES); with label-only
output every nearby query gets the same answer, so the estimate is zero.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from labkit.models import ClinicMLP

DELTA = 1e-5


# ----------------------------------------------------------------------------- scores and metrics


def _check_pair(logits: torch.Tensor, labels: torch.Tensor) -> None:
    if logits.ndim != 2 or labels.ndim != 1 or len(logits) != len(labels):
        raise ValueError(
            f"expected logits N x C and labels N, got shapes {tuple(logits.shape)} and "
            f"{tuple(labels.shape)}."
        )


def membership_scores(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Loss-threshold score per record: minus the cross-entropy loss (higher = more likely a member).

    Computed in float64: a confident model's float32 losses round to exactly 0 for members and
    non-members alike, which erases the signal."""
    _check_pair(logits, labels)
    return -nn.functional.cross_entropy(logits.double(), labels.long(), reduction="none")


def log_odds(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log p(true label) - log(1 - p(true label)), computed stably from logits (float64)."""
    _check_pair(logits, labels)
    z = logits.double()
    true = z.gather(1, labels.long().view(-1, 1)).squeeze(1)
    others = z.scatter(1, labels.long().view(-1, 1), -math.inf)
    return true - torch.logsumexp(others, dim=1)


def _as_numpy(scores: Any) -> np.ndarray:  # noqa: ANN401 - tensors, arrays or lists
    array = scores.detach().cpu().double().numpy() if torch.is_tensor(scores) else np.asarray(scores, float)
    if array.ndim != 1 or len(array) == 0 or not np.isfinite(array).all():
        raise ValueError("membership scores must be a non-empty 1-D sequence of finite numbers.")
    return array


def _roc(member_scores: Any, nonmember_scores: Any) -> tuple[np.ndarray, np.ndarray, float]:  # noqa: ANN401
    from sklearn.metrics import roc_auc_score, roc_curve

    inside, outside = _as_numpy(member_scores), _as_numpy(nonmember_scores)
    truth = np.r_[np.ones(len(inside)), np.zeros(len(outside))]
    scores = np.r_[inside, outside]
    fpr, tpr, _ = roc_curve(truth, scores)
    return fpr, tpr, float(roc_auc_score(truth, scores))


def tpr_at_fpr(member_scores: Any, nonmember_scores: Any, *, max_fpr: float = 0.01) -> float:  # noqa: ANN401
    """The largest share of members flagged by any threshold that flags at most `max_fpr` of the
    non-members (higher score = flagged as member)."""
    if not 0 <= max_fpr <= 1:
        raise ValueError(f"max_fpr is a rate between 0 and 1 (0.01 for 1%), not {max_fpr}.")
    fpr, tpr, _ = _roc(member_scores, nonmember_scores)
    return float(tpr[fpr <= max_fpr + 1e-12].max())


@dataclass(frozen=True)
class MembershipResult:
    """How well one attack separates members from non-members."""

    name: str
    auc: float
    tpr_at_1pct_fpr: float
    fpr: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)
    members: int = 0
    nonmembers: int = 0

    def row(self) -> str:
        """One markdown table row: name, AUC, TPR at 1% FPR."""
        return f"| {self.name} | {self.auc:.3f} | {self.tpr_at_1pct_fpr:.1%} |"

    def plot(self, ax: Any = None) -> Any:  # noqa: ANN401 - matplotlib axes
        """The ROC curve on log-log axes (where the low-FPR regime is visible)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 4))
        floor = 1.0 / max(self.nonmembers, 1) / 2
        ax.plot(np.maximum(self.fpr, floor), np.maximum(self.tpr, floor),
                label=f"{self.name} (AUC {self.auc:.2f})")
        ax.plot([floor, 1], [floor, 1], "k:", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axvline(0.01, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("false-positive rate (non-members flagged)")
        ax.set_ylabel("true-positive rate (members found)")
        ax.legend(fontsize=8)
        return ax


def evaluate_membership(
    member_scores: Any, nonmember_scores: Any, *, name: str = "attack"  # noqa: ANN401
) -> MembershipResult:
    """ROC curve, AUC and TPR at 1% FPR of an attack's scores (sklearn.metrics underneath)."""
    fpr, tpr, auc = _roc(member_scores, nonmember_scores)
    return MembershipResult(
        name=name, auc=auc, tpr_at_1pct_fpr=float(tpr[fpr <= 0.01 + 1e-12].max()), fpr=fpr, tpr=tpr,
        members=len(_as_numpy(member_scores)), nonmembers=len(_as_numpy(nonmember_scores)),
    )


# ----------------------------------------------------------------------------- training clinic models


@dataclass(frozen=True)
class Recipe:
    """How a clinic model is trained (full-batch Adam; `steps` is the early-stopping point)."""

    hidden: tuple[int, ...]
    steps: int
    lr: float = 3e-3
    weight_decay: float = 0.0
    dropout: float = 0.0


RECIPES: dict[str, Recipe] = {
    # big, no weight decay, trained long after the training loss is zero
    "overfit": Recipe(hidden=(128, 128), steps=300, lr=3e-3),
    # small, dropout, weight decay, stopped early
    "regularised": Recipe(hidden=(32,), steps=60, lr=1e-2, weight_decay=1e-2, dropout=0.3),
}


def _recipe(recipe: str | Recipe) -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
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

    if masks.ndim != 2 or masks.shape[1] != len(x) or len(x) != len(y):
        raise ValueError(
            f"masks must be K x N with N = len(x) = len(y); got masks {tuple(masks.shape)}, "
            f"x {tuple(x.shape)}, y {tuple(y.shape)}."
        )
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
    masks = torch.ones(1, len(x), dtype=torch.bool)
    return train_clinic_models(x, y, masks, recipe=recipe, seed=seed)[0]


# ----------------------------------------------------------------------------- shadow-model attack


def attack_features(logits: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """What the attack classifier sees per record: the log-odds of the true label, and the label
    (one classifier conditioned on the label instead of Shokri's one attack model per class)."""
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

    if n_shadows < 1:
        raise ValueError(f"n_shadows must be at least 1, not {n_shadows}.")
    x_pool, y_pool = x_pool.detach().cpu(), y_pool.cpu()
    size = train_size or len(x_pool) // 2
    if not 0 < size < len(x_pool):
        raise ValueError(f"train_size must be between 1 and len(x_pool) - 1 = {len(x_pool) - 1}, not {size}.")
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


# ----------------------------------------------------------------------------- differential privacy


@dataclass(frozen=True)
class DPResult:
    """A model trained with DP-SGD and the privacy budget it spent."""

    model: nn.Module
    epsilon: float
    delta: float
    noise_multiplier: float
    max_grad_norm: float
    epochs: int


def train_dp(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    target_epsilon: float | None = None,
    noise_multiplier: float | None = None,
    max_grad_norm: float = 1.0,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 0.5,
    hidden: tuple[int, ...] = (64, 32),
    delta: float = DELTA,
    seed: int = 0,
) -> DPResult:
    """Train a ClinicMLP with DP-SGD (opacus): per-record gradients clipped to `max_grad_norm`,
    Gaussian noise added, Poisson batches. Give either `target_epsilon` (opacus picks the noise)
    or `noise_multiplier`; the result reports the epsilon spent at `delta` (RDP accountant).
    Opacus's secure_mode (a cryptographically secure noise source) is off, as fits a lab; turn it
    on for a model you release."""
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    if (target_epsilon is None) == (noise_multiplier is None):
        raise ValueError("give exactly one of target_epsilon or noise_multiplier.")
    if target_epsilon is not None and target_epsilon <= 0:
        raise ValueError(f"target_epsilon must be positive, not {target_epsilon}.")
    x, y = x.detach().cpu(), y.cpu()  # a tiny MLP: the CPU is the fast place for it
    torch.manual_seed(seed)
    model = ClinicMLP(in_features=x.shape[1], hidden=hidden)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]ecure RNG.*")  # fine for a lab; see docstring
        warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")  # accountant's tightness hint
        engine = PrivacyEngine(accountant="rdp")
        if target_epsilon is not None:
            private, optimiser, loader = engine.make_private_with_epsilon(
                module=model, optimizer=optimiser, data_loader=loader, target_epsilon=target_epsilon,
                target_delta=delta, epochs=epochs, max_grad_norm=max_grad_norm,
            )
        else:
            private, optimiser, loader = engine.make_private(
                module=model, optimizer=optimiser, data_loader=loader,
                noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
            )
    private.train()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ff]ull backward hook.*")
        for _ in range(epochs):
            for xb, yb in loader:
                if len(yb) == 0:  # Poisson sampling can draw an empty batch
                    continue
                optimiser.zero_grad()
                nn.functional.cross_entropy(private(xb), yb).backward()
                optimiser.step()
    model = private.to_standard_module().eval()  # opacus's hooks and per-sample gradients removed
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")
        epsilon = float(engine.get_epsilon(delta))
    return DPResult(model=model, epsilon=epsilon, delta=delta,
                    noise_multiplier=float(optimiser.noise_multiplier), max_grad_norm=max_grad_norm,
                    epochs=epochs)


# ----------------------------------------------------------------------------- model inversion


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels, per image (a smoothness prior)."""
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(dim=1)
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(dim=1)
    return dx + dy


@dataclass
class InversionResult:
    """Reconstructed class prototypes and how the attack got there."""

    images: torch.Tensor  # K x 1 x H x W in [0, 1]
    classes: torch.Tensor  # K
    confidence: torch.Tensor  # the target's released score for each class at the end
    history: list[float]  # mean released score of the intended class after each step
    queries: int = 0
    gradient_norms: list[float] = field(default_factory=list)  # mean estimated-gradient norm per step


def _start(classes: torch.Tensor, shape: Sequence[int], start: torch.Tensor | float) -> torch.Tensor:
    if torch.is_tensor(start):
        base = start.detach().float().cpu()
        if base.shape == tuple(shape):
            base = base.expand(len(classes), *shape)
        if base.shape != (len(classes), *shape):
            raise ValueError(f"start must have shape {tuple(shape)} or {(len(classes), *shape)}.")
        return base.clone()
    return torch.full((len(classes), *shape), float(start))


def invert_whitebox(
    model: nn.Module,
    classes: Sequence[int] | torch.Tensor,
    *,
    shape: Sequence[int] = (1, 28, 28),
    steps: int = 200,
    lr: float = 0.05,
    tv_weight: float = 0.3,
    start: torch.Tensor | float = 0.0,
    progress: bool = False,
) -> InversionResult:
    """Gradient ascent on log p(class | x) - tv_weight * TV(x), x kept in [0, 1] (Fredrikson et al.,
    2015). Threat model: white-box, the attacker has the weights and computes exact gradients."""
    device = next(model.parameters()).device
    model.eval()
    targets = torch.as_tensor(classes, dtype=torch.long)
    x = _start(targets, shape, start).to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    history: list[float] = []
    for _ in tqdm(range(steps), desc="inverting", disable=not progress, leave=False):
        log_p = model(x).log_softmax(dim=1).gather(1, targets.to(device).view(-1, 1)).squeeze(1)
        objective = log_p - tv_weight * total_variation(x)
        optimiser.zero_grad()
        (-objective.sum()).backward()
        optimiser.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        history.append(float(log_p.detach().exp().mean()))
    with torch.no_grad():
        confidence = model(x).softmax(dim=1).gather(1, targets.to(device).view(-1, 1)).squeeze(1)
    return InversionResult(x.detach().cpu(), targets, confidence.cpu(), history)


QueryFn = Callable[[torch.Tensor], torch.Tensor]


def scores_from_client(client: Any) -> QueryFn:  # noqa: ANN401 - a labkit.client.Client
    """Adapt a prediction-service client to a query function: released probabilities, or a one-hot
    row of the label when the service releases labels only."""

    def query(x: torch.Tensor) -> torch.Tensor:
        prediction = client.predict(x)
        if prediction.probabilities is not None:
            return prediction.probabilities.float()
        labels = prediction.labels.long()
        classes = 10 if labels.numel() == 0 else max(10, int(labels.max()) + 1)
        return nn.functional.one_hot(labels, classes).float()

    return query


def estimate_gradient(
    query: QueryFn,
    x: torch.Tensor,
    classes: torch.Tensor,
    *,
    samples: int = 20,
    sigma: float = 0.1,
    resolution: int = 14,
    generator: torch.Generator | None = None,
    max_batch: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """NES estimate of d log(score of class) / dx for each image from 2 * samples queries each
    (antithetic Gaussian directions drawn at `resolution` x `resolution`, upsampled). Returns the
    gradient estimates and the released score of each class at x (one more query per image)."""
    k, shape = len(x), x.shape[1:]
    noise = torch.randn(k, samples, shape[0], resolution, resolution, generator=generator)
    up = nn.functional.interpolate(noise.flatten(0, 1), size=tuple(shape[1:]), mode="bilinear",
                                   align_corners=False).view(k, samples, *shape)
    probes = torch.cat([x[:, None] + sigma * up, x[:, None] - sigma * up, x[:, None]], dim=1)
    probes = probes.clamp(0, 1).flatten(0, 1)
    answers = torch.cat([query(probes[i : i + max_batch]) for i in range(0, len(probes), max_batch)])
    answers = answers.view(k, 2 * samples + 1, -1)
    score = answers.gather(2, classes.view(-1, 1, 1).expand(k, 2 * samples + 1, 1)).squeeze(2)
    log_score = score.clamp_min(1e-6).log()
    plus, minus = log_score[:, :samples], log_score[:, samples : 2 * samples]
    weights = (plus - minus) / (2 * sigma * samples)
    gradient = (weights.view(k, samples, *([1] * len(shape))) * up).sum(dim=1)
    return gradient, score[:, -1]


def invert_with_queries(
    query: QueryFn,
    classes: Sequence[int] | torch.Tensor,
    *,
    shape: Sequence[int] = (1, 28, 28),
    steps: int = 60,
    samples: int = 20,
    sigma: float = 0.1,
    lr: float = 0.05,
    tv_weight: float = 0.3,
    resolution: int = 14,
    start: torch.Tensor | float = 0.0,
    seed: int = 0,
    max_batch: int = 256,
    progress: bool = False,
) -> InversionResult:
    """Model inversion through an API: the gradient of log(released score) is estimated from
    queries (NES), the smoothness prior's gradient is computed locally, and x takes Adam steps.
    Costs (2 * samples + 1) queries per class per step. Threat model: black-box, the attacker sees
    only what the output policy releases."""
    targets = torch.as_tensor(classes, dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    x = _start(targets, shape, start).requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    history: list[float] = []
    norms: list[float] = []
    queries = 0
    for _ in tqdm(range(steps), desc="inverting via queries", disable=not progress, leave=False):
        gradient, score = estimate_gradient(query, x.detach(), targets, samples=samples, sigma=sigma,
                                            resolution=resolution, generator=generator,
                                            max_batch=max_batch)
        queries += len(targets) * (2 * samples + 1)
        history.append(float(score.mean()))
        norms.append(float(gradient.flatten(1).norm(dim=1).mean()))
        optimiser.zero_grad()
        (tv_weight * total_variation(x)).sum().backward()  # local prior: no queries needed
        with torch.no_grad():
            x.grad -= gradient  # ascend the estimated log-score
        optimiser.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    final = torch.cat([query(x.detach()[i : i + max_batch]) for i in range(0, len(x), max_batch)])
    queries += len(targets)
    confidence = final.gather(1, targets.view(-1, 1)).squeeze(1)
    return InversionResult(x.detach(), targets, confidence, history, queries, norms)


def prototype_match(images: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """For each image, the index of the reference image it correlates with most (e.g. references =
    the mean training digit of each class): does a reconstruction look like its class?"""
    a = images.flatten(1) - images.flatten(1).mean(dim=1, keepdim=True)
    b = references.flatten(1) - references.flatten(1).mean(dim=1, keepdim=True)
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (a @ b.T).argmax(dim=1)
