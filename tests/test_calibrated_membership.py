"""The calibrated (reference-model) membership attack, the small-data MLPs it uses, and DP-SGD on them."""

from __future__ import annotations

import torch

from labkit.attacks.membership import calibrated_scores, evaluate_membership, log_odds
from labkit.attacks.shadow import Recipe, mlp, random_halves, train_mlps
from labkit.defenses.privacy import train_dp


def test_calibrated_scores_subtract_the_mean_reference_log_odds():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (6,), generator=g)
    target, refs = torch.randn(6, 10, generator=g), [torch.randn(6, 10, generator=g) for _ in range(3)]
    expected = log_odds(target, labels) - torch.stack([log_odds(r, labels) for r in refs]).mean(0)
    assert torch.allclose(calibrated_scores(target, refs, labels), expected)
    assert torch.allclose(calibrated_scores(target, [target], labels), torch.zeros(6, dtype=torch.float64))


def test_random_halves_are_reproducible_subsets_of_the_asked_size():
    masks = random_halves(10, count=3, size=4, seed=5)
    assert masks.shape == (3, 10) and masks.dtype == torch.bool and (masks.sum(1) == 4).all()
    assert torch.equal(masks, random_halves(10, count=3, size=4, seed=5))
    assert not torch.equal(masks, random_halves(10, count=3, size=4, seed=6))
    assert (random_halves(10, count=2).sum(1) == 5).all()


def test_train_mlps_trains_each_model_on_its_own_rows_only():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 1, 2, 2, generator=g)
    y = torch.randint(0, 3, (40,), generator=g)
    masks = torch.zeros(2, 40, dtype=torch.bool)
    masks[0, :20], masks[1, 20:] = True, True
    recipe = Recipe(hidden=(16,), steps=200, lr=1e-2)
    first, second = train_mlps(x, y, masks, num_classes=3, recipe=recipe, seed=0)
    assert not first.training and first(x).shape == (40, 3)
    with torch.no_grad():
        fits_own = (first(x[:20]).argmax(1) == y[:20]).float().mean()
        fits_other = (second(x[:20]).argmax(1) == y[:20]).float().mean()
    assert fits_own == 1.0 and fits_other < fits_own  # memorised its own random labels, not the other's
    again = train_mlps(x, y, masks[:1], num_classes=3, recipe=recipe, seed=0)[0]
    assert torch.equal(again(x), first(x))


def test_an_overfit_small_data_model_leaks_to_the_calibrated_attack_and_dp_closes_it():
    g = torch.Generator().manual_seed(1)
    centres = torch.randn(4, 20, generator=g)
    y = torch.randint(0, 4, (240,), generator=g)
    x = centres[y] + 2.0 * torch.randn(240, 20, generator=g)  # overlapping classes: memorising pays
    members, outsiders, pool = slice(0, 60), slice(60, 120), slice(120, 240)
    recipe = Recipe(hidden=(64,), steps=300, lr=1e-2)
    ones = torch.ones(1, 60, dtype=torch.bool)
    target = train_mlps(x[members], y[members], ones, num_classes=4, recipe=recipe, seed=0)[0]
    refs = train_mlps(
        x[pool], y[pool], random_halves(120, count=4, size=60, seed=1), num_classes=4, recipe=recipe, seed=2
    )
    cand_x, cand_y = torch.cat([x[members], x[outsiders]]), torch.cat([y[members], y[outsiders]])

    def auc(model):
        with torch.no_grad():
            scores = calibrated_scores(model(cand_x), [r(cand_x) for r in refs], cand_y)
        return evaluate_membership(scores[:60], scores[60:]).auc

    private = train_dp(
        x[members],
        y[members],
        noise_multiplier=4.0,
        epochs=5,
        batch_size=60,
        lr=1.0,
        model=mlp(in_features=20, hidden=(64,), num_classes=4),
        num_classes=4,
    )
    assert private.model(cand_x).shape == (120, 4)
    assert auc(target) > 0.8 and auc(private.model) < 0.65
