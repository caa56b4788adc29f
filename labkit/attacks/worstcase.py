"""Worst-case robust accuracy: the per-example minimum over an ensemble of attacks.

A single attack (say PGD-10) only gives an upper bound on robust accuracy: a digit it fails to
break may fall to a stronger or different attack. Here each digit counts as robust only if it is
read correctly and survives every attack of the ensemble: PGD with random restarts (each restart
attacks only the digits still standing), APGD with cross-entropy, APGD-T (targeted DLR), and the
score-based Square attack, which uses no gradients at all and so exposes gradient masking (a
model that only looks robust because its gradients are useless).

Threat model: white-box (weights and gradients) for PGD and APGD; score-based black-box (logits
only, a query budget) for Square. The perturbation stays within an L-inf or L2 ball of radius
epsilon, and the result within the [0, 1] pixel box.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from labkit import validate as v
from labkit.attacks.apgd import apgd, apgd_targeted
from labkit.attacks.evasion import check_images, frozen_parameters
from labkit.attacks.pgd import projected_gradient
from labkit.runtime import get_device, progress_bar


@dataclass(frozen=True)
class Ensemble:
    """The attacks and budgets of a worst-case evaluation (0 turns an attack off)."""

    name: str
    pgd_steps: int = 20
    pgd_restarts: int = 2
    apgd_steps: int = 50
    apgd_targets: int = 3
    square_queries: int = 300

    def __post_init__(self) -> None:
        v.text("name", self.name)
        for field in ("pgd_steps", "pgd_restarts", "apgd_steps", "apgd_targets", "square_queries"):
            v.nonnegative_int(field, getattr(self, field))

    def describe(self) -> str:
        """The ensemble in words, for tables and model cards."""
        return ", ".join(_labels(self).values())


PRESETS = {
    # fast enough for a notebook cell on a few hundred digits on CPU
    "quick": Ensemble("quick", pgd_steps=20, pgd_restarts=1, square_queries=100),
    # for published numbers (model cards, release gates)
    "strong": Ensemble(
        "strong", pgd_steps=100, pgd_restarts=3, apgd_steps=100, apgd_targets=3, square_queries=500
    ),
}


def _labels(e: Ensemble) -> dict[str, str]:
    labels = {}
    if e.pgd_steps and e.pgd_restarts:
        labels["pgd"] = f"PGD-{e.pgd_steps} x {e.pgd_restarts} restart" + "s" * (e.pgd_restarts > 1)
    if e.apgd_steps:
        labels["apgd-ce"] = f"APGD-CE-{e.apgd_steps}"
        if e.apgd_targets:
            labels["apgd-t"] = f"APGD-T-{e.apgd_steps} x {e.apgd_targets} targets"
    if e.square_queries:
        labels["square"] = f"Square-{e.square_queries} queries"
    return labels


@dataclass(frozen=True)
class WorstCase:
    """Robustness of a model on (x, y) at one epsilon, as the worst case over an ensemble.

    `robust[i]`: digit i is read correctly and survived every attack. `broken_by[i]`: "clean" if
    misread without attack, the label of the first attack that broke it, or "" if robust.
    `attack_accuracies`: the accuracy left after each attack in turn (cumulative: each attack
    only tries the digits the earlier ones left standing; the last one equals `robust_accuracy`)."""

    epsilon: float
    norm: str
    ensemble: str
    n: int
    clean_accuracy: float
    robust_accuracy: float
    robust: torch.Tensor
    broken_by: tuple[str, ...]
    attack_accuracies: Mapping[str, float]
    adversarials: torch.Tensor
    seconds: float

    def table(self) -> str:
        """A markdown table: clean accuracy, accuracy left after each attack, worst case."""
        rows = [f"| {self.norm} epsilon {self.epsilon:g}, {self.n} inputs | accuracy |", "|---|---|"]
        rows.append(f"| clean | {self.clean_accuracy:.1%} |")
        rows += [f"| after {name} | {acc:.1%} |" for name, acc in self.attack_accuracies.items()]
        rows.append(f"| **worst case** | **{self.robust_accuracy:.1%}** |")
        return "\n".join(rows)

    def summary(self) -> str:
        """One line: worst-case robust accuracy with its epsilon, size and ensemble."""
        return (
            f"worst-case robust accuracy {self.robust_accuracy:.1%} (clean {self.clean_accuracy:.1%}) "
            f"at {self.norm} epsilon {self.epsilon:g} on {self.n} inputs; ensemble {self.ensemble}"
        )


@contextmanager
def _evaluation(model: nn.Module) -> Iterator[None]:
    """Eval mode and frozen weights for the duration; the caller's modes are restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with frozen_parameters(model):
            yield
    finally:
        for m, mode in modes:
            m.train(mode)


def _placed(model: nn.Module, device: torch.device | None) -> tuple[nn.Module, torch.device]:
    """The model on `device` (default: where its weights are); a copy if it lives elsewhere."""
    first = next(iter(model.parameters()), None)
    here = first.device if first is not None else get_device()
    device = here if device is None else torch.device(device)
    return (model if device == here else copy.deepcopy(model).to(device)), device


def _square(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epsilon: float, norm: str, queries: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """torchattacks' Square attack (Andriushchenko et al. 2020), its global seeding kept local."""
    import torchattacks

    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        attack = torchattacks.Square(
            model, norm="Linf" if norm == "linf" else "L2", eps=epsilon, n_queries=queries, seed=seed
        )
        adv = attack(x, y)
    with torch.no_grad():
        return adv, model(adv).argmax(dim=1) != y


def worst_case_robustness(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    norm: str = "linf",
    ensemble: str | Ensemble = "quick",
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool = True,
    batch_size: int = 500,
) -> WorstCase:
    """Worst-case robust accuracy of `model` on (x, y) within the `norm` ball of radius `epsilon`:
    a digit is robust only if read correctly and no attack of `ensemble` ("quick", "strong", or an
    `Ensemble`) breaks it. Each attack (and each PGD restart) attacks only the digits still
    standing. Seeded by `seed`; runs on `device` (default: where the model's weights are) in
    batches of `batch_size`; the model's train/eval modes are restored afterwards."""
    v.module("model", model)
    check_images(x, y)
    v.choice("norm", norm, ("linf", "l2"))
    epsilon = v.nonnegative_float("epsilon", epsilon)
    seed = v.nonnegative_int("seed", seed)
    batch_size = v.positive_int("batch_size", batch_size)
    if isinstance(ensemble, str):
        v.choice("ensemble", ensemble, PRESETS)
        ensemble = PRESETS[ensemble]
    elif not isinstance(ensemble, Ensemble):
        raise TypeError(f"ensemble must be 'quick', 'strong' or an Ensemble, not {type(ensemble).__name__}.")
    labels = _labels(ensemble)
    model, device = _placed(model, device)
    started = time.perf_counter()
    x, y = x.detach().to(device), y.to(device)
    with _evaluation(model):
        v.model_labels("y", y, model=model, x=x)
        with torch.no_grad():
            wrong = torch.cat([model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
        wrong = wrong != y
        broken_by = torch.where(wrong, 0, -1)  # -1 robust so far, 0 clean, k: the k-th attack
        adversarials = x.clone()
        generator = torch.Generator(device=device).manual_seed(seed)
        runs = _runs(ensemble, epsilon=epsilon, norm=norm, generator=generator, seed=seed) if epsilon else []
        accuracies = {label: float((~wrong).float().mean()) for label in labels.values()}
        bar = progress_bar(total=len(runs), desc="worst case", enabled=progress, leave=False)
        for key, attack in runs:
            alive = (broken_by < 0).nonzero()[:, 0]  # one host sync per run: who is still standing
            for chunk in alive.split(batch_size) if len(alive) else ():
                adv, hit = attack(model, x[chunk], y[chunk])
                fell = chunk[hit]
                adversarials[fell] = adv[hit]
                broken_by[fell] = _index(labels, key)
            accuracies[labels[key]] = float((broken_by < 0).float().mean())
            bar.update(1)
        bar.close()
    names = ("", "clean", *labels.values())
    return WorstCase(
        epsilon=epsilon,
        norm=norm,
        ensemble=f"{ensemble.name}: {ensemble.describe()}",
        n=len(x),
        clean_accuracy=float((~wrong).float().mean()),
        robust_accuracy=float((broken_by < 0).float().mean()),
        robust=(broken_by < 0).cpu(),
        broken_by=tuple(names[int(k) + 1] for k in broken_by.cpu()),
        attack_accuracies=accuracies,
        adversarials=adversarials.cpu(),
        seconds=time.perf_counter() - started,
    )


def _index(labels: dict[str, str], key: str) -> int:
    return list(labels).index(key) + 1


Run = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _runs(
    e: Ensemble, *, epsilon: float, norm: str, generator: torch.Generator, seed: int
) -> list[tuple[str, Run]]:
    """The ensemble as a list of (attack key, run); PGD contributes one run per restart."""

    def pgd(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        adv = projected_gradient(
            model, xb, yb, epsilon=epsilon, steps=e.pgd_steps, norm=norm, generator=generator
        )
        with torch.no_grad():
            return adv, model(adv).argmax(dim=1) != yb

    def ce(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return apgd(model, xb, yb, epsilon=epsilon, norm=norm, steps=e.apgd_steps, generator=generator)

    def targeted(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return apgd_targeted(
            model, xb, yb, epsilon=epsilon, norm=norm, steps=e.apgd_steps, targets=e.apgd_targets,
            generator=generator,
        )  # fmt: skip

    def square(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _square(model, xb, yb, epsilon=epsilon, norm=norm, queries=e.square_queries, seed=seed)

    runs: list[tuple[str, Run]] = []
    if e.pgd_steps and e.pgd_restarts:
        runs += [("pgd", pgd)] * e.pgd_restarts
    if e.apgd_steps:
        runs.append(("apgd-ce", ce))
        if e.apgd_targets:
            runs.append(("apgd-t", targeted))
    if e.square_queries:
        runs.append(("square", square))
    return runs
