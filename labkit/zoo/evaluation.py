"""Robustness numbers for the zoo's model cards: worst-case robust accuracy over an attack ensemble
(`labkit.attacks.worstcase`), next to PGD-10 so the card shows how much a weak attack overstates."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from typing import Any

import torch

from labkit import validate
from labkit.attacks.pgd import projected_gradient
from labkit.attacks.worstcase import PRESETS, worst_case_robustness
from labkit.data import load_digits
from labkit.integrity import sha256_file, verify, write_manifest_entry
from labkit.paths import datasets_dir
from labkit.runtime import progress_bar
from labkit.zoo.registry import SPECS, _files, _spec, load_model, model_card

EPSILONS = (0.1, 0.2, 0.3)


def pgd10_accuracy(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    seed: int = 0,
    batch_size: int = 500,
) -> float:
    """Accuracy under one run of L-inf PGD-10 (random start, step 2.5 * epsilon / 10), seeded: the
    weak attack a card shows next to the worst case."""
    validate.module("model", model)
    epsilon = validate.nonnegative_float("epsilon", epsilon)
    batch_size = validate.positive_int("batch_size", batch_size)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(validate.nonnegative_int("seed", seed))
    correct = torch.zeros((), device=device)
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size].to(device), y[i : i + batch_size].to(device)
        adv = projected_gradient(model.eval(), xb, yb, epsilon=epsilon, steps=10, generator=generator)
        with torch.no_grad():
            correct += (model(adv).argmax(dim=1) == yb).sum()
    return float(correct) / len(x)


def evaluate_zoo_model(
    name: str,
    *,
    epsilons: Sequence[float] = EPSILONS,
    digits: int = 1000,
    ensemble: str = "strong",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Measure a digits zoo model's worst-case robust accuracy (and PGD-10's) on the first `digits`
    test digits at each L-inf epsilon, write it into the model card as "robustness" and pin the card
    in the manifest (re-signed when the maintainer key is here). Returns the robustness entry."""
    spec = _spec(name)
    if spec.architecture != "DigitsCNN":
        raise ValueError(f"name must be a digits model ({', '.join(_digit_models())}), not {name!r}.")
    values = validate.numbers_list("epsilons", epsilons, low=0.0)
    digits = validate.positive_int("digits", digits, high=1000)
    validate.choice("ensemble", ensemble, PRESETS)
    seed = validate.nonnegative_int("seed", seed)
    model = load_model(name)
    x, y = load_digits("test")
    x, y = x[:digits], y[:digits]
    entry: dict[str, Any] = {}
    for epsilon in progress_bar(values, desc=f"{name}: epsilons", enabled=progress):
        worst = worst_case_robustness(
            model, x, y, epsilon=epsilon, ensemble=ensemble, seed=seed, progress=progress
        )
        row = {
            "worst_case": round(worst.robust_accuracy, 4),
            "pgd10": round(pgd10_accuracy(model, x, y, epsilon=epsilon, seed=seed), 4),
            "after_each_attack": {k: round(a, 4) for k, a in worst.attack_accuracies.items()},
            "seconds": round(worst.seconds),
        }
        entry = _record(name, f"{epsilon:g}", row, worst.ensemble, worst.clean_accuracy, digits, seed)
    return entry


def _record(
    name: str, epsilon: str, row: dict[str, Any], ensemble: str, clean: float, digits: int, seed: int
) -> dict[str, Any]:
    """Add one epsilon's row to the card's robustness entry (written after each epsilon, so that runs
    for different epsilons may go in parallel; an entry for another ensemble, size or seed is replaced)."""
    import fcntl
    import tempfile
    from pathlib import Path

    with open(Path(tempfile.gettempdir()) / f"labkit-card-{name}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        card = model_card(name)
        entry = card.get("robustness") or {}
        same = (entry.get("ensemble"), entry.get("test_digits"), entry.get("seed")) == (
            ensemble,
            digits,
            seed,
        )
        rows = dict(entry.get("epsilons", {})) if same else {}
        rows[epsilon] = row
        entry = {
            "metric": "worst-case robust accuracy: a digit counts only if no attack of the ensemble "
            "breaks it",
            "threat_model": "white-box L-inf (plus score-based Square as a gradient-masking check)",
            "ensemble": ensemble,
            "test_digits": digits,
            "seed": seed,
            "clean_accuracy": round(clean, 4),
            "epsilons": dict(sorted(rows.items(), key=lambda item: float(item[0]))),
            "command": f"labkit zoo evaluate {name}" + ("" if digits == 1000 else f" --digits {digits}"),
            "evaluated_with": {
                "torch": torch.__version__,
                "python": platform.python_version(),
                "threads": torch.get_num_threads(),
            },
        }
        _write_card(name, {**card, "robustness": entry})
    return entry


def _digit_models() -> list[str]:
    return [n for n, s in SPECS.items() if s.architecture == "DigitsCNN"]


def _write_card(name: str, card: dict[str, Any]) -> None:
    root = datasets_dir()
    _, meta_file = _files(name)
    verify(meta_file, root)  # never rewrite a card that does not match the manifest
    (root / meta_file).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    write_manifest_entry(meta_file, sha256_file(root / meta_file), root)


def robustness_table(name: str) -> str:
    """The robustness section of a zoo model's card as a markdown table (PGD-10 against worst case)."""
    card = model_card(name)
    entry = card.get("robustness")
    if not entry:
        return f"{name}: no robustness measured yet (run `labkit zoo evaluate {name}`)."
    rows = [
        f"{name}: {entry['test_digits']} test digits, clean {entry['clean_accuracy']:.1%}; "
        f"ensemble {entry['ensemble']}",
        "",
        "| L-inf epsilon | PGD-10 | worst case |",
        "|---|---|---|",
    ]
    rows += [f"| {e} | {r['pgd10']:.1%} | {r['worst_case']:.1%} |" for e, r in entry["epsilons"].items()]
    return "\n".join(rows)
