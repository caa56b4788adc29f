"""Training and evaluation loops with progress bars; correct on CPU, fast on GPU when present."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn
from tqdm.auto import tqdm

from labkit.models import DigitsCNN
from labkit.runtime import get_device, seed_everything

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, targets) -> mean loss
# (model, inputs, targets, generator) -> the loss of one batch, e.g. on attacked inputs
Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


def random_shift(images: torch.Tensor, generator: torch.Generator, *, pixels: int = 2) -> torch.Tensor:
    """Shift each image by up to `pixels` in x and y (zero fill): cheap digit augmentation."""
    n = images.shape[0]
    padded = nn.functional.pad(images, (pixels, pixels, pixels, pixels))
    offsets = torch.randint(0, 2 * pixels + 1, (n, 2), generator=generator)
    h, w = images.shape[-2:]
    rows = offsets[:, 0, None] + torch.arange(h)
    cols = offsets[:, 1, None] + torch.arange(w)
    batch = torch.arange(n)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def shuffled_batches(
    x: torch.Tensor, y: torch.Tensor, *, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of shuffled mini-batches, sliced from the tensors in one indexing step each.

    Draws from `generator` exactly as DataLoader(TensorDataset(x, y), shuffle=True, generator=...)
    does (a base seed, then the permutation), so it yields the same batches, without DataLoader's
    per-record fetch and collate.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}; they must match.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}.")
    n = len(x)
    torch.empty((), dtype=torch.int64).random_(generator=generator)  # DataLoader's per-epoch base seed
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        if len(index) < batch_size:  # RandomSampler draws a spare permutation when it runs out ...
            torch.randperm(n, generator=generator)
        yield x[index], y[index]
    if n % batch_size == 0:  # ... after the last full batch, or before a last partial one
        torch.randperm(n, generator=generator)


def _cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, _: torch.Generator) -> torch.Tensor:
    return nn.functional.cross_entropy(model(x), y)


def loss_objective(loss: Loss) -> Objective:
    """A training objective from a loss of the logits and the targets (e.g. soft-label cross-entropy)."""

    def objective(model: nn.Module, x: torch.Tensor, y: torch.Tensor, _: torch.Generator) -> torch.Tensor:
        return loss(model(x), y)

    return objective


def train_model(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    augment: Augment | None = None,
    objective: Objective | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    desc: str = "training",
) -> list[float]:
    """Train with Adam on shuffled mini-batches; returns the mean loss of each epoch.

    The loss of a batch is cross-entropy, or `objective(model, xb, yb, generator)` (soft targets,
    adversarial training). The seed fixes the batches, the augmentation and whatever randomness the
    objective draws from the generator."""
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(
            f"x has {len(x)} inputs and y has {len(y)} labels: give one label (or target row) per input, "
            "and at least one input."
        )
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(
            f"need epochs >= 1, batch_size >= 1 and lr > 0, got epochs={epochs}, "
            f"batch_size={batch_size}, lr={lr}."
        )
    batch_objective = objective or _cross_entropy
    device = device or get_device()
    model.to(device).train()
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses: list[float] = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        total = torch.zeros((), device=device)  # summed on the device: no host sync per batch
        for xb, yb in shuffled_batches(x, y, batch_size=batch_size, generator=generator):
            if augment is not None:
                xb = augment(xb, generator)
            xb, yb = xb.to(device), yb.to(device)
            optimiser.zero_grad()
            batch_loss = batch_objective(model, xb, yb, generator)
            batch_loss.backward()
            optimiser.step()
            total += batch_loss.detach() * len(yb)
        losses.append(float(total) / len(x))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    model.eval()
    return losses


def train_reader(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    channels: tuple[int, int] = (16, 32),
    hidden: int = 128,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 2e-3,
    anneal_epochs: int = 0,
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool = True,
    desc: str = "training",
) -> DigitsCNN:
    """A fresh cheque reader (DigitsCNN) trained from `seed`: the quick recipe the notebooks retrain
    with (poisoning sweeps, backdoors, filtered data). `anneal_epochs` more epochs at lr / 10 follow."""
    if anneal_epochs < 0:
        raise ValueError(f"anneal_epochs must be >= 0, not {anneal_epochs}.")
    seed_everything(seed)  # the initial weights are part of the recipe
    model = DigitsCNN(channels=channels, hidden=hidden)
    train_model(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        progress=progress,
        desc=desc,
    )
    if anneal_epochs:
        train_model(
            model,
            x,
            y,
            epochs=anneal_epochs,
            batch_size=batch_size,
            lr=lr / 10,
            seed=seed + 1,
            device=device,
            progress=progress,
            desc=desc,
        )
    return model


@torch.no_grad()
def predict_logits(
    model: nn.Module, x: torch.Tensor, *, batch_size: int = 512, device: torch.device | None = None
) -> torch.Tensor:
    """Model logits for every row of x, computed in batches (returned on the CPU)."""
    device = device or next(model.parameters()).device
    model.eval()
    outs = [model(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 512) -> float:
    """Fraction of rows the model labels correctly."""
    if len(y) == 0:
        raise ValueError("accuracy() needs at least one example.")
    predictions = predict_logits(model, x, batch_size=batch_size).argmax(dim=1)
    return (predictions == y.cpu()).float().mean().item()


@torch.no_grad()
def model_features(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
    """`model.features(x)` in batches, on the CPU (e.g. DigitsCNN's penultimate layer)."""
    if not hasattr(model, "features"):
        raise TypeError(f"{type(model).__name__} has no .features(x); pass features you computed yourself.")
    features: Callable[[torch.Tensor], torch.Tensor] = model.features  # type: ignore[assignment]
    device = next(model.parameters()).device
    model.eval()
    chunks = [features(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(chunks) if chunks else torch.empty(0)
