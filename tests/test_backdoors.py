"""Backdoor detectors and trigger reverse-engineering, on synthetic data with a known answer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.attacks.backdoor import make_trigger, trigger_mask
from labkit.defenses.backdoor_detection import (
    mad_anomaly_index,
    mask_overlap,
    neural_cleanse,
    reverse_engineer_triggers,
)
from labkit.defenses.poison_filters import (
    activation_clustering,
    precision_recall,
    spectral_scores,
    spectral_signature,
)
from labkit.models import DigitsCNN
from labkit.training import model_features as penultimate_features


def _features_with_poison(seed: int = 0, poisoned: int = 30, per_class: int = 120):
    """Three classes of Gaussian features; class 2 also holds a shifted, tight poisoned group."""
    generator = torch.Generator().manual_seed(seed)
    dim = 16
    means = 5 * torch.randn(3, dim, generator=generator)
    rows = [means[c] + 0.5 * torch.randn(per_class, dim, generator=generator) for c in range(3)]
    direction = torch.randn(dim, generator=generator)
    shift = 4 * direction / direction.norm()
    rows.append(means[2] + 0.2 * torch.randn(poisoned, dim, generator=generator) + shift)
    labels = torch.cat([torch.full((per_class,), c) for c in range(3)] + [torch.full((poisoned,), 2)])
    truth = torch.zeros(len(labels), dtype=torch.bool)
    truth[-poisoned:] = True
    return torch.cat(rows), labels, truth


def test_spectral_scores_rank_the_poison_first():
    features, labels, truth = _features_with_poison()
    scores = spectral_scores(features, labels)
    assert scores.shape == (len(labels),) and (scores >= 0).all()
    in_class = labels == 2
    top = scores[in_class].argsort(descending=True)[: int(truth.sum())]
    assert truth[in_class][top].float().mean() >= 0.9


def test_spectral_scores_ignore_the_class_mean():
    features, labels, _ = _features_with_poison()
    shifted = features + 100.0  # a constant offset must not change a class-centred score
    assert torch.allclose(
        spectral_scores(shifted, labels), spectral_scores(features, labels), rtol=1e-3, atol=1e-3
    )


def test_spectral_signature_budget_and_class_filter():
    features, labels, truth = _features_with_poison()
    flagged = spectral_signature(features, labels, expected_rate=0.2)
    for c in range(3):
        members = labels == c
        assert int(flagged[members].sum()) == round(1.5 * 0.2 * int(members.sum()))
    only_two = spectral_signature(features, labels, expected_rate=0.2, classes=[2])
    assert not only_two[labels != 2].any()
    _, recall = precision_recall(only_two, truth)
    assert recall >= 0.9
    with pytest.raises(ValueError, match="expected_rate"):
        spectral_signature(features, labels, expected_rate=1.5)


def test_activation_clustering_flags_only_the_poisoned_class():
    features, labels, truth = _features_with_poison()
    for reduction in ("pca", "ica"):
        report = activation_clustering(features, labels, n_components=5, reduction=reduction)
        assert report.suspicious == [2], (reduction, report.smaller_fraction, report.silhouette)
        precision, recall = precision_recall(report.flagged, truth)
        assert precision >= 0.9 and recall >= 0.9
    with pytest.raises(ValueError, match="reduction"):
        activation_clustering(features, labels, reduction="tsne")


def test_detectors_reject_mismatched_inputs():
    with pytest.raises(ValueError, match="one label per feature row"):
        spectral_scores(torch.zeros(5, 3), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match="N x D"):
        spectral_scores(torch.zeros(5), torch.zeros(5, dtype=torch.int64))


def test_precision_recall_counts():
    flagged = torch.tensor([True, True, False, False, True])
    poisoned = torch.tensor([True, False, True, False, True])
    assert precision_recall(flagged, poisoned) == pytest.approx((2 / 3, 2 / 3))
    assert precision_recall(torch.zeros(5, dtype=torch.bool), poisoned) == (0.0, 0.0)
    with pytest.raises(ValueError, match="bool masks"):
        precision_recall(flagged.int(), poisoned)


def test_mad_anomaly_index_values():
    index = mad_anomaly_index(torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0]))
    # median 3, absolute deviations (2, 1, 0, 1, 97), MAD 1
    assert torch.allclose(index, torch.tensor([2.0, 1.0, 0.0, 1.0, 97.0]) / 1.4826)
    even = mad_anomaly_index(torch.tensor([1.0, 2.0, 4.0, 5.0]))  # median 3 (the mean of 2 and 4)
    assert torch.allclose(even, torch.tensor([2.0, 1.0, 1.0, 2.0]) / (1.5 * 1.4826))  # MAD 1.5
    with pytest.raises(ValueError, match="at least 3"):
        mad_anomaly_index(torch.tensor([1.0, 2.0]))


def test_trigger_mask_and_overlap():
    trigger = make_trigger(pattern="square", size=3, position="top-left")
    mask = trigger_mask(trigger)
    assert mask.shape == (28, 28) and int(mask.sum()) == 9 and mask[1:4, 1:4].all()
    assert mask_overlap(mask.float(), mask) == pytest.approx(1.0)
    elsewhere = torch.zeros(28, 28)
    elsewhere[20:, 20:] = 1.0
    assert mask_overlap(elsewhere, mask) == 0.0
    half = mask.float() + elsewhere * (9 / 64)
    assert mask_overlap(half, mask) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="empty"):
        mask_overlap(torch.zeros(28, 28), mask)


class _CornerBackdoor(nn.Module):
    """A linear reader whose class 6 fires on a bright 2x2 patch in the bottom-right corner."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(3)
        self.linear = nn.Linear(28 * 28, 10)
        with torch.no_grad():
            weight = torch.zeros(10, 28, 28)
            weight[:, 7:21, 7:21] = 0.1 * torch.randn(10, 14, 14, generator=generator)
            weight[6, 25:27, 25:27] = 15.0
            self.linear.weight.copy_(weight.flatten(1))
            self.linear.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


def _probe_images(n: int = 64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(4)
    x = torch.zeros(n, 1, 28, 28)
    x[:, :, 7:21, 7:21] = 0.5 * torch.rand(n, 1, 14, 14, generator=generator)
    return x


def test_neural_cleanse_finds_the_target_and_the_trigger():
    model = _CornerBackdoor()
    report = neural_cleanse(model, _probe_images(), steps=150, batch_size=16, progress=False)
    assert report.flagged == [6], (report.norms, report.anomaly_index)
    found = report.triggers[6]
    assert found.success >= 0.9
    corner = torch.zeros(28, 28, dtype=torch.bool)
    corner[25:27, 25:27] = True
    assert mask_overlap(found.mask, corner) >= 0.5
    assert all(p.requires_grad for p in model.parameters()), "model parameters are left trainable"
    assert found.apply(_probe_images(3)).shape == (3, 1, 28, 28)


def test_reverse_engineering_rejects_bad_arguments():
    model = _CornerBackdoor()
    with pytest.raises(ValueError, match="targets"):
        reverse_engineer_triggers(model, _probe_images(4), targets=[12], progress=False)
    with pytest.raises(ValueError, match="N x C x H x W"):
        reverse_engineer_triggers(model, torch.zeros(4, 28, 28), progress=False)


def test_penultimate_features_of_the_cheque_reader():
    model = DigitsCNN()
    features = penultimate_features(model, torch.rand(5, 1, 28, 28), batch_size=2)
    assert features.shape == (5, 128) and (features >= 0).all()
    with pytest.raises(TypeError, match="features"):
        penultimate_features(nn.Linear(3, 2), torch.rand(2, 3))
