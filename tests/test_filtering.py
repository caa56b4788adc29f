"""Filters: neighbour disagreement and loss flag the records whose labels disagree; scores are right."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.defenses.poison_filters import (
    FilterScore,
    knn_filter,
    loss_filter,
    neighbour_disagreement,
    per_record_loss,
    score_filter,
)
from labkit.training import model_features


@pytest.fixture()
def blobs():
    """Three well-separated 2-D clusters with 6 labels flipped (the ground truth)."""
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    y = torch.arange(90) % 3
    features = centres[y] + torch.randn(90, 2, generator=generator)
    noisy = y.clone()
    flipped = torch.tensor([0, 10, 20, 31, 47, 88])
    noisy[flipped] = (y[flipped] + 1) % 3
    return features, y, noisy, flipped


def test_neighbour_disagreement_matches_a_brute_force_count(blobs):
    features, _, noisy, _ = blobs
    scores = neighbour_disagreement(features, noisy, k=5)
    distances = torch.cdist(features, features)
    distances.fill_diagonal_(float("inf"))
    nearest = distances.topk(5, largest=False).indices
    expected = (noisy[nearest] != noisy[:, None]).float().mean(dim=1)
    assert torch.allclose(scores, expected)


def test_knn_filter_finds_the_flipped_labels(blobs):
    features, _, noisy, flipped = blobs
    flagged = knn_filter(features, noisy, k=7)
    score = score_filter(flagged, flipped, count=90)
    assert score.recall == 1.0 and score.precision == 1.0


def test_exact_duplicates_do_not_count_themselves():
    features = torch.tensor([[0.0], [0.0], [5.0], [5.1], [5.2]])
    labels = torch.tensor([0, 1, 1, 1, 1])
    scores = neighbour_disagreement(features, labels, k=1)
    assert scores[0] == 1.0 and scores[1] == 1.0, "each duplicate's nearest neighbour is the other one"
    with pytest.raises(ValueError, match="k must be"):
        neighbour_disagreement(features, labels, k=5)


def test_loss_filter_flags_the_labels_a_model_cannot_fit(blobs):
    features, y, noisy, flipped = blobs
    model = nn.Linear(2, 3)
    with torch.no_grad():  # a "model" that learnt the clean clusters: logits = -distance to each centre
        model.weight.copy_(torch.tensor([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]))
        model.bias.zero_()
    losses = per_record_loss(model, features, noisy)
    assert losses.shape == (90,)
    flagged = loss_filter(model, features, noisy, fraction=6 / 90)
    assert int(flagged.sum()) == 6
    assert score_filter(flagged, flipped, count=90).recall >= 5 / 6
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        loss_filter(model, features, noisy, fraction=2.0)


def test_score_filter_precision_recall_and_edge_cases():
    score = score_filter(torch.tensor([0, 1, 2, 3]), torch.tensor([2, 3, 4, 5, 6, 7]), count=10)
    assert (score.flagged, score.poisoned, score.true_positives) == (4, 6, 2)
    assert score.precision == 0.5 and score.recall == pytest.approx(1 / 3)
    mask = torch.zeros(10, dtype=torch.bool)
    assert score_filter(mask, torch.tensor([1]), count=10).recall == 0.0
    assert FilterScore(flagged=0, poisoned=0, true_positives=0).precision == 1.0
    assert "precision 50.0%" in str(score)
    with pytest.raises(ValueError, match="0..9"):
        score_filter(torch.tensor([12]), torch.tensor([1]), count=10)
    with pytest.raises(ValueError, match="expected"):
        score_filter(torch.zeros(4, dtype=torch.bool), torch.tensor([1]), count=10)


def test_model_features_uses_the_penultimate_layer():
    from labkit.models import DigitsCNN

    torch.manual_seed(0)
    model = DigitsCNN(channels=(4, 8), hidden=16)
    x = torch.rand(5, 1, 28, 28)
    features = model_features(model, x, batch_size=2)
    assert features.shape == (5, 16)
    with torch.no_grad():
        assert torch.allclose(features, model.features(x))
    with pytest.raises(TypeError, match="features"):
        model_features(nn.Linear(2, 2), torch.rand(3, 2))
