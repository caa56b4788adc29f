"""Find poisoned training records: loss and neighbour label consistency for flipped labels,
spectral signatures and activation clustering for backdoor triggers.

Use when the poison was already in the data when it was signed (a corrupt labelling vendor), so a
provenance diff sees nothing. Every filter rests on one assumption: a poisoned record disagrees with
the bulk of the data - its label is hard to fit (high loss), differs from the labels of the records
that look like it (its nearest neighbours), or its features separate from the rest of its class
(Tran et al., 2018; Chen et al., 2018). Poison crafted to look consistent can slip through; score a
filter against ground truth (`score_filter`) before you trust it, and look at what it flags.

Threat model: the attacker wrote to part of the training data; the defender holds the data and a
model trained on it, but not the list of touched records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from labkit import validate as v
from labkit.training import predict_logits


def _as_mask(selection: torch.Tensor, count: int, *, name: str) -> torch.Tensor:
    """A bool mask of length `count` from a bool mask or a tensor of indices."""
    v.tensor(name, selection, ndim=1, empty=True)
    selection = selection.cpu()
    if selection.dtype == torch.bool:
        if selection.shape != (count,):
            raise ValueError(f"{name} mask has shape {tuple(selection.shape)}, expected ({count},).")
        return selection
    if selection.is_floating_point():
        raise TypeError(f"{name} must be a bool mask or integer indices, not dtype {selection.dtype}.")
    if selection.numel() and (int(selection.min()) < 0 or int(selection.max()) >= count):
        raise ValueError(f"{name} indices must lie in 0..{count - 1}, got {selection.tolist()!r:.60}.")
    mask = torch.zeros(count, dtype=torch.bool)
    mask[selection.long()] = True
    return mask


@torch.no_grad()
def per_record_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 512
) -> torch.Tensor:
    """Cross-entropy of every record under `model` (CPU tensor): high loss = label hard to fit."""
    v.module("model", model)
    v.inputs("x", x)
    v.model_labels("y", y, model=model, x=x)
    batch_size = v.positive_int("batch_size", batch_size)
    logits = predict_logits(model, x, batch_size=batch_size)
    return nn.functional.cross_entropy(logits, y.cpu(), reduction="none")


def _top_fraction(scores: torch.Tensor, fraction: float) -> torch.Tensor:
    fraction = v.probability("fraction", fraction)
    count = round(fraction * len(scores))
    flagged = torch.zeros(len(scores), dtype=torch.bool)
    flagged[torch.argsort(scores, descending=True, stable=True)[:count]] = True
    return flagged


def loss_filter(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, fraction: float, batch_size: int = 512
) -> torch.Tensor:
    """Flag the `fraction` of records with the highest loss under `model` (bool mask).

    Train `model` on the suspect data for only a few epochs: a model trained to zero loss has memorised
    the flipped labels and their loss no longer stands out.
    """
    v.probability("fraction", fraction)
    return _top_fraction(per_record_loss(model, x, y, batch_size=batch_size), fraction)


def neighbour_disagreement(features: torch.Tensor, y: torch.Tensor, *, k: int = 10) -> torch.Tensor:
    """For every record, the fraction of its k nearest neighbours (Euclidean, itself excluded) whose
    label differs from its own: 0 = fully consistent, 1 = every neighbour says otherwise."""
    from sklearn.neighbors import NearestNeighbors

    v.tensor("features", features, ndim=range(2, 5), floating=True)
    labels = v.labels("y", y, n=len(features)).cpu()
    features = features.detach().cpu().float().flatten(1)
    n = len(features)
    k = v.integer("k", k, low=1, high=n - 1)
    index = NearestNeighbors(n_neighbors=k + 1).fit(features.numpy())
    _, neighbours = index.kneighbors(features.numpy())
    neighbours = torch.from_numpy(neighbours)
    # drop the record itself; if exact duplicates tie with it, drop the farthest neighbour instead
    is_self = neighbours == torch.arange(n)[:, None]
    is_self[~is_self.any(dim=1), -1] = True
    neighbours = neighbours[~is_self].reshape(n, k)
    return (labels[neighbours] != labels[:, None]).float().mean(dim=1)


def knn_filter(
    features: torch.Tensor, y: torch.Tensor, *, k: int = 10, threshold: float = 0.5
) -> torch.Tensor:
    """Flag records whose label disagrees with more than `threshold` of their k nearest neighbours."""
    v.finite_float("threshold", threshold, low=0.0, high=1.0, high_open=True)
    return neighbour_disagreement(features, y, k=k) > threshold


@dataclass(frozen=True)
class FilterScore:
    """How well a filter's flags match the records really poisoned."""

    flagged: int
    poisoned: int
    true_positives: int

    @property
    def precision(self) -> float:
        """Share of flagged records that were poisoned (1.0 when nothing is flagged: no false alarm)."""
        return self.true_positives / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        """Share of poisoned records that were flagged (1.0 when nothing was poisoned)."""
        return self.true_positives / self.poisoned if self.poisoned else 1.0

    def __str__(self) -> str:
        return (
            f"flagged {self.flagged}, of which {self.true_positives} poisoned: precision "
            f"{self.precision:.1%}, recall {self.recall:.1%} of {self.poisoned} poisoned"
        )


def score_filter(flagged: torch.Tensor, poisoned: torch.Tensor, *, count: int) -> FilterScore:
    """Compare a filter's flags with the ground truth; each a bool mask or indices over `count` records."""
    count = v.positive_int("count", count)
    flag_mask = _as_mask(flagged, count, name="flagged")
    truth = _as_mask(poisoned, count, name="poisoned")
    return FilterScore(
        flagged=int(flag_mask.sum()), poisoned=int(truth.sum()), true_positives=int((flag_mask & truth).sum())
    )


def _check_features(features: torch.Tensor, labels: torch.Tensor) -> None:
    if isinstance(features, torch.Tensor) and features.ndim != 2:
        raise ValueError(f"features must be N x D (one row per record), got shape {tuple(features.shape)}.")
    v.tensor("features", features, ndim=2, floating=True)
    v.tensor("labels", labels, ndim=1, floating=False, empty=True)
    if len(labels) != len(features):
        raise ValueError(
            f"labels must be 1-D with one label per feature row: {len(features)} rows, "
            f"labels of shape {tuple(labels.shape)}."
        )
    v.labels("labels", labels)


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
    v.finite_float("expected_rate", expected_rate, low=0.0, high=1.0, low_open=True, high_open=True)
    removal_factor = v.positive_float("removal_factor", removal_factor)
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
    v.choice("reduction", reduction, ("ica", "pca"))
    n_components = v.positive_int("n_components", n_components)
    max_fraction = v.probability("max_fraction", max_fraction)
    min_silhouette = v.finite_float("min_silhouette", min_silhouette, low=-1.0, high=1.0)
    seed = v.integer("seed", seed, low=0, high=2**32 - 1)
    flagged = torch.zeros(len(labels), dtype=torch.bool)
    classes, fractions, silhouettes, suspicious = [], [], [], []
    for label in (int(c) for c in labels.unique()):
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
    for name, mask in (("flagged", flagged), ("poisoned", poisoned)):
        v.tensor(name, mask, empty=True)
        if mask.dtype != torch.bool:
            raise ValueError(f"{name} must be a bool mask: pass two bool masks, not dtype {mask.dtype}.")
    if flagged.shape != poisoned.shape:
        raise ValueError(
            f"flagged and poisoned must be bool masks of the same shape, got {tuple(flagged.shape)} and "
            f"{tuple(poisoned.shape)}."
        )
    hits = int((flagged & poisoned).sum())
    precision = hits / int(flagged.sum()) if flagged.any() else 0.0
    recall = hits / int(poisoned.sum()) if poisoned.any() else 1.0
    return precision, recall
