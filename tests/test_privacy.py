"""Membership inference, DP training and model inversion.

(labkit.attacks.membership, .shadow, .inversion; labkit.defenses.privacy)
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from labkit.attacks.blackbox import BlackBoxModel
from labkit.attacks.inversion import (
    estimate_gradient,
    invert_whitebox,
    invert_with_queries,
    prototype_match,
    scores_from_client,
    total_variation,
)
from labkit.attacks.membership import evaluate_membership, log_odds, membership_scores, tpr_at_fpr
from labkit.attacks.shadow import Recipe, fit_shadow_attack, train_clinic_models
from labkit.defenses.privacy import train_dp

TINY = Recipe(hidden=(16,), steps=80, lr=1e-2)


def _blobs(n: int = 120, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 6, generator=g) + 1.5 * (2 * y[:, None].float() - 1)
    return x, y


def test_membership_scores_are_minus_the_loss_and_do_not_saturate():
    logits = torch.tensor([[40.0, 0.0], [30.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([0, 0, 0])
    scores = membership_scores(logits, labels)
    assert scores.dtype == torch.float64
    assert scores[0] > scores[1] > scores[2]  # float32 losses would tie the first two at 0
    expected = -nn.functional.cross_entropy(logits.double(), labels, reduction="none")
    assert torch.allclose(scores, expected)
    with pytest.raises(ValueError, match="logits N x C"):
        membership_scores(logits, labels[:2])


def test_log_odds_is_the_true_class_log_odds():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    labels = torch.tensor([0, 2])
    p = torch.softmax(logits.double(), dim=1)[torch.arange(2), labels]
    assert torch.allclose(log_odds(logits, labels), torch.log(p / (1 - p)))
    huge = log_odds(torch.tensor([[60.0, 0.0]]), torch.tensor([0]))
    assert torch.isfinite(huge).all() and huge.item() == pytest.approx(60.0)


def test_tpr_at_fpr_by_hand():
    members = [0.9, 0.8, 0.7, 0.1]
    nonmembers = [0.75, 0.2, 0.1, 0.0]
    assert tpr_at_fpr(members, nonmembers, max_fpr=0.0) == pytest.approx(0.5)  # threshold above 0.75
    assert tpr_at_fpr(members, nonmembers, max_fpr=0.25) == pytest.approx(0.75)
    assert tpr_at_fpr([3, 4], [1, 2], max_fpr=0.01) == 1.0
    assert tpr_at_fpr([1, 2], [3, 4], max_fpr=0.01) == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        tpr_at_fpr(members, nonmembers, max_fpr=1.0 + 1)
    with pytest.raises(ValueError, match="finite"):
        tpr_at_fpr([float("nan")], [0.0])


def test_evaluate_membership_auc_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    same = evaluate_membership(rng.normal(size=2000), rng.normal(size=2000), name="chance")
    assert abs(same.auc - 0.5) < 0.05 and same.tpr_at_1pct_fpr < 0.05
    perfect = evaluate_membership(torch.arange(10.0) + 100, torch.arange(10.0), name="perfect")
    assert perfect.auc == 1.0 and perfect.tpr_at_1pct_fpr == 1.0
    assert perfect.row() == "| perfect | 1.000 | 100.0% |"
    assert perfect.plot() is not None


def test_train_clinic_models_trains_each_model_on_its_own_rows():
    x, y = _blobs()
    masks = torch.zeros(2, len(x), dtype=torch.bool)
    masks[0, :60] = True
    masks[1, 60:] = True
    first, second = train_clinic_models(x, y, masks, recipe=TINY, seed=0)
    for model, rows in ((first, slice(0, 60)), (second, slice(60, None))):
        assert not model.training
        assert (model(x[rows]).argmax(1) == y[rows]).float().mean() > 0.9
    assert not torch.equal(first.head.weight, second.head.weight)
    with pytest.raises(ValueError, match="K x N"):
        train_clinic_models(x, y, masks[:, :10], recipe=TINY)
    with pytest.raises(ValueError, match="all False"):
        train_clinic_models(x, y, torch.zeros(1, len(x), dtype=torch.bool), recipe=TINY)
    with pytest.raises(ValueError, match="recipe"):
        train_clinic_models(x, y, masks, recipe="huge")


def test_shadow_attack_scores_are_probabilities():
    x, y = _blobs(100)
    attack = fit_shadow_attack(x, y, n_shadows=2, recipe=TINY, seed=0)
    with torch.no_grad():
        scores = attack.score(torch.randn(7, 2), torch.randint(0, 2, (7,)))
    assert scores.shape == (7,) and ((scores >= 0) & (scores <= 1)).all()
    assert 0.5 <= attack.shadow_train_accuracy <= 1.0
    with pytest.raises(ValueError, match="n_shadows"):
        fit_shadow_attack(x, y, n_shadows=0)
    with pytest.raises(ValueError, match="train_size"):
        fit_shadow_attack(x, y, train_size=len(x))


def test_train_dp_reports_epsilon_and_more_noise_costs_less_privacy():
    x, y = _blobs(128)
    low = train_dp(x, y, noise_multiplier=0.8, epochs=2, hidden=(8,), batch_size=32)
    high = train_dp(x, y, noise_multiplier=3.0, epochs=2, hidden=(8,), batch_size=32)
    assert 0 < high.epsilon < low.epsilon < float("inf")
    assert high.delta == 1e-5 and high.noise_multiplier == pytest.approx(3.0)
    assert low.model(x).shape == (128, 2) and not low.model.training
    targeted = train_dp(x, y, target_epsilon=2.0, epochs=2, hidden=(8,), batch_size=32)
    assert targeted.epsilon <= 2.0 + 0.05
    with pytest.raises(ValueError, match="exactly one"):
        train_dp(x, y, epochs=1)


def _linear_digits_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()


def test_invert_whitebox_raises_the_target_confidence():
    model = _linear_digits_model()
    result = invert_whitebox(model, [0, 1, 2], shape=(1, 4, 4), steps=60, lr=0.1, tv_weight=0.0, start=0.5)
    start = torch.softmax(model(torch.full((1, 1, 4, 4), 0.5)), dim=1)[0]
    assert (result.confidence > start + 0.1).all()
    assert result.images.min() >= 0 and result.images.max() <= 1
    assert len(result.history) == 60


def test_nes_estimate_points_along_the_true_gradient_and_label_only_gives_none():
    model = _linear_digits_model()
    x = torch.full((1, 1, 4, 4), 0.5)
    target = torch.tensor([1])
    probe = x.clone().requires_grad_(True)
    torch.log_softmax(model(probe), dim=1)[0, 1].backward()
    box = BlackBoxModel(model, policy="probabilities")
    estimate, score = estimate_gradient(
        box, x, target, samples=200, sigma=0.01, resolution=4, generator=torch.Generator().manual_seed(0)
    )
    cosine = nn.functional.cosine_similarity(estimate.flatten(), probe.grad.flatten(), dim=0)
    assert cosine > 0.8 and box.queries == 401
    assert score.item() == pytest.approx(torch.softmax(model(x), dim=1)[0, 1].item(), abs=1e-6)
    labels_only = BlackBoxModel(model, policy="label")
    silent, _ = estimate_gradient(
        labels_only,
        x,
        target,
        samples=50,
        sigma=1e-3,
        resolution=4,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.count_nonzero(silent) == 0


def test_invert_with_queries_counts_its_queries():
    model = _linear_digits_model()
    box = BlackBoxModel(model, policy="probabilities")
    result = invert_with_queries(
        box, [0, 2], shape=(1, 4, 4), steps=5, samples=4, resolution=4, start=0.5, tv_weight=0.0
    )
    assert result.queries == box.queries == 2 * 5 * 9 + 2
    assert len(result.history) == len(result.gradient_norms) == 5


def test_scores_from_client_turns_labels_into_one_hot_rows():
    answer = SimpleNamespace(labels=torch.tensor([3, 1]), probabilities=None)
    client = SimpleNamespace(predict=lambda x: answer)
    rows = scores_from_client(client)(torch.zeros(2, 1, 28, 28))
    assert rows.shape == (2, 10) and rows[0, 3] == 1 and rows.sum() == 2


def test_prototype_match_and_total_variation():
    refs = torch.rand(5, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    assert torch.equal(prototype_match(refs * 0.5 + 0.1, refs), torch.arange(5))
    flat = torch.zeros(2, 1, 6, 6)
    assert torch.equal(total_variation(flat), torch.zeros(2))
    assert (total_variation(refs) > 0).all()
