"""Poisoning builders: they change exactly what they say, record what they touched, and reject bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.attacks.backdoor import (
    CORNERS,
    PATTERNS,
    Trigger,
    attack_success_rate,
    backdoor_dataset,
    make_trigger,
    stamp,
)
from labkit.attacks.poisoning import (
    PoisonedDataset,
    flip_labels,
    flip_labels_targeted,
    jitter,
    poison_labels,
    targeted_poison,
)


@pytest.fixture()
def data():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(200, 1, 28, 28, generator=generator) * 0.5
    y = torch.arange(200) % 10
    return x, y


def test_random_flips_change_exactly_the_touched_labels(data):
    _, y = data
    original = y.clone()
    flipped, touched = flip_labels(y, rate=0.25, seed=3)
    assert torch.equal(y, original), "the input labels must not be modified"
    assert len(touched) == 50 and torch.equal(touched, touched.sort().values)
    assert len(set(touched.tolist())) == 50
    changed = torch.nonzero(flipped != y).flatten()
    assert torch.equal(changed, touched), "every touched label changes, no other label does"
    assert int(flipped.min()) >= 0 and int(flipped.max()) <= 9


def test_random_flips_are_seeded(data):
    _, y = data
    a = flip_labels(y, rate=0.1, seed=1)
    b = flip_labels(y, rate=0.1, seed=1)
    c = flip_labels(y, rate=0.1, seed=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_zero_rate_flips_nothing(data):
    _, y = data
    flipped, touched = flip_labels(y, rate=0.0)
    assert len(touched) == 0 and torch.equal(flipped, y)


def test_targeted_flips_touch_only_the_source_class(data):
    _, y = data
    flipped, touched = flip_labels_targeted(y, source=1, target=7, rate=0.5, seed=0)
    assert len(touched) == 10  # half of the 20 ones
    assert bool((y[touched] == 1).all()) and bool((flipped[touched] == 7).all())
    keep = torch.ones(len(y), dtype=torch.bool)
    keep[touched] = False
    assert torch.equal(flipped[keep], y[keep])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": 1, "target": 1, "rate": 0.1}, "different"),
        ({"source": 10, "target": 1, "rate": 0.1}, "source must be a class"),
        ({"source": 1, "target": 7, "rate": 1.5}, r"\[0, 1\]"),
    ],
)
def test_targeted_flip_rejects_bad_arguments(data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        flip_labels_targeted(data[1], **kwargs)


def test_flip_rejects_labels_that_are_not_int64_classes():
    with pytest.raises(ValueError, match="int64"):
        flip_labels(torch.tensor([0.0, 1.0]), rate=0.5)
    with pytest.raises(ValueError, match="0..9"):
        flip_labels(torch.tensor([0, 12]), rate=0.5)


def test_poison_labels_records_ground_truth(data):
    x, y = data
    poisoned = poison_labels(x, y, rate=0.1, seed=0)
    assert isinstance(poisoned, PoisonedDataset) and len(poisoned) == 200
    assert poisoned.rate == pytest.approx(0.1)
    assert torch.equal(torch.nonzero(poisoned.is_poisoned).flatten(), poisoned.touched)
    assert torch.equal(torch.nonzero(poisoned.y != y).flatten(), poisoned.touched)
    targeted = poison_labels(x, y, rate=1.0, source=3, target=8)
    assert torch.equal(targeted.touched, torch.nonzero(y == 3).flatten())
    with pytest.raises(ValueError, match="both source and target"):
        poison_labels(x, y, rate=0.1, source=3)
    with pytest.raises(ValueError, match="matching"):
        poison_labels(x[:10], y, rate=0.1)


def test_jitter_makes_shifted_noisy_copies_in_range(data):
    image = data[0][0]
    copies = jitter(image, copies=6, max_shift=2, noise=0.05, seed=0)
    assert copies.shape == (6, 1, 28, 28)
    assert float(copies.min()) >= 0.0 and float(copies.max()) <= 1.0
    assert not torch.equal(copies[0], copies[1])
    assert torch.equal(copies, jitter(image, copies=6, seed=0))
    assert torch.equal(jitter(image, copies=1, max_shift=0, noise=0.0)[0], image)
    with pytest.raises(ValueError, match="1 x H x W"):
        jitter(data[0][:2], copies=2)
    with pytest.raises(ValueError, match="copies >= 1"):
        jitter(image, copies=0)


def test_targeted_poison_appends_labelled_copies(data):
    x, y = data
    poisoned = targeted_poison(x, y, x[5], target=3, copies=12, seed=0)
    assert len(poisoned) == 212
    assert torch.equal(poisoned.x[:200], x) and torch.equal(poisoned.y[:200], y)
    assert torch.equal(poisoned.touched, torch.arange(200, 212))
    assert bool((poisoned.y[200:] == 3).all())
    # a batch of one is accepted as the victim too
    again = targeted_poison(x, y, x[5:6], target=3, copies=12, seed=0)
    assert torch.equal(again.x, poisoned.x)
    with pytest.raises(ValueError, match="victim has shape"):
        targeted_poison(x, y, torch.rand(1, 14, 14), target=3)
    with pytest.raises(ValueError, match="target must be a class"):
        targeted_poison(x, y, x[5], target=10)


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("corner", CORNERS)
def test_make_trigger_fits_every_corner(pattern, corner):
    trigger = make_trigger(pattern=pattern, size=4, position=corner, margin=1)
    assert trigger.size == (4, 4)
    assert trigger.top in (1, 23) and trigger.left in (1, 23)
    assert float(trigger.pattern.max()) == 1.0


def test_make_trigger_rejects_bad_requests():
    with pytest.raises(ValueError, match="unknown trigger pattern"):
        make_trigger(pattern="star")
    with pytest.raises(ValueError, match="position must be one of"):
        make_trigger(position="middle")
    with pytest.raises(ValueError, match="does not fit"):
        make_trigger(size=4, position=(26, 0))
    with pytest.raises(ValueError, match="h x w"):
        make_trigger(pattern=torch.ones(1, 3, 3))
    with pytest.raises(ValueError, match=">= 0"):
        Trigger(pattern=torch.ones(2, 2), top=-1, left=0)


def test_stamp_changes_only_the_trigger_pixels(data):
    x, _ = data
    trigger = make_trigger(pattern="checkerboard", size=4, position="bottom-right")
    out = stamp(x[:8], trigger)
    assert not torch.equal(out, x[:8]) and out.shape == (8, 1, 28, 28)
    region = (slice(None), slice(None), slice(23, 27), slice(23, 27))
    assert torch.equal(out[region], trigger.pattern.expand(8, 1, 4, 4))
    outside = torch.ones(28, 28, dtype=torch.bool)
    outside[23:27, 23:27] = False
    assert torch.equal(out[..., outside], x[:8][..., outside])
    single = stamp(x[0], trigger)
    assert torch.equal(single, out[0])


def test_stamp_respects_the_mask(data):
    x, _ = data
    mask = torch.zeros(3, 3, dtype=torch.bool)
    mask[1, 1] = True
    trigger = Trigger(pattern=torch.ones(3, 3), top=0, left=0, mask=mask)
    out = trigger.apply(x[:2])
    assert torch.equal(out[:, :, 1, 1], torch.ones(2, 1))
    assert torch.equal(out[:, :, 0, 0], x[:2, :, 0, 0])


def test_backdoor_dataset_stamps_and_relabels_non_target_records(data):
    x, y = data
    trigger = make_trigger(size=3)
    poisoned = backdoor_dataset(x, y, trigger=trigger, target=0, rate=0.1, seed=0)
    assert len(poisoned.touched) == 20
    assert bool((y[poisoned.touched] != 0).all()) and bool((poisoned.y[poisoned.touched] == 0).all())
    assert torch.equal(poisoned.x[poisoned.touched], stamp(x[poisoned.touched], trigger))
    untouched = ~poisoned.is_poisoned
    assert torch.equal(poisoned.x[untouched], x[untouched])
    assert torch.equal(poisoned.y[untouched], y[untouched])
    with pytest.raises(ValueError, match="only"):
        backdoor_dataset(x, y, trigger=trigger, target=0, rate=0.95)


class _CornerDetector(nn.Module):
    """Predicts class 0 when the bottom-right pixel is bright, otherwise class 1."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        bright = (x[:, 0, -2, -2] > 0.9).float()
        return torch.stack([bright, 1 - bright], dim=1) + self.dummy


def test_attack_success_rate(data):
    x, y = data
    trigger = make_trigger(pattern="square", size=2, position="bottom-right")
    assert attack_success_rate(_CornerDetector(), x, y, trigger=trigger, target=0) == 1.0
    assert attack_success_rate(_CornerDetector(), x, y, trigger=trigger, target=1) == 0.0
    with pytest.raises(ValueError, match="not the target"):
        zeros = torch.zeros(200, dtype=torch.int64)
        attack_success_rate(_CornerDetector(), x, zeros, trigger=trigger, target=0)
