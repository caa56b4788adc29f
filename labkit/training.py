"""Training and evaluation loops with progress bars; correct on CPU, fast on GPU when present."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from labkit import validate as v
from labkit.models import DigitsCNN
from labkit.runtime import borrowed, get_device, model_device, progress_bar, seed_everything

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, targets) -> mean loss
# (model, inputs, targets, generator) -> the loss of one batch, e.g. on attacked inputs
Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


def random_shift(images: torch.Tensor, generator: torch.Generator, *, pixels: int = 2) -> torch.Tensor:
    """Shift each image by up to `pixels` in x and y (zero fill): cheap digit augmentation."""
    v.images("images", images)
    _generator("generator", generator)
    pixels = v.nonnegative_int("pixels", pixels)
    # the offsets come from the (CPU) generator, so a seed shifts alike on every device; only they
    # are copied to the images' device, without waiting
    n, device = images.shape[0], images.device
    padded = nn.functional.pad(images, (pixels, pixels, pixels, pixels))
    offsets = torch.randint(0, 2 * pixels + 1, (n, 2), generator=generator).to(device, non_blocking=True)
    h, w = images.shape[-2:]
    rows = offsets[:, 0, None] + torch.arange(h, device=device)
    cols = offsets[:, 1, None] + torch.arange(w, device=device)
    batch = torch.arange(n, device=device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def shuffled_batches(
    x: torch.Tensor, y: torch.Tensor, *, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of shuffled mini-batches, sliced from the tensors in one indexing step each.

    Draws from `generator` exactly as DataLoader(TensorDataset(x, y), shuffle=True, generator=...)
    does (a base seed, then the permutation), so it yields the same batches, without DataLoader's
    per-record fetch and collate. The batches are sliced where x is (the permutation is drawn on the
    CPU generator and copied there once per epoch).
    """
    v.tensor("x", x)
    v.tensor("y", y)
    n = v.same_length(x=x, y=y)
    batch_size = v.positive_int("batch_size", batch_size)
    _generator("generator", generator)
    torch.empty((), dtype=torch.int64).random_(generator=generator)  # DataLoader's per-epoch base seed
    order = torch.randperm(n, generator=generator).to(x.device, non_blocking=True)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        if len(index) < batch_size:  # RandomSampler draws a spare permutation when it runs out ...
            torch.randperm(n, generator=generator)
        yield x[index], y[index]
    if n % batch_size == 0:  # ... after the last full batch, or before a last partial one
        torch.randperm(n, generator=generator)


def _generator(name: str, value: object) -> torch.Generator:
    if not isinstance(value, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator, not {value!r}.")
    return value


def check_training_data(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, labels: bool) -> None:
    """Check a model and its training data: finite float inputs (images in [0, 1] when 4-D), one
    target per input; with `labels`, y holds class indices the model has outputs for."""
    _inputs(model, x)
    if labels:
        v.model_labels("y", y, model=model, x=x)
    else:
        v.tensor("y", y)
        v.same_length(x=x, y=y)


def _cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, _: torch.Generator) -> torch.Tensor:
    return nn.functional.cross_entropy(model(x), y)


def loss_objective(loss: Loss) -> Objective:
    """A training objective from a loss of the logits and the targets (e.g. soft-label cross-entropy)."""

    v.function("loss", loss)

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
    objective draws from the generator.

    The data are copied to `device` once; each epoch reads the loss back once (no host
    synchronisation per batch). Training changes the model by design: it ends trained, on `device`,
    in eval mode."""
    check_training_data(model, x, y, labels=objective is None)
    epochs = v.positive_int("epochs", epochs)
    batch_size = v.positive_int("batch_size", batch_size)
    lr = v.positive_float("lr", lr)
    weight_decay = v.nonnegative_float("weight_decay", weight_decay)
    v.integer("seed", seed)
    batch_objective = objective or _cross_entropy
    device = device or get_device()
    model.to(device).train()
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    xs, ys = x.detach().to(device), y.to(device)
    losses: list[float] = []
    bar = progress_bar(range(epochs), desc=desc, enabled=progress, leave=False)
    for _ in bar:
        total = torch.zeros((), device=device)  # summed on the device: no host sync per batch
        # the data were checked once above: the batches' value checks (in an augmentation, an
        # attack inside the objective) would each read the batch back to the host
        with v.trusted_values():
            for xb, yb in shuffled_batches(xs, ys, batch_size=batch_size, generator=generator):
                if augment is not None:
                    xb = augment(xb, generator)
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
    v.images("x", x)
    v.labels("y", y, n=len(x), num_classes=10)
    v.positive_int("epochs", epochs)
    v.positive_int("batch_size", batch_size)
    v.positive_float("lr", lr)
    anneal_epochs = v.nonnegative_int("anneal_epochs", anneal_epochs)
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
    """Model logits for every row of x, computed in batches in eval mode (the model's own mode is
    restored afterwards) and returned on the CPU, read back once."""
    _inputs(model, x)
    batch_size = v.positive_int("batch_size", batch_size)
    device = device or model_device(model) or x.device  # a model without weights: where x is
    with borrowed(model, freeze=False):
        outs = [model(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)]
    return torch.cat(outs).cpu() if outs else torch.empty(0)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 512) -> float:
    """Fraction of rows the model labels correctly."""
    logits = predict_logits(model, x, batch_size=batch_size)  # checks model and x once
    v.labels("y", y, n=len(x), num_classes=logits.shape[1])
    return (logits.argmax(dim=1) == y.cpu()).float().mean().item()


def _inputs(model: nn.Module, x: torch.Tensor) -> None:
    """A model and inputs it can read: finite floats (images in [0, 1] when 4-D) of a shape it takes."""
    v.module("model", model)
    v.inputs("x", x)
    v.model_outputs(model, x)


@torch.no_grad()
def model_features(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
    """`model.features(x)` in batches, on the CPU (e.g. DigitsCNN's penultimate layer)."""
    _inputs(model, x)
    batch_size = v.positive_int("batch_size", batch_size)
    if not hasattr(model, "features"):
        raise TypeError(
            f"model ({type(model).__name__}) has no .features(x); pass features you computed yourself."
        )
    features: Callable[[torch.Tensor], torch.Tensor] = model.features  # type: ignore[assignment]
    device = model_device(model) or x.device
    with borrowed(model, freeze=False):  # eval mode for the duration, the caller's mode restored
        chunks = [features(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)]
    return torch.cat(chunks).cpu() if chunks else torch.empty(0)
