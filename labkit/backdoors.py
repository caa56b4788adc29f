"""Backdoor forensics for the cheque reader: find poisoned records, recover a trigger, remove it.

Threat model: a BadNets attacker (see `labkit.poisoning`) slipped trigger-stamped records, relabelled
to a target class, into the training data. The defender holds the trained model and (for the record
detectors) the training set, but does not know the trigger, the target or which records were touched.

- Record detectors look at the model's penultimate-layer features: `spectral_scores` /
  `spectral_signature` (Tran et al., 2018) and `activation_clustering` (Chen et al., 2018).
- `neural_cleanse` (Wang et al., 2019) reverse-engineers, for every class, the smallest mask and
  pattern that send clean images to it; a class that needs a far smaller mask than the others
  (by the MAD anomaly index) is the backdoor's target.
- Removal is retraining without the flagged records (`labkit.training.train_model` on the rest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from labkit.poisoning import Trigger
from labkit.training import predict_logits

MAD_CONSISTENCY = 1.4826  # makes the MAD a consistent estimator of the standard deviation


def _check_features(features: torch.Tensor, labels: torch.Tensor) -> None:
    if features.ndim != 2:
        raise ValueError(f"features must be N x D (one row per record), got shape {tuple(features.shape)}.")
    if labels.ndim != 1 or len(labels) != len(features):
        raise ValueError(
            f"labels must be 1-D with one label per feature row: {len(features)} rows, "
            f"labels of shape {tuple(labels.shape)}."
        )


@torch.no_grad()
def penultimate_features(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
    """The model's penultimate-layer activations (`model.features`) for every row of x, on the CPU."""
    if not hasattr(model, "features"):
        raise TypeError(f"{type(model).__name__} has no .features(x); use a labkit model (e.g. DigitsCNN).")
    device = next(model.parameters()).device
    model.eval()
    parts = [model.features(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(parts) if parts else torch.empty(0)


def spectral_scores(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Outlier score per record: squared projection of its class-centred features on the top
    singular vector of its class (Tran et al., 2018). Poisoned records score high."""
    _check_features(features, labels)
    features = features.double()
    scores = torch.zeros(len(labels), dtype=torch.float64)
    for label in labels.unique():
        members = labels == label
        centred = features[members] - features[members].mean(dim=0)
        _, _, vh = torch.linalg.svd(centred, full_matrices=False)
        scores[members] = (centred @ vh[0]) ** 2
    return scores.float()


def spectral_signature(
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    expected_rate: float,
    removal_factor: float = 1.5,
    classes: list[int] | None = None,
) -> torch.Tensor:
    """Flag the round(removal_factor * expected_rate * n_c) top-scoring records of each class c.

    `expected_rate` is the defender's upper bound on the poisoned fraction *of a class* (Tran et
    al.'s epsilon); `classes` limits the search (e.g. to the class Neural Cleanse flagged), default
    all. Returns a bool mask over the records.
    """
    if not 0.0 < expected_rate < 1.0:
        raise ValueError(f"expected_rate is a fraction in (0, 1), got {expected_rate}.")
    scores = spectral_scores(features, labels)
    flagged = torch.zeros(len(labels), dtype=torch.bool)
    for label in labels.unique().tolist() if classes is None else classes:
        index = torch.nonzero(labels == label).flatten()
        count = min(len(index), round(removal_factor * expected_rate * len(index)))
        flagged[index[scores[index].argsort(descending=True)[:count]]] = True
    return flagged


@dataclass(frozen=True)
class ClusteringReport:
    """Activation clustering's verdict: per-class statistics and the flagged records."""

    classes: list[int]
    smaller_fraction: list[float]  # size of the smaller of the two clusters, as a fraction of the class
    silhouette: list[float]  # how well two clusters separate (-1..1); high means a real split
    suspicious: list[int]  # classes whose split looks like a poisoned sub-population
    flagged: torch.Tensor  # bool per record: in the smaller cluster of a suspicious class


def activation_clustering(
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    n_components: int = 10,
    reduction: str = "ica",
    max_fraction: float = 0.35,
    min_silhouette: float = 0.15,
    seed: int = 0,
) -> ClusteringReport:
    """Per class: reduce features (FastICA or PCA), split into two clusters with k-means; a class whose
    smaller cluster is small (<= max_fraction) and well separated (silhouette >= min_silhouette) is
    suspicious and its smaller cluster is flagged (Chen et al., 2018)."""
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA, FastICA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import silhouette_score

    _check_features(features, labels)
    if reduction not in ("ica", "pca"):
        raise ValueError(f"reduction must be 'ica' or 'pca', not {reduction!r}.")
    flagged = torch.zeros(len(labels), dtype=torch.bool)
    classes, fractions, silhouettes, suspicious = [], [], [], []
    for label in (int(v) for v in labels.unique()):
        index = torch.nonzero(labels == label).flatten()
        data = features[index].double().numpy()
        data = data[:, data.std(axis=0) > 1e-8]  # dead units carry no information
        components = max(1, min(n_components, data.shape[1], len(index) - 1))
        if len(index) < 4 or data.shape[1] == 0:
            continue
        if reduction == "ica":
            reducer = FastICA(
                n_components=components, whiten="unit-variance", max_iter=400, random_state=seed
            )
        else:
            reducer = PCA(n_components=components, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reduced = reducer.fit_transform(data)
        assignment = KMeans(n_clusters=2, n_init=4, random_state=seed).fit_predict(reduced)
        counts = np.bincount(assignment, minlength=2)
        smaller = int(counts.argmin())
        fraction = float(counts[smaller] / len(index))
        silhouette = float(silhouette_score(reduced, assignment)) if counts.min() > 0 else 0.0
        classes.append(label)
        fractions.append(fraction)
        silhouettes.append(silhouette)
        if fraction <= max_fraction and silhouette >= min_silhouette:
            suspicious.append(label)
            flagged[index[torch.from_numpy(assignment == smaller)]] = True
    return ClusteringReport(classes, fractions, silhouettes, suspicious, flagged)


def precision_recall(flagged: torch.Tensor, poisoned: torch.Tensor) -> tuple[float, float]:
    """Precision (flagged records that are poisoned) and recall (poisoned records flagged).

    Both arguments are bool masks over the same records (e.g. `PoisonedDataset.is_poisoned`).
    """
    if flagged.shape != poisoned.shape or flagged.dtype != torch.bool or poisoned.dtype != torch.bool:
        raise ValueError(
            f"pass two bool masks of the same shape, got {tuple(flagged.shape)} {flagged.dtype} and "
            f"{tuple(poisoned.shape)} {poisoned.dtype}."
        )
    hits = int((flagged & poisoned).sum())
    precision = hits / int(flagged.sum()) if flagged.any() else 0.0
    recall = hits / int(poisoned.sum()) if poisoned.any() else 1.0
    return precision, recall


def mad_anomaly_index(values: torch.Tensor) -> torch.Tensor:
    """|v - median| / (1.4826 * MAD) for each value: how many robust standard deviations it lies out."""
    values = torch.as_tensor(values, dtype=torch.float64).flatten()
    if len(values) < 3:
        raise ValueError(f"the anomaly index needs at least 3 values to compare, got {len(values)}.")
    median = values.quantile(0.5)
    deviation = (values - median).abs()
    mad = deviation.quantile(0.5) * MAD_CONSISTENCY
    return (deviation / mad.clamp_min(1e-12)).float()


def trigger_mask(trigger: Trigger, *, image_size: int = 28) -> torch.Tensor:
    """image_size x image_size bool mask of the pixels a trigger sets."""
    h, w = trigger.size
    mask = torch.zeros(image_size, image_size, dtype=torch.bool)
    mask[trigger.top : trigger.top + h, trigger.left : trigger.left + w] = trigger.pixels
    return mask


def mask_overlap(recovered: torch.Tensor, true_mask: torch.Tensor) -> float:
    """Share of a recovered mask's total weight that lies on the true trigger's pixels (0..1)."""
    recovered = recovered.detach().cpu().float()
    if recovered.shape[-2:] != true_mask.shape[-2:]:
        raise ValueError(
            f"the recovered mask {tuple(recovered.shape)} and the true mask {tuple(true_mask.shape)} "
            "must cover the same image size."
        )
    recovered = recovered.reshape(true_mask.shape[-2:]).clamp_min(0)
    total = float(recovered.sum())
    if total == 0.0:
        raise ValueError("the recovered mask is empty (all zeros).")
    return float(recovered[true_mask.bool().reshape(recovered.shape)].sum()) / total


@dataclass(frozen=True)
class ReversedTrigger:
    """A trigger recovered for one target class: mask (H x W in [0, 1]) and pattern (C x H x W)."""

    target: int
    mask: torch.Tensor
    pattern: torch.Tensor
    success: float  # fraction of the probe images (not of class target) it sends to target

    @property
    def l1(self) -> float:
        """Size of the mask: the number of pixels it needs (soft count)."""
        return float(self.mask.sum())

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """(1 - mask) * x + mask * pattern for a batch N x C x H x W."""
        return (1 - self.mask) * x + self.mask * self.pattern


def reverse_engineer_triggers(
    model: nn.Module,
    x: torch.Tensor,
    *,
    targets: list[int] | None = None,
    steps: int = 100,
    batch_size: int = 16,
    lr: float = 0.1,
    cost: float = 3e-2,
    num_classes: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> list[ReversedTrigger]:
    """For each target class, optimise the smallest mask and pattern that make the model read clean
    images x as that class: cross-entropy + cost * |mask|_1 (Neural Cleanse, Wang et al., 2019).

    Threat model (defender's view): white-box access to the model and a few clean images, no
    training data and no knowledge of the trigger. All classes are optimised together in one batch.
    """
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch N x C x H x W, got shape {tuple(x.shape)}.")
    targets = list(range(num_classes)) if targets is None else [int(t) for t in targets]
    if not targets or any(not 0 <= t < num_classes for t in targets):
        raise ValueError(f"targets must be classes in 0..{num_classes - 1}, got {targets}.")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    k, (c, h, w) = len(targets), x.shape[1:]
    generator = torch.Generator().manual_seed(seed)
    mask_raw = torch.full((k, 1, h, w), -2.0, device=device, requires_grad=True)
    pattern_raw = (0.1 * torch.randn(k, c, h, w, generator=generator)).to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([mask_raw, pattern_raw], lr=lr, betas=(0.5, 0.9))
    goal = torch.tensor(targets, device=device)
    try:
        for _ in tqdm(range(steps), desc="reverse-engineering", disable=not progress, leave=False):
            batch = x[torch.randint(len(x), (batch_size,), generator=generator)].to(device)
            mask, pattern = torch.sigmoid(mask_raw), torch.sigmoid(pattern_raw)
            stamped = (1 - mask[:, None]) * batch[None] + (mask * pattern)[:, None]
            logits = model(stamped.reshape(k * batch_size, c, h, w))
            ce = nn.functional.cross_entropy(logits, goal.repeat_interleave(batch_size), reduction="none")
            loss = (ce.view(k, batch_size).mean(dim=1) + cost * mask.view(k, -1).sum(dim=1)).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        results = []
        with torch.no_grad():
            mask, pattern = torch.sigmoid(mask_raw).cpu(), torch.sigmoid(pattern_raw).cpu()
            base = predict_logits(model, x).argmax(dim=1)
            for i, target in enumerate(targets):
                probe = x[base != target] if (base != target).any() else x
                stamped = (1 - mask[i, 0]) * probe + mask[i, 0] * pattern[i]
                hit = predict_logits(model, stamped).argmax(dim=1) == target
                results.append(ReversedTrigger(target, mask[i, 0], pattern[i], float(hit.float().mean())))
    finally:
        for p in frozen:
            p.requires_grad_(True)
        model.train(was_training)
    return results


@dataclass(frozen=True)
class CleanseReport:
    """Neural Cleanse's verdict: one recovered trigger per class, their sizes and anomaly indices."""

    triggers: list[ReversedTrigger]
    norms: torch.Tensor  # L1 size of each class's mask
    anomaly_index: torch.Tensor
    flagged: list[int]  # classes with an abnormally SMALL trigger (anomaly index > threshold)


def neural_cleanse(
    model: nn.Module, x: torch.Tensor, *, threshold: float = 2.0, **options: object
) -> CleanseReport:
    """Recover a trigger per class and flag classes whose mask is abnormally small (MAD index >
    threshold, below the median). `options` go to `reverse_engineer_triggers`."""
    triggers = reverse_engineer_triggers(model, x, **options)  # type: ignore[arg-type]
    norms = torch.tensor([t.l1 for t in triggers])
    index = mad_anomaly_index(norms)
    median = norms.quantile(0.5)
    flagged = [
        t.target for t, n, a in zip(triggers, norms, index, strict=True) if a > threshold and n < median
    ]
    return CleanseReport(triggers, norms, index, flagged)
