"""Find mislabelled (flipped) training records without provenance: loss and neighbour label consistency.

Use when the poison was already in the data when it was signed (a corrupt labelling vendor), so a
provenance diff sees nothing. Both filters rest on one assumption: a poisoned record disagrees with
the bulk of the data - its label is hard to fit (high loss) or differs from the labels of the records
that look like it (its nearest neighbours). Poison crafted to look consistent (clean-label attacks,
a trigger plus a label, as in module 05) can slip through; score a filter against ground truth
(`score_filter`) before you trust it, and look at what it flags.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from labkit.training import predict_logits


def _as_mask(selection: torch.Tensor, count: int, *, name: str) -> torch.Tensor:
    """A bool mask of length `count` from a bool mask or a tensor of indices."""
    selection = torch.as_tensor(selection).cpu()
    if selection.dtype == torch.bool:
        if selection.shape != (count,):
            raise ValueError(f"{name} mask has shape {tuple(selection.shape)}, expected ({count},).")
        return selection
    if selection.numel() and (int(selection.min()) < 0 or int(selection.max()) >= count):
        raise ValueError(f"{name} indices must lie in 0..{count - 1}.")
    mask = torch.zeros(count, dtype=torch.bool)
    mask[selection.long()] = True
    return mask


@torch.no_grad()
def per_record_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 512
) -> torch.Tensor:
    """Cross-entropy of every record under `model` (CPU tensor): high loss = label hard to fit."""
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} records but y has {len(y)} labels; pass matching tensors.")
    logits = predict_logits(model, x, batch_size=batch_size)
    return nn.functional.cross_entropy(logits, y.cpu(), reduction="none")


def _top_fraction(scores: torch.Tensor, fraction: float) -> torch.Tensor:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction is a share of the records and must be in [0, 1], got {fraction}.")
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
    return _top_fraction(per_record_loss(model, x, y, batch_size=batch_size), fraction)


@torch.no_grad()
def model_features(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
    """`model.features(x)` in batches, on the CPU (e.g. DigitsCNN's penultimate layer)."""
    if not hasattr(model, "features"):
        raise TypeError(f"{type(model).__name__} has no .features(x); pass features you computed yourself.")
    device = next(model.parameters()).device
    model.eval()
    chunks = [model.features(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(chunks) if chunks else torch.empty(0)


def neighbour_disagreement(features: torch.Tensor, y: torch.Tensor, *, k: int = 10) -> torch.Tensor:
    """For every record, the fraction of its k nearest neighbours (Euclidean, itself excluded) whose
    label differs from its own: 0 = fully consistent, 1 = every neighbour says otherwise."""
    from sklearn.neighbors import NearestNeighbors

    features = torch.as_tensor(features).detach().cpu().float().flatten(1)
    labels = torch.as_tensor(y).cpu()
    n = len(features)
    if len(labels) != n:
        raise ValueError(f"got {n} feature rows but {len(labels)} labels; pass one label per row.")
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and the number of records - 1 ({n - 1}), got {k}.")
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
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold is a fraction of neighbours in [0, 1), got {threshold}.")
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
        return (f"flagged {self.flagged}, of which {self.true_positives} poisoned: precision "
                f"{self.precision:.1%}, recall {self.recall:.1%} of {self.poisoned} poisoned")


def score_filter(flagged: torch.Tensor, poisoned: torch.Tensor, *, count: int) -> FilterScore:
    """Compare a filter's flags with the ground truth; each a bool mask or indices over `count` records."""
    flag_mask = _as_mask(flagged, count, name="flagged")
    truth = _as_mask(poisoned, count, name="poisoned")
    return FilterScore(
        flagged=int(flag_mask.sum()), poisoned=int(truth.sum()), true_positives=int((flag_mask & truth).sum())
    )
