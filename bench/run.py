"""The course benchmark: how long each solution notebook takes on this machine, and how labkit's
batched PGD evaluation (foolbox underneath) compares with a hand-written torch PGD loop of equal
strength (same model, data, epsilon, steps, step size, random start, batch size and device).

    .venv/bin/python bench/run.py                 # everything (notebooks, CPU, and GPU if present)
    .venv/bin/python bench/run.py --quick         # fewer images and repeats
    .venv/bin/python bench/run.py --no-notebooks  # only the PGD comparison
    .venv/bin/python bench/run.py --only 09       # only notebooks whose name contains "09"

Writes bench/results/benchmark.md (gitignored) and prints the same tables. Timings are wall-clock
medians over repeats, taken in alternation so that background load affects every variant alike;
the load average is recorded next to them because a busy machine inflates every number.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # foolbox imports GitPython

import torch  # noqa: E402
from torch import nn  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "benchmark.md"


# --- solution notebooks -----------------------------------------------------------------------


@dataclass(frozen=True)
class NotebookTiming:
    name: str
    seconds: float
    status: str


def time_notebook(path: Path, *, timeout: int) -> NotebookTiming:
    """Execute one notebook top to bottom in a fresh kernel; LABKIT_HOME is a throwaway directory."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="labkit-bench-") as home:
        saved = {k: os.environ.get(k) for k in ("LABKIT_HOME", "LABKIT_STRICT_CHECKS", "MPLBACKEND")}
        os.environ.update(LABKIT_HOME=home, LABKIT_STRICT_CHECKS="1", MPLBACKEND="Agg")
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        start = time.perf_counter()
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as error:
            status = f"failed: {error.ename}"
        except CellTimeoutError:
            status = f"timed out after {timeout} s"
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        seconds = time.perf_counter() - start
    return NotebookTiming(path.name, seconds, status)


# --- PGD: labkit (foolbox) against a hand-written loop ------------------------------------------


def torch_pgd_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    steps: int,
    step_size: float,
    batch_size: int,
    device: torch.device,
) -> float:
    """L-inf PGD with a uniform random start, written directly in torch; accuracy under attack.

    Deliberately hand-written, not labkit's `projected_gradient`: this is the baseline that labkit's
    attack path is timed against, so it must not share labkit's code."""
    correct = 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size].to(device), y[i : i + batch_size].to(device)
        adv = (xb + torch.empty_like(xb).uniform_(-epsilon, epsilon)).clamp(0.0, 1.0)
        for _ in range(steps):
            adv.requires_grad_(True)
            loss = nn.functional.cross_entropy(model(adv), yb, reduction="sum")
            (grad,) = torch.autograd.grad(loss, adv)
            adv = adv.detach() + step_size * grad.sign()
            adv = torch.min(torch.max(adv, xb - epsilon), xb + epsilon).clamp(0.0, 1.0)
        with torch.no_grad():
            correct += int((model(adv).argmax(dim=1) == yb).sum())
    return correct / len(x)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class PgdTiming:
    device: str
    images: int
    medians: dict[str, float]
    accuracies: dict[str, float]
    repeats: int


def time_pgd(device: torch.device, *, images: int, steps: int, epsilon: float, repeats: int) -> PgdTiming:
    """Median wall time of each PGD variant on `device` (one warm-up run each, then alternating)."""
    from labkit.attacks.evasion import make_attack
    from labkit.attacks.robustness import robust_accuracy
    from labkit.data import load_digits
    from labkit.zoo.registry import load_model

    model = load_model("digits_cnn", device=device)
    x, y = load_digits("test")
    x, y = x[:images], y[:images]
    step_size = 2.5 * epsilon / steps  # labkit's make_attack("pgd") default (rel_stepsize 2.5 / steps)
    attack = make_attack("pgd", steps=steps)

    def labkit_pgd() -> float:
        return robust_accuracy(
            model, x, y, attack, epsilon=epsilon, batch_size=images, device=device, progress=False
        )

    def torch_loop() -> float:
        return torch_pgd_accuracy(
            model, x, y, epsilon=epsilon, steps=steps, step_size=step_size, batch_size=images, device=device
        )

    variants: dict[str, Callable[[], float]] = {
        "labkit": labkit_pgd,
        "torch loop": torch_loop,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    accuracies: dict[str, float] = {}
    for name, run in variants.items():  # warm-up (allocator, kernels, imports)
        accuracies[name] = run()
    for _ in range(repeats):
        for name, run in variants.items():
            _sync(device)
            start = time.perf_counter()
            run()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return PgdTiming(str(device), images, medians, accuracies, repeats)


# --- report -------------------------------------------------------------------------------------


def _machine() -> list[str]:
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return [
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}, GPU: {cuda}",
        f"- load average (1, 5, 15 min) at the end: {load}",
    ]


def notebook_table(timings: list[NotebookTiming]) -> list[str]:
    rows = ["| notebook | wall time (s) | status |", "|---|---:|---|"]
    rows += [f"| {t.name} | {t.seconds:.1f} | {t.status} |" for t in timings]
    if timings:
        rows.append(f"| **total** | {sum(t.seconds for t in timings):.1f} | |")
    return rows


def pgd_table(timings: list[PgdTiming], *, steps: int, epsilon: float) -> list[str]:
    rows = [
        f"digits_cnn, L-inf PGD-{steps}, epsilon {epsilon}, step size 2.5 * epsilon / steps, random "
        "start, one batch of all images; median of the repeats (seconds).",
        "",
        "| device | images | repeats | labkit | torch loop | ratio | accuracy under attack (labkit / loop) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for t in timings:
        m, a = t.medians, t.accuracies
        rows.append(
            f"| {t.device} | {t.images} | {t.repeats} | {m['labkit']:.3f} | {m['torch loop']:.3f} | "
            f"{m['labkit'] / m['torch loop']:.2f}x | {a['labkit']:.1%} / {a['torch loop']:.1%} |"
        )
    rows += [
        "",
        "labkit runs foolbox's PGD in batches with the model's weights frozen (input gradients only); "
        "the loop is plain torch with torch.autograd.grad on the input. Equal accuracies under attack "
        "show the two attacks have equal strength.",
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time the solution notebooks and labkit's PGD against a hand-written loop."
    )
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats")
    parser.add_argument(
        "--notebooks",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="execute every solutions/*.ipynb and time it (default: yes)",
    )
    parser.add_argument(
        "--only", default="", metavar="TEXT", help="time only the notebooks whose file name contains TEXT"
    )
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats (default 5, quick 3)")
    parser.add_argument("--timeout", type=int, default=900, help="per-cell timeout for notebooks (s)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    images, steps, epsilon = (200 if args.quick else 500), 20, 0.1

    lines = ["# labkit benchmark", "", *_machine(), ""]
    notebooks: list[NotebookTiming] = []
    if args.notebooks:
        paths = [p for p in sorted((ROOT / "solutions").glob("*.ipynb")) if args.only in p.name]
        for path in paths:
            print(f"running {path.name} ...", file=sys.stderr, flush=True)
            notebooks.append(time_notebook(path, timeout=args.timeout))
        lines += [
            "## Solution notebooks (fresh kernel each, LABKIT_HOME in a temporary directory)",
            "",
            *notebook_table(notebooks),
            "",
        ]

    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    pgd = []
    for device in devices:
        print(f"timing PGD on {device} ...", file=sys.stderr, flush=True)
        pgd.append(time_pgd(device, images=images, steps=steps, epsilon=epsilon, repeats=repeats))
    lines += [
        "## Batched PGD: labkit (foolbox) vs a hand-written torch loop",
        "",
        *pgd_table(pgd, steps=steps, epsilon=epsilon),
        "",
    ]

    lines[4] = _machine()[2]  # load average after the work, not before
    text = "\n".join(lines)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    failed = [t for t in notebooks if t.status != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
