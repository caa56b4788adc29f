"""The training loop's batching is the same as DataLoader's (so zoo models stay reproducible), only faster."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from labkit.training import random_shift, shuffled_batches


@pytest.mark.parametrize(("n", "batch_size"), [(1003, 64), (1024, 128), (5, 7), (64, 1)])
def test_shuffled_batches_match_dataloader_and_its_generator_use(n, batch_size):
    x, y = torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))
    g_loader, g_ours = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=g_loader)
    for _ in range(3):  # epochs, with augmentation drawing from the same generator in between
        theirs = [(random_shift(xb, g_loader), yb) for xb, yb in loader]
        ours = [
            (random_shift(xb, g_ours), yb)
            for xb, yb in shuffled_batches(x, y, batch_size=batch_size, generator=g_ours)
        ]
        assert len(theirs) == len(ours)
        for (xa, ya), (xb, yb) in zip(theirs, ours, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert torch.equal(torch.rand(4, generator=g_loader), torch.rand(4, generator=g_ours))


def test_shuffled_batches_reject_mismatched_data():
    with pytest.raises(ValueError, match="rows"):
        list(shuffled_batches(torch.rand(3, 2), torch.zeros(4), batch_size=2, generator=torch.Generator()))
    with pytest.raises(ValueError, match="batch_size"):
        list(shuffled_batches(torch.rand(3, 2), torch.zeros(3), batch_size=0, generator=torch.Generator()))
