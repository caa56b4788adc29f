"""Hidden tests for module 04, part 2: the loss filter (flag the records whose label the model finds
hardest to fit). Split from m04_data_poisoning.py to keep files small."""

from __future__ import annotations

from typing import Any

from labkit.checks.framework import CheckFailed, exercise

_FEATURES, _CLASSES = 6, 4


def reference_loss_flags(model: Any, x: Any, y: Any, fraction: float) -> Any:  # noqa: ANN401
    """The reference for 04.loss_filter: labkit's loss_filter with the exercise's signature."""
    from labkit.defenses.poison_filters import loss_filter

    return loss_filter(model, x, y, fraction=fraction)


def _model() -> Any:  # noqa: ANN401
    """A small classifier with dropout, handed over in training mode as a training loop leaves it."""
    import torch
    from torch import nn

    with torch.random.fork_rng():  # the check must not move the learner's global random state
        torch.manual_seed(404)
        model = nn.Sequential(nn.Linear(_FEATURES, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, _CLASSES))
    return model.train()


def _data(n: int, seed: int) -> tuple[Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(n, _FEATURES, generator=generator)  # large logits: confident, peaked outputs
    return x, torch.randint(0, _CLASSES, (n,), generator=generator)


def _losses(  # noqa: ANN401
    model: Any, x: Any, y: Any, *, dim: int = 1, own: bool = False, twice: bool = False
) -> Any:
    """Per-record loss in eval mode; `dim=0`, `own` and `twice` give known mistakes' scores."""
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(x)
    model.train()
    if twice:
        logits = logits.softmax(dim=1)
    labels = logits.argmax(dim=1) if own else y
    return -torch.log_softmax(logits, dim=dim)[torch.arange(len(y)), labels]


def _is_top(mask: Any, scores: Any, count: int) -> bool:  # noqa: ANN401
    """Does `mask` flag `count` records, none scoring below a record left out (ties either way)?"""
    if int(mask.sum()) != count:
        return False
    if count in (0, len(mask)):
        return True
    return bool(scores[mask].min() >= scores[~mask].max() - 1e-6)


def _tied_at_the_cut(x: Any, y: Any, count: int) -> tuple[Any, Any]:  # noqa: ANN401
    """Copy the record ranked `count` (1-based) over the lowest-loss one: two equal losses at the cut."""
    order = _losses(_model(), x, y).argsort(descending=True)
    x, y = x.clone(), y.clone()
    x[order[-1]], y[order[-1]] = x[order[count - 1]], y[order[count - 1]]
    return x, y


def _as_mask(out: Any, n: int, count: int) -> Any:  # noqa: ANN401
    import torch

    if out is None:
        raise CheckFailed("it returned None; return one flag per record.")
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(
            f"it should return a bool tensor with one flag per record, got {type(out).__name__}."
        )
    if out.dtype != torch.bool:
        if out.ndim == 1 and not out.is_floating_point() and len(out) == count != n:
            raise CheckFailed(
                f"it returned {count} record indices: the filter's result is a bool mask with one entry "
                f"per record (True = flagged), so it can index the data and be inverted to keep the rest."
            )
        raise CheckFailed(f"it should return a bool mask (dtype torch.bool), got dtype {out.dtype}.")
    if out.shape != (n,):
        raise CheckFailed(f"expected one flag per record (shape ({n},)), got shape {tuple(out.shape)}.")
    return out.cpu()


def _case(flags: Any, n: int, seed: int, fraction: float, *, ties: bool = False) -> int:  # noqa: ANN401
    import torch

    model = _model()
    x, y = _data(n, seed)
    count = round(fraction * n)
    if ties:
        x, y = _tied_at_the_cut(x, y, count)
    original_y = y.clone()
    first = _as_mask(flags(model, x.clone(), y, fraction), n, count)
    model.train()
    again = _as_mask(flags(model, x.clone(), y, fraction), n, count)
    model.train()
    if not torch.equal(y, original_y):
        raise CheckFailed("it changed the labels it was given: the filter only reads the data.")
    flagged = int(first.sum())
    said = f"{n} records, fraction {fraction}: it flagged {flagged}"
    if flagged != count:
        if flagged == int(fraction * n):
            raise CheckFailed(
                f"{said} where {fraction} * {n} = {fraction * n:g} asks for {count}: the count was rounded "
                f"down, not to the nearest record."
            )
        if ties and flagged > count:
            raise CheckFailed(
                f"{said} where {fraction} * {n} asks for {count}: two records with the same loss sit at the "
                f"cut and both were flagged, one more than the fraction allows."
            )
        raise CheckFailed(f"{said}, where {fraction} * {n} = {fraction * n:g} rounds to {count}.")
    if not torch.equal(first, again):
        raise CheckFailed(
            "two calls on the same model and data flagged different records: the model was left in training "
            "mode, so dropout changed its outputs (and the losses) from one call to the next."
        )
    if _is_top(first, _losses(model, x, y), count):
        return count
    if _is_top(first, -_losses(model, x, y), count):
        raise CheckFailed(
            f"{said}, the records with the lowest loss: those are the ones the model fits best."
        )
    if _is_top(first, _losses(model, x, y, own=True), count):
        raise CheckFailed(
            f"{said} ranked by the loss against the model's own prediction, not against the label each "
            f"record carries: a flipped label never enters that loss."
        )
    if _is_top(first, _losses(model, x, y, twice=True), count):
        raise CheckFailed(
            f"{said} ranked by a cross-entropy of probabilities: the softmax was applied twice, which "
            f"squeezes every loss into a narrow band and reorders records near the cut."
        )
    if _is_top(first, _losses(model, x, y, dim=0), count):
        raise CheckFailed(
            f"{said} with the softmax taken along the wrong axis: each class's scores were normalised over "
            f"the records, not each record's scores over the classes."
        )
    losses = _losses(model, x, y)
    cut = losses.sort(descending=True).values[count - 1]
    outside = int((first & (losses < cut - 1e-6)).sum())
    raise CheckFailed(
        f"{said}, {outside} of them outside the {count} records with the highest loss under the model."
    )


@exercise(
    "04.loss_filter",
    title="loss filter: flag the records the model finds hardest to fit",
    hint="The filter ranks records by how badly the model fits the label each one carries, and flags a "
    "fixed share of them. The same model and data must always give the same flags. The message above "
    "says what differed.",
)
def _check_loss_filter(flags: Any) -> str:  # noqa: ANN401
    counts = [_case(flags, 40, 1, 0.2), _case(flags, 42, 2, 0.3), _case(flags, 42, 3, 0.3, ties=True)]
    counts += [_case(flags, 30, 4, 0.0), _case(flags, 30, 5, 1.0)]
    return (
        f"flagged the {counts[0]} of 40 records with the highest loss, the same every time, with ties and "
        f"rounding handled."
    )
