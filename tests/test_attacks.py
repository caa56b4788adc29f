"""labkit.attacks: budgets respected, curves that fall, clear errors, restarts, minimal-attack stats."""

from __future__ import annotations

import pytest
import torch

import labkit.attacks.evasion as evasion
from labkit.attacks.evasion import ATTACK_NAMES, make_attack, run_attack
from labkit.attacks.robustness import (
    adversarial_examples,
    minimal_perturbations,
    perturbation_norms,
    robust_accuracy,
    robustness_curve,
)

CPU = torch.device("cpu")


def _accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


@pytest.mark.parametrize("name", ["fgsm", "pgd"])
def test_adversarials_stay_in_the_epsilon_ball_and_the_pixel_range(model, digits, name):
    x, y = digits
    epsilons = [0.05, 0.2]
    params = {"steps": 5} if name == "pgd" else {}
    advs, success = run_attack(
        model, x, y, make_attack(name, **params), epsilons=epsilons, device=CPU, progress=False
    )
    assert len(advs) == 2 and success.shape == (2, len(x)) and success.dtype == torch.bool
    for epsilon, adv in zip(epsilons, advs, strict=True):
        assert adv.shape == x.shape and adv.device.type == "cpu"
        assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
        assert float(perturbation_norms(x, adv, norm="linf").max()) <= epsilon + 1e-5
    # what run_attack calls a success is what the model does with the returned images
    with torch.no_grad():
        fooled = model(advs[1]).argmax(dim=1) != y
    assert torch.equal(fooled, success[1])


def test_curves_fall_with_epsilon_and_pgd_beats_fgsm(model, digits):
    x, y = digits[0][:32], digits[1][:32]
    epsilons = [0.0, 0.05, 0.1, 0.2, 0.3]
    torch.manual_seed(0)
    fgsm = robustness_curve(model, x, y, "fgsm", epsilons=epsilons, device=CPU, progress=False)
    pgd = robustness_curve(
        model, x, y, make_attack("pgd", steps=5), epsilons=epsilons, device=CPU, progress=False
    )
    for curve in (fgsm, pgd):
        assert curve.epsilons == tuple(epsilons)
        assert curve.accuracies[0] == pytest.approx(_accuracy(model, x, y))
        assert all(b <= a for a, b in zip(curve.accuracies, curve.accuracies[1:], strict=False))
        assert "| 0.3 |" in curve.table()
    assert fgsm.attack == "LinfFastGradientAttack" and pgd.attack == "LinfProjectedGradientDescentAttack"
    assert pgd.accuracies[-1] < 0.1 < fgsm.accuracies[2]
    assert all(p <= f + 1e-9 for p, f in zip(pgd.accuracies, fgsm.accuracies, strict=True))


class _ScriptedAttack:
    """A stand-in attack whose successes are fixed in advance, to test run_attack's bookkeeping."""

    def __init__(self, successes):
        self.successes = list(successes)  # one [eps, N] bool tensor per call
        self.calls = 0
        self.sizes: list[int] = []  # how many inputs each call attacked

    def __call__(self, fmodel, x, y, *, epsilons):
        self.sizes.append(len(x))
        success = self.successes[self.calls]
        self.calls += 1
        advs = [(x + 0.001 * (self.calls * 10 + i)).clamp(0, 1) for i in range(len(epsilons))]
        return advs, advs, success.clone()


def test_an_adversarial_at_a_small_epsilon_counts_at_every_larger_one(model, digits):
    x, y = digits[0][:3], digits[1][:3]
    scripted = _ScriptedAttack(
        [
            torch.tensor(
                [
                    [True, False, False],  # epsilon 0.1
                    [False, False, True],
                ]
            )
        ]
    )  # epsilon 0.2
    advs, success = run_attack(model, x, y, scripted, epsilons=[0.1, 0.2], device=CPU, progress=False)
    assert success.tolist() == [[True, False, False], [True, False, True]]
    assert torch.equal(advs[1][0], advs[0][0])  # carried over from epsilon 0.1
    assert not torch.equal(advs[1][2], advs[0][2])  # found at 0.2 itself


def test_restarts_never_lower_success_and_keep_the_first_success(model, digits):
    x, y = digits[0][:4], digits[1][:4]
    runs = [  # each restart attacks only the inputs still standing: one success per input attacked
        torch.tensor([[True, False, False, False]]),
        torch.tensor([[True, False, False]]),  # inputs 1, 2, 3
        torch.tensor([[True, False]]),  # inputs 2, 3
    ]
    scripted = _ScriptedAttack(runs)
    advs, success = run_attack(model, x, y, scripted, epsilons=[0.1], device=CPU, progress=False, restarts=3)
    assert scripted.sizes == [4, 3, 2]  # a broken input is never attacked again
    assert success.tolist() == [[True, True, True, False]]
    first, second, third = ((x + 0.001 * (k * 10)).clamp(0, 1) for k in (1, 2, 3))
    assert torch.equal(advs[0][0], first[0]) and torch.equal(advs[0][1], second[1])
    assert torch.equal(advs[0][2], third[2])


def test_real_restarts_are_at_least_as_strong(model, digits):
    x, y = digits[0][:32], digits[1][:32]
    attack = make_attack("pgd", steps=3)
    torch.manual_seed(0)
    _, once = run_attack(model, x, y, attack, epsilons=[0.1], device=CPU, progress=False)
    torch.manual_seed(0)  # the first of the three runs repeats the single run exactly
    _, thrice = run_attack(model, x, y, attack, epsilons=[0.1], device=CPU, progress=False, restarts=3)
    assert bool((thrice | ~once).all()), "a restart lost a success"
    torch.manual_seed(0)
    twice = robust_accuracy(model, x, y, attack, epsilon=0.1, device=CPU, progress=False, restarts=2)
    assert 1 - float(thrice.float().mean()) <= twice <= 1 - float(once.float().mean())


def test_batches_match_one_big_batch(model, digits):
    x, y = digits
    _, whole = run_attack(model, x, y, "fgsm", epsilons=[0.1], device=CPU, progress=False)
    _, batched = run_attack(model, x, y, "fgsm", epsilons=[0.1], device=CPU, progress=False, batch_size=10)
    assert torch.equal(whole, batched)


def test_default_device_comes_from_get_device(model, digits, monkeypatch):
    calls = []

    def fake_get_device(prefer=None):
        calls.append(prefer)
        return CPU

    monkeypatch.setattr(evasion, "get_device", fake_get_device)
    adv, success = adversarial_examples(model, digits[0][:8], digits[1][:8], "fgsm", epsilon=0.1)
    assert calls and adv.shape == (8, 1, 28, 28) and success.shape == (8,)


def test_bad_inputs_raise_clear_errors(model, digits):
    x, y = digits[0][:4], digits[1][:4]
    with pytest.raises(ValueError, match="choose one of"):
        make_attack("fgsn")
    with pytest.raises(ValueError, match="choose one of"):
        run_attack(model, x, y, "fgsn", epsilons=[0.1], progress=False)
    with pytest.raises(TypeError, match="foolbox attack or a name"):
        run_attack(model, x, y, 3, epsilons=[0.1], progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        run_attack(model, x * 255, y, "fgsm", epsilons=[0.1], progress=False)
    with pytest.raises(ValueError, match="N x C x H x W"):
        run_attack(model, x[:, 0], y, "fgsm", epsilons=[0.1], progress=False)
    with pytest.raises(ValueError, match="N x C x H x W"):
        run_attack(model, x, y[:3], "fgsm", epsilons=[0.1], progress=False)
    with pytest.raises(ValueError, match="integer class indices"):
        run_attack(model, x, y.float(), "fgsm", epsilons=[0.1], progress=False)
    with pytest.raises(TypeError, match="torch tensors"):
        run_attack(model, x.numpy(), y, "fgsm", epsilons=[0.1], progress=False)
    with pytest.raises(ValueError, match="empty"):
        run_attack(model, x[:0], y[:0], "fgsm", epsilons=[0.1], progress=False)
    with pytest.raises(ValueError, match=">= 0"):
        run_attack(model, x, y, "fgsm", epsilons=[-0.1], progress=False)
    with pytest.raises(ValueError, match="at least one"):
        robustness_curve(model, x, y, "fgsm", epsilons=[], progress=False)
    with pytest.raises(ValueError, match="restarts"):
        run_attack(model, x, y, "fgsm", epsilons=[0.1], progress=False, restarts=0)
    with pytest.raises(ValueError, match="batch_size"):
        run_attack(model, x, y, "fgsm", epsilons=[0.1], progress=False, batch_size=0)
    with pytest.raises(ValueError, match="norm"):
        minimal_perturbations(model, x, y, "deepfool", norm="l1", progress=False)
    with pytest.raises(ValueError, match="norm"):
        perturbation_norms(x, x, norm="l3")


def test_every_named_attack_can_be_made():
    for name in ATTACK_NAMES:
        assert callable(make_attack(name))


def test_perturbation_norms():
    x = torch.zeros(2, 1, 2, 2)
    adv = x.clone()
    adv[0, 0, 0, 0], adv[0, 0, 1, 1] = 0.3, -0.4
    assert perturbation_norms(x, adv, norm="l2").tolist() == pytest.approx([0.5, 0.0])
    assert perturbation_norms(x, adv, norm="linf").tolist() == pytest.approx([0.4, 0.0])


def test_minimal_perturbation_stats(model, digits):
    x, y = digits[0][:16], digits[1][:16]
    correct = int((model(x).argmax(dim=1) == y).sum())
    stats = minimal_perturbations(
        model, x, y, make_attack("deepfool", steps=30, candidates=3), norm="linf", device=CPU, progress=False
    )
    assert stats.norm == "linf" and stats.attacked == correct
    assert stats.success_rate > 0.9
    assert len(stats.norms) == round(stats.success_rate * correct)
    assert bool((stats.norms > 0).all()), "only correctly classified inputs are attacked"
    assert int(stats.attacked_mask.sum()) == correct and len(stats.adversarials) == correct
    linf = perturbation_norms(x[stats.attacked_mask], stats.adversarials, norm="linf")
    assert torch.equal(stats.norms, linf[stats.fooled])
    assert float(stats.norms.min()) <= stats.median <= float(stats.norms.max())
    assert 0.0 < stats.median < 0.5 and stats.mean == pytest.approx(float(stats.norms.mean()))
    l2 = minimal_perturbations(
        model, x, y, make_attack("l2deepfool", steps=30, candidates=3), device=CPU, progress=False
    )
    assert l2.norm == "l2" and l2.median > stats.median  # an L2 norm of a 784-pixel change is larger
