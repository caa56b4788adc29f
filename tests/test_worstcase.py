"""Worst-case robustness and APGD, cross-checked against torchattacks (an independent implementation)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.attacks.apgd import apgd, apgd_targeted, checkpoints, dlr_loss
from labkit.attacks.worstcase import Ensemble, worst_case_robustness

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def robust_batch() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    from labkit.data import load_digits
    from labkit.zoo.registry import load_model

    x, y = load_digits("test")
    return load_model("digits_cnn_robust", device="cpu"), x[:48], y[:48]


def _accuracy(model: nn.Module, adv: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(adv).argmax(dim=1) == y).float().mean())


@pytest.mark.slow
def test_apgd_agrees_with_torchattacks_and_the_worst_case_is_below_every_single_attack(robust_batch):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = robust_batch
    epsilon, steps = 0.3, 20
    theirs = {
        "APGD-CE": torchattacks.APGD(model, norm="Linf", eps=epsilon, steps=steps, seed=0, loss="ce"),
        "APGD-T": torchattacks.APGDT(model, norm="Linf", eps=epsilon, steps=steps, seed=0, n_classes=10),
        "PGD-10": torchattacks.PGD(model, eps=epsilon, alpha=2.5 * epsilon / 10, steps=10, random_start=True),
    }
    single = {name: _accuracy(model, attack(x, y), y) for name, attack in theirs.items()}
    adv, broken = apgd(model, x, y, epsilon=epsilon, steps=steps, generator=torch.Generator().manual_seed(0))
    ours = _accuracy(model, adv, y)
    assert ours == pytest.approx(float((~broken).float().mean()))  # the mask says what the model says
    assert (adv - x).abs().amax() <= epsilon + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert abs(ours - single["APGD-CE"]) <= 3 / len(x), (ours, single)  # same algorithm, other seed
    ensemble = Ensemble(
        "test", pgd_steps=10, pgd_restarts=2, apgd_steps=steps, apgd_targets=3, square_queries=30
    )
    worst = worst_case_robustness(model, x, y, epsilon=epsilon, ensemble=ensemble, progress=False)
    for name, accuracy in {**single, "labkit APGD-CE": ours}.items():
        assert worst.robust_accuracy <= accuracy, (name, worst.table(), single)
    assert worst.robust_accuracy < worst.clean_accuracy
    accuracies = list(worst.attack_accuracies.values())
    assert accuracies == sorted(accuracies, reverse=True) and accuracies[-1] == worst.robust_accuracy
    broken_by = set(worst.broken_by)
    assert broken_by <= {"", "clean", *worst.attack_accuracies}
    assert worst.robust.sum() == worst.broken_by.count("")
    fooled = worst.adversarials[~worst.robust]
    with torch.no_grad():
        still_right = model(fooled).argmax(dim=1) == y[~worst.robust]
    assert not still_right.any()  # every digit counted as broken has an adversarial that breaks it
    assert "worst case" in worst.table() and f"{worst.robust_accuracy:.1%}" in worst.summary()


class CountingModel(nn.Module):
    """Records how many rows each forward pass sees."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.rows: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.rows.append(len(x))
        return self.model(x)


def test_pgd_restarts_attack_only_the_digits_still_standing():
    from labkit.models import DigitsCNN

    torch.manual_seed(0)
    x = torch.rand(40, 1, 28, 28)
    model = DigitsCNN(channels=(2, 2), hidden=8).eval()
    with torch.no_grad():
        y = model(x).argmax(dim=1)  # every digit read "correctly" to begin with
    y[:5] = (y[:5] + 1) % 10  # and five misread ones, which no attack should touch
    one = Ensemble("one", pgd_steps=3, pgd_restarts=1, apgd_steps=0, square_queries=0)
    first = worst_case_robustness(model, x, y, epsilon=0.1, ensemble=one, progress=False)
    standing = int(first.robust.sum())
    assert 0 < standing < 35  # the first restart broke some, but not all
    counting = CountingModel(model)
    three = Ensemble("three", pgd_steps=3, pgd_restarts=3, apgd_steps=0, square_queries=0)
    worst = worst_case_robustness(counting, x, y, epsilon=0.1, ensemble=three, progress=False)
    per_restart = 3 + 1  # three gradient steps and one look at the result
    # each restart's call first checks its arguments with a one-row probe of the model; leave those out
    attacked = [rows for rows in counting.rows if rows > 1][-3 * per_restart :]
    assert attacked[:per_restart] == [35] * per_restart  # restart 1: every digit read correctly
    assert attacked[per_restart : 2 * per_restart] == [standing] * per_restart  # restart 2: survivors only
    assert attacked[-1] <= standing and worst.robust_accuracy <= first.robust_accuracy


def test_foolbox_restarts_attack_only_the_digits_still_standing():
    from labkit.attacks.robustness import robust_accuracy
    from labkit.models import DigitsCNN

    torch.manual_seed(0)
    x = torch.rand(30, 1, 28, 28)
    model = DigitsCNN(channels=(2, 2), hidden=8).eval()
    with torch.no_grad():
        y = model(x).argmax(dim=1)
    counting = CountingModel(model)
    once = robust_accuracy(counting, x, y, "fgsm", epsilon=0.01, progress=False)
    rows_once = sum(counting.rows)
    counting.rows.clear()
    thrice = robust_accuracy(counting, x, y, "fgsm", epsilon=0.01, progress=False, restarts=3)
    assert 0 < once < 1 and thrice <= once
    assert sum(counting.rows) < 3 * rows_once  # later restarts skip the digits already broken


def test_worst_case_restores_train_mode_and_is_seeded():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(4 * 26 * 26, 10),
    )
    torch.manual_seed(2)
    x = torch.rand(16, 1, 28, 28)
    model.eval()
    with torch.no_grad():
        y = model(x).argmax(dim=1)
    model.train()
    tiny = Ensemble("tiny", pgd_steps=2, pgd_restarts=1, apgd_steps=4, apgd_targets=1, square_queries=5)
    a = worst_case_robustness(model, x, y, epsilon=0.05, ensemble=tiny, seed=3, progress=False)
    assert model.training and all(m.training for m in model.modules())
    assert a.clean_accuracy == 1.0  # measured in eval mode: dropout off, running BatchNorm statistics
    b = worst_case_robustness(model, x, y, epsilon=0.05, ensemble=tiny, seed=3, progress=False)
    assert a.broken_by == b.broken_by and torch.equal(a.adversarials, b.adversarials)
    assert all(p.requires_grad for p in model.parameters())


def test_apgd_pieces():
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    logits = torch.tensor([[3.0, 1.0, 0.0, -1.0], [0.0, 2.0, 1.0, -1.0]])
    y = torch.tensor([0, 0])
    margin = dlr_loss(logits, y)
    assert margin[0] == pytest.approx(-(3 - 1) / (3 - 0)) and margin[1] == pytest.approx(-(0 - 2) / (2 - 0))
    targeted = dlr_loss(logits, y, torch.tensor([3, 2]))
    assert targeted[0] == pytest.approx(-(3 + 1) / (3 - (0 - 1) / 2))
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    x = torch.rand(8, 1, 28, 28)
    for norm, size in (("linf", lambda d: d.abs().amax()), ("l2", lambda d: d.flatten(1).norm(dim=1).max())):
        adv, _ = apgd(model, x, torch.zeros(8, dtype=torch.long), epsilon=0.5, norm=norm, steps=5)
        assert size(adv - x) <= 0.5 + 1e-5 and 0 <= adv.min() and adv.max() <= 1
    with pytest.raises(ValueError, match="targets"):
        apgd_targeted(model, x, torch.zeros(8, dtype=torch.long), epsilon=0.1, targets=10)


def test_evaluate_zoo_model_checks_its_arguments_before_any_work():
    from labkit.zoo.evaluation import evaluate_zoo_model

    with pytest.raises(ValueError, match="digits model"):
        evaluate_zoo_model("clinic_mlp")
    with pytest.raises(ValueError, match="digits"):
        evaluate_zoo_model("digits_cnn", digits=0)
    with pytest.raises(ValueError, match="ensemble"):
        evaluate_zoo_model("digits_cnn", ensemble="fast")


def test_accuracy_of_a_black_box_model():
    from labkit.attacks.blackbox import BlackBoxModel
    from labkit.models import DigitsCNN
    from labkit.training import accuracy, predict_logits

    model = DigitsCNN(channels=(2, 2), hidden=8).eval()
    x, y = torch.rand(6, 1, 28, 28), torch.arange(6)
    box = BlackBoxModel(model, policy="label")
    assert accuracy(box, x, y) == accuracy(model, x, y)
    assert predict_logits(box, x).shape == (6, 10) and box.queries == 12  # each call costs its queries
