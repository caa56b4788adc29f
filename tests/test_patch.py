"""Adversarial patches: placement is exact, training only touches the patch, success is measured
on digits of other classes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.attacks.patches import apply_patch, patch_success, random_positions, train_patch
from labkit.data import load_digits
from labkit.zoo.registry import load_model


def test_apply_patch_puts_the_patch_exactly_where_asked():
    x = torch.full((3, 1, 28, 28), 0.25)
    patch = torch.rand(1, 4, 4)
    rows, cols = torch.tensor([0, 24, 10]), torch.tensor([0, 3, 24])
    out = apply_patch(x, patch, rows, cols)
    for i in range(3):
        r, c = int(rows[i]), int(cols[i])
        assert torch.equal(out[i, :, r : r + 4, c : c + 4], patch)
        rest = out[i].clone()
        rest[:, r : r + 4, c : c + 4] = 0.25
        assert torch.equal(rest, x[i])
    assert torch.equal(x, torch.full((3, 1, 28, 28), 0.25)), "the input is not changed"


def test_apply_patch_is_differentiable_in_the_patch():
    patch = torch.rand(1, 5, 5, requires_grad=True)
    apply_patch(torch.zeros(2, 1, 28, 28), patch, torch.tensor([1, 2]), torch.tensor([3, 4])).sum().backward()
    assert torch.equal(patch.grad, torch.full((1, 5, 5), 2.0))


@pytest.mark.parametrize(
    ("rows", "cols", "patch_shape", "message"),
    [
        ([25], [0], (1, 4, 4), "must fit"),
        ([0, 1], [0], (1, 4, 4), "one position per image"),
        ([0], [0], (1, 4, 3), "square patch"),
    ],
)
def test_apply_patch_refuses_bad_placements(rows, cols, patch_shape, message):
    with pytest.raises(ValueError, match=message):
        apply_patch(
            torch.zeros(len(rows), 1, 28, 28),
            torch.rand(*patch_shape),
            torch.tensor(rows),
            torch.tensor(cols),
        )


def test_random_positions_keep_the_patch_inside_and_cover_the_image():
    rows, cols = random_positions(5000, patch_size=8, generator=torch.Generator().manual_seed(0))
    assert int(rows.min()) == 0 and int(rows.max()) == 20 and int(cols.min()) == 0 and int(cols.max()) == 20
    with pytest.raises(ValueError, match="patch_size"):
        random_positions(3, patch_size=29)


def test_patch_success_counts_only_other_classes():
    class Always(nn.Module):
        def __init__(self, label: int) -> None:
            super().__init__()
            self.label = label
            self.weight = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return nn.functional.one_hot(torch.full((len(x),), self.label), 10).float() + self.weight

    x, y = torch.rand(10, 1, 28, 28), torch.tensor([3, 3, 1, 2, 4, 5, 6, 7, 8, 9])
    patch = torch.rand(1, 6, 6)
    assert patch_success(Always(3), x, y, patch, target=3) == 1.0  # the two 3s are left out
    assert patch_success(Always(1), x, y, patch, target=3) == 0.0
    with pytest.raises(ValueError, match="target class"):
        patch_success(Always(3), x[:2], y[:2], patch, target=3)


def test_a_trained_patch_beats_a_random_one_and_leaves_the_model_alone():
    model = load_model("digits_cnn", device="cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, _ = load_digits("train")
    xt, yt = load_digits("test")
    result = train_patch(
        model,
        x[:1000],
        target=8,
        size=12,
        steps=40,
        batch_size=32,
        lr=0.1,
        device=torch.device("cpu"),
        progress=False,
    )
    assert result.patch.shape == (1, 12, 12) and result.target == 8 and len(result.losses) == 40
    assert float(result.patch.min()) >= 0 and float(result.patch.max()) <= 1
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    trained = patch_success(model, xt[:200], yt[:200], result.patch, target=8, placements=2)
    noise = patch_success(
        model,
        xt[:200],
        yt[:200],
        torch.rand(1, 12, 12, generator=torch.Generator().manual_seed(1)),
        target=8,
        placements=2,
    )
    assert trained > noise + 0.1, (trained, noise)
