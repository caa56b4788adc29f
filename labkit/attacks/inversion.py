"""Model inversion: reconstruct what a model learnt about a class (a prototype).

Threat model. White-box: the attacker has the weights and follows the gradient. Query-only: it sees
only what the API releases and estimates the gradient from many slightly different queries (NES);
with label-only output every nearby query gets the same answer, so the estimate is zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from labkit import validate as v
from labkit.runtime import borrowed, model_device, progress_bar

# ----------------------------------------------------------------------------- model inversion


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels, per image (a smoothness prior)."""
    v.tensor("x", x, ndim=4, floating=True)
    return _total_variation(x)


def _total_variation(x: torch.Tensor) -> torch.Tensor:  # unchecked: the loops' version
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


def _classes(classes: Sequence[int] | torch.Tensor) -> torch.Tensor:
    if isinstance(classes, (str, bytes)) or not isinstance(classes, (Sequence, torch.Tensor)):
        raise TypeError(f"classes must be a list of class indices, not {classes!r}.")
    values = (
        classes if isinstance(classes, torch.Tensor) else [v.integer("classes", c, low=0) for c in classes]
    )
    return v.labels(
        "classes", torch.as_tensor(values, dtype=None if isinstance(values, torch.Tensor) else torch.long)
    )


def _shape(shape: Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence) or len(shape) != 3:
        raise ValueError(f"shape must be (channels, height, width), not {shape!r}.")
    return tuple(v.positive_int("shape", d) for d in shape)


def _start(classes: torch.Tensor, shape: Sequence[int], start: torch.Tensor | float) -> torch.Tensor:
    if torch.is_tensor(start):
        v.images("start", start, ndim=start.ndim)
        base = start.detach().float().cpu()
        if base.shape == tuple(shape):
            base = base.expand(len(classes), *shape)
        if base.shape != (len(classes), *shape):
            raise ValueError(f"start must have shape {tuple(shape)} or {(len(classes), *shape)}.")
        return base.clone()
    return torch.full((len(classes), *shape), v.probability("start", start))


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
    2015). Threat model: white-box, the attacker has the weights and computes exact gradients.
    Runs where the model is; the model is borrowed (its mode and weights are as before afterwards);
    the confidence history is read back once, at the end."""
    v.module("model", model)
    targets = _classes(classes)
    shape = _shape(shape)
    steps = v.positive_int("steps", steps)
    lr = v.positive_float("lr", lr)
    tv_weight = v.nonnegative_float("tv_weight", tv_weight)
    device = model_device(model) or torch.device("cpu")
    x = _start(targets, shape, start).to(device)
    v.labels("classes", targets, num_classes=v.model_outputs(model, x))
    x.requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    index = targets.to(device).view(-1, 1)
    history = torch.zeros(steps, device=device)
    with borrowed(model):
        for i in progress_bar(range(steps), desc="inverting", enabled=progress, leave=False):
            log_p = model(x).log_softmax(dim=1).gather(1, index).squeeze(1)
            objective = log_p - tv_weight * _total_variation(x)
            optimiser.zero_grad()
            (-objective.sum()).backward()
            optimiser.step()
            with torch.no_grad():
                x.clamp_(0, 1)
            history[i] = log_p.detach().exp().mean()
        with torch.no_grad():
            confidence = model(x).softmax(dim=1).gather(1, index).squeeze(1)
    return InversionResult(x.detach().cpu(), targets, confidence.cpu(), history.tolist())


QueryFn = Callable[[torch.Tensor], torch.Tensor]


def scores_from_client(client: Any) -> QueryFn:  # noqa: ANN401 - a labkit.service.client.Client
    """Adapt a prediction-service client to a query function: released probabilities, or a one-hot
    row of the label when the service releases labels only."""

    if not callable(getattr(client, "predict", None)):
        raise TypeError(f"client must be a prediction-service client with .predict(x), not {client!r}.")

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
    v.function("query", query)
    v.images("x", x)
    v.labels("classes", classes, n=len(x))
    samples = v.positive_int("samples", samples)
    sigma = v.positive_float("sigma", sigma)
    resolution = v.positive_int("resolution", resolution)
    max_batch = v.positive_int("max_batch", max_batch)
    k, shape = len(x), x.shape[1:]
    noise = torch.randn(k, samples, shape[0], resolution, resolution, generator=generator)
    up = nn.functional.interpolate(
        noise.flatten(0, 1), size=tuple(shape[1:]), mode="bilinear", align_corners=False
    ).view(k, samples, *shape)
    probes = torch.cat([x[:, None] + sigma * up, x[:, None] - sigma * up, x[:, None]], dim=1)
    probes = probes.clamp(0, 1).flatten(0, 1)
    answers = torch.cat([query(probes[i : i + max_batch]) for i in range(0, len(probes), max_batch)])
    answers = answers.view(k, 2 * samples + 1, -1)
    v.labels("classes", classes, num_classes=answers.shape[-1])
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
    v.function("query", query)
    targets = _classes(classes)
    shape = _shape(shape)
    steps = v.positive_int("steps", steps)
    v.positive_int("samples", samples)
    v.positive_float("sigma", sigma)
    lr = v.positive_float("lr", lr)
    tv_weight = v.nonnegative_float("tv_weight", tv_weight)
    generator = torch.Generator().manual_seed(v.integer("seed", seed))
    x = _start(targets, shape, start).requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    history: list[float] = []
    norms: list[float] = []
    queries = 0
    for _ in progress_bar(range(steps), desc="inverting via queries", enabled=progress, leave=False):
        gradient, score = estimate_gradient(
            query,
            x.detach(),
            targets,
            samples=samples,
            sigma=sigma,
            resolution=resolution,
            generator=generator,
            max_batch=max_batch,
        )
        queries += len(targets) * (2 * samples + 1)
        history.append(float(score.mean()))
        norms.append(float(gradient.flatten(1).norm(dim=1).mean()))
        optimiser.zero_grad()
        (tv_weight * total_variation(x)).sum().backward()  # local prior: no queries needed
        with torch.no_grad():
            assert x.grad is not None
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
    v.tensor("images", images, ndim=4, floating=True)
    v.tensor("references", references, ndim=4, floating=True)
    if images.shape[1:] != references.shape[1:]:
        raise ValueError(
            f"references must have the image shape {tuple(images.shape[1:])}, "
            f"not {tuple(references.shape[1:])}."
        )
    a = images.flatten(1) - images.flatten(1).mean(dim=1, keepdim=True)
    b = references.flatten(1) - references.flatten(1).mean(dim=1, keepdim=True)
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (a @ b.T).argmax(dim=1)
