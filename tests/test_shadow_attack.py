"""The shadow-model attack's reference (labkit.attacks.shadow.shadow_attack_scores), on real models."""

from __future__ import annotations

import pytest
import torch

from labkit.attacks.membership import evaluate_membership
from labkit.attacks.shadow import Recipe, attack_classifier, random_halves, shadow_attack_scores, train_mlps

pytestmark = pytest.mark.usefixtures("one_thread")

# wide, long-trained MLPs on few noisy records: they memorise, so membership shows
MEMORISE = Recipe(hidden=(64,), steps=150, lr=1e-2)


def _noisy(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centres = torch.randn(3, 8, generator=torch.Generator().manual_seed(99))
    return centres[y] + 1.5 * torch.randn(n, 8, generator=g), y


@pytest.fixture(scope="module")
def world():
    x_pool, y_pool = _noisy(240, seed=1)
    masks = random_halves(len(x_pool), count=3, size=60, seed=2)
    shadows = train_mlps(x_pool, y_pool, masks, num_classes=3, recipe=MEMORISE, seed=3)
    splits = []
    for mask in masks:
        unseen = (~mask).nonzero().flatten()[:60]
        splits.append((x_pool[mask], y_pool[mask], x_pool[unseen], y_pool[unseen]))
    x_in, y_in = _noisy(60, seed=4)
    x_out, y_out = _noisy(60, seed=5)
    target = train_mlps(x_in, y_in, torch.ones(1, 60, dtype=torch.bool), num_classes=3, recipe=MEMORISE)[0]
    with torch.no_grad():
        logits = target(torch.cat([x_in, x_out]))
    return shadows, splits, logits, torch.cat([y_in, y_out])


def test_the_attack_finds_the_members_of_a_model_that_memorised(world):
    shadows, splits, logits, labels = world
    scores = shadow_attack_scores(shadows, splits, logits, labels)
    assert scores.shape == (120,) and ((scores >= 0) & (scores <= 1)).all()
    assert evaluate_membership(scores[:60], scores[60:]).auc > 0.7
    again = shadow_attack_scores(shadows, splits, logits, labels)
    assert torch.equal(scores, again), "same shadows, same seed: same scores"


def test_swapping_each_shadows_in_and_out_turns_the_attack_around(world):
    shadows, splits, logits, labels = world
    swapped = [(xo, yo, xi, yi) for xi, yi, xo, yo in splits]
    scores = shadow_attack_scores(shadows, swapped, logits, labels)
    assert evaluate_membership(scores[:60], scores[60:]).auc < 0.3


def test_probabilities_do_not_depend_on_a_shift_of_the_logits(world):
    shadows, splits, logits, labels = world
    shifted = logits + 5 * torch.randn(len(logits), 1, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(
        shadow_attack_scores(shadows, splits, shifted.double(), labels),
        shadow_attack_scores(shadows, splits, logits.double(), labels),
        atol=1e-6,
    )


def test_attack_classifier_is_unfitted_and_seeded():
    first, second = attack_classifier(seed=1), attack_classifier(seed=1)
    assert first.get_params() == second.get_params() and first.early_stopping is False
    with pytest.raises(TypeError, match="seed"):
        attack_classifier(seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="splits"):
        shadow_attack_scores([torch.nn.Identity()], [], torch.zeros(2, 3), torch.tensor([0, 1]))
