"""The black-box wrapper enforces its budget and output policy and leaks no gradients or weights;
budget curves and transfer attacks measure what they claim."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from labkit.attacks.blackbox import BlackBoxModel, GradientsNotAvailable, QueryBudgetExceeded, budget_curve
from labkit.attacks.evasion import as_foolbox, make_attack
from labkit.attacks.robustness import perturbation_norms
from labkit.attacks.surrogate import train_surrogate
from labkit.attacks.transfer import label_with_queries, transfer_attack
from labkit.data import load_digits
from labkit.runtime import seed_everything
from labkit.training import predict_logits
from labkit.zoo.registry import load_model


@pytest.fixture(scope="module")
def target():
    return load_model("digits_cnn", device="cpu")


@pytest.fixture(scope="module")
def digits(target):
    x, y = load_digits("test")
    x, y = x[:120], y[:120]
    right = predict_logits(target, x).argmax(dim=1) == y
    return x[right], y[right]


def test_budget_is_enforced_with_a_clear_error_and_nothing_is_spent(target, digits):
    x, _ = digits
    box = BlackBoxModel(target, budget=10)
    box(x[:6])
    assert box.queries == 6 and box.remaining == 4 and box.calls == 1
    with pytest.raises(QueryBudgetExceeded, match=r"6 of 10 queries used and this call asks for 5 more"):
        box(x[:5])
    assert box.queries == 6, "a refused call costs nothing"
    box(x[:4])
    assert box.remaining == 0
    with pytest.raises(QueryBudgetExceeded):
        box(x[:1])
    box.reset(budget=3)
    assert box.queries == 0 and box.remaining == 3
    box(x[:3])


def test_no_budget_means_no_limit_but_queries_are_still_counted(target, digits):
    x, _ = digits
    box = BlackBoxModel(target)
    box(x)
    box.labels(x[:7])
    assert box.remaining is None and box.queries == len(x) + 7


def test_label_policy_exposes_only_a_one_hot_label(target, digits):
    x, _ = digits
    out = BlackBoxModel(target, policy="label")(x[:20])
    assert set(out.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(out.sum(dim=1), torch.ones(20))
    assert torch.equal(out.argmax(dim=1), predict_logits(target, x[:20]).argmax(dim=1))


def test_top_k_keeps_the_k_largest_probabilities_and_zeroes_the_rest(target, digits):
    x, _ = digits
    probabilities = torch.softmax(predict_logits(target, x[:20]), dim=1)
    out = BlackBoxModel(target, policy="top-k", top_k=3)(x[:20])
    assert ((out > 0).sum(dim=1) <= 3).all() and (out > 0).sum() > 20
    top = probabilities.topk(3, dim=1)
    assert torch.allclose(out.gather(1, top.indices), top.values, atol=1e-6)
    mask = torch.ones_like(out, dtype=torch.bool).scatter_(1, top.indices, False)
    assert (out[mask] == 0).all()


def test_probability_policy_returns_the_softmax(target, digits):
    x, _ = digits
    out = BlackBoxModel(target, policy="probabilities")(x[:20])
    assert torch.allclose(out, torch.softmax(predict_logits(target, x[:20]), dim=1), atol=1e-6)


def test_no_gradients_and_no_parameters_leak(target, digits):
    x, y = digits
    box = BlackBoxModel(target, policy="probabilities")
    assert list(box.parameters()) == [] and box.state_dict() == {} and list(box.children()) == []
    xs = x[:4].clone().requires_grad_(True)
    with pytest.raises(GradientsNotAvailable, match="never gradients"):
        nn.functional.nll_loss(box(xs).log(), y[:4]).backward()
    with pytest.raises(GradientsNotAvailable):  # a white-box attack through the API fails loudly
        make_attack("fgsm")(as_foolbox(box, device=torch.device("cpu")), x[:4], y[:4], epsilons=0.1)
    assert all(p.grad is None for p in target.parameters())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policy": "logits"}, "policy must be one of"),
        ({"budget": -1}, "budget must be"),
        ({"policy": "top-k", "top_k": 0}, "top_k must be a whole number >= 1"),
    ],
)
def test_bad_settings_are_refused(target, kwargs, message):
    with pytest.raises(ValueError, match=message):
        BlackBoxModel(target, **kwargs)


def test_a_single_image_without_batch_dimension_is_refused(target, digits):
    with pytest.raises(ValueError, match="send a batch"):
        BlackBoxModel(target)(digits[0][0, 0, 0])


def test_budget_curve_improves_with_budget_and_stays_within_it(target, digits):
    x, y = digits
    x, y = x[:6], y[:6]
    seed_everything(0)
    curve, best = budget_curve(
        target,
        x,
        y,
        make_attack("hopskipjump", steps=20, initial_gradient_eval_steps=10),
        budgets=[10, 30, 80],
        epsilon=4.0,
        device=torch.device("cpu"),
    )
    assert curve.queries_used <= 80 * len(x)
    assert list(curve.median_l2) == sorted(curve.median_l2, reverse=True)
    assert list(curve.success_rates) == sorted(curve.success_rates)
    assert curve.median_l2[-1] < curve.median_l2[0]
    found = perturbation_norms(x, best) > 0
    assert found.all(), "every image starts from an image of another class"
    assert (predict_logits(target, best).argmax(dim=1) != y).all()
    assert float(best.min()) >= 0 and float(best.max()) <= 1
    assert math.isclose(float(perturbation_norms(x, best).median()), curve.median_l2[-1], rel_tol=1e-4)
    assert "| 80 |" in curve.table()


def test_budget_curve_refuses_misclassified_images_and_bad_budgets(target):
    x, y = load_digits("test")
    wrong = predict_logits(target, x).argmax(dim=1) != y
    assert wrong.any()
    mixed = torch.cat([x[~wrong][:4], x[wrong][:1]]), torch.cat([y[~wrong][:4], y[wrong][:1]])
    with pytest.raises(ValueError, match="1 of 5 images are already misclassified"):
        budget_curve(target, *mixed, make_attack("hopskipjump"), budgets=[5])
    with pytest.raises(ValueError, match="budgets"):
        budget_curve(target, x[:3], y[:3], make_attack("hopskipjump"), budgets=[])


def test_label_with_queries_spends_one_query_per_image(target, digits):
    x, _ = digits
    box = BlackBoxModel(target, budget=len(x))
    labels = label_with_queries(box, x, batch_size=16)
    assert box.queries == len(x)
    assert torch.equal(labels, predict_logits(target, x).argmax(dim=1))


def test_a_surrogate_trained_on_queried_labels_transfers_its_attacks(target):
    x, _ = load_digits("train")
    attacker_images = x[:400]
    labels = label_with_queries(BlackBoxModel(target), attacker_images)
    surrogate = train_surrogate(attacker_images, labels, epochs=2, device=torch.device("cpu"), progress=False)
    assert not surrogate.training
    xt, yt = load_digits("test")
    seed_everything(0)
    result = transfer_attack(
        surrogate,
        target,
        xt[:40],
        yt[:40],
        make_attack("pgd", steps=10),
        epsilons=[0.05, 0.3],
        device=torch.device("cpu"),
        progress=False,
    )
    assert result.surrogate_success[-1] > 0.9  # white-box on the surrogate
    assert result.transfer_rates[0] < result.transfer_rates[-1]
    assert result.transfer_rates[-1] > 0.3
    assert all(0 <= r <= 1 for r in result.transfer_rates)
    for eps, adv in zip(result.epsilons, result.adversarials, strict=True):
        assert float(perturbation_norms(xt[:40], adv, norm="linf").max()) <= eps + 1e-5
    assert "transfer rate" in result.table()
