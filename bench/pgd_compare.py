"""PGD, timed: labkit's `projected_gradient` against a hand-written torch loop (the ceiling), foolbox,
torchattacks and (only when installed) ART, on the same model, digits, epsilon, steps and step size.

Each variant runs once to warm up, then `repeats` times in rotating order (so background load falls
on every variant alike); min/median/max of wall time and of process CPU time are reported, and each
variant's ratio to the hand loop in the same run. Same adversarial examples: labkit and the hand loop
share the random start (same generator); the libraries draw their own, so their examples are compared
with the hand loop in one extra run without random start.
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
Attack = Callable[[bool], torch.Tensor]  # random_start -> adversarial batch


def hand_loop(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    steps: int,
    size: float,
    random_start: bool,
    generator: torch.Generator,
) -> torch.Tensor:
    """L-inf PGD written directly in torch: kept hand-written on purpose (the baseline must not share
    labkit's code). Same arithmetic as labkit's default step and projection."""
    adv = x.clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        adv = (x + (2 * epsilon * noise - epsilon)).clamp(0.0, 1.0)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = nn.functional.cross_entropy(model(adv), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, adv)
        adv = adv.detach() + size * grad.sign()
        adv = (x + (adv - x).clamp(-epsilon, epsilon)).clamp(0.0, 1.0)
    return adv.detach()


def _labkit_at(revision: str) -> Callable[..., torch.Tensor]:
    """`projected_gradient` as it was at a git revision (for before/after in one run)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:labkit/attacks/pgd.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="labkit-bench-")) / "pgd_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("pgd_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.projected_gradient  # type: ignore[no-any-return]


def variants(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    steps: int,
    before: str | None,
) -> dict[str, Attack]:
    from labkit.attacks.pgd import projected_gradient

    size = 2.5 * epsilon / steps
    found: dict[str, Attack] = {
        "hand loop": lambda rs: hand_loop(
            model,
            x,
            y,
            epsilon=epsilon,
            steps=steps,
            size=size,
            random_start=rs,
            generator=torch.Generator(x.device).manual_seed(0),
        ),
        "labkit": lambda rs: projected_gradient(
            model,
            x,
            y,
            epsilon=epsilon,
            steps=steps,
            random_start=rs,
            generator=torch.Generator(x.device).manual_seed(0),
        ),
    }
    if before:
        old = _labkit_at(before)
        found[f"labkit @{before}"] = lambda rs: old(
            model,
            x,
            y,
            epsilon=epsilon,
            steps=steps,
            random_start=rs,
            generator=torch.Generator(x.device).manual_seed(0),
        )
    from labkit.attacks.evasion import foolbox

    fb = foolbox()
    fmodel = fb.PyTorchModel(model, bounds=(0.0, 1.0), device=x.device)

    def foolbox_pgd(rs: bool) -> torch.Tensor:
        attack = fb.attacks.LinfPGD(abs_stepsize=size, steps=steps, random_start=rs)
        return attack.run(fmodel, x, y, epsilon=epsilon)

    found["foolbox"] = foolbox_pgd
    if importlib.util.find_spec("torchattacks") is not None:
        import torchattacks

        def torchattacks_pgd(rs: bool) -> torch.Tensor:
            return torchattacks.PGD(model, eps=epsilon, alpha=size, steps=steps, random_start=rs)(x, y)

        found["torchattacks"] = torchattacks_pgd
    if importlib.util.find_spec("art") is not None:  # not installed by the course (heavy)
        from art.attacks.evasion import ProjectedGradientDescent
        from art.estimators.classification import PyTorchClassifier

        classifier = PyTorchClassifier(
            model,
            loss=nn.CrossEntropyLoss(),
            input_shape=tuple(x.shape[1:]),
            nb_classes=10,
            clip_values=(0.0, 1.0),
            device_type="gpu" if x.device.type == "cuda" else "cpu",
        )

        def art_pgd(rs: bool) -> torch.Tensor:
            attack = ProjectedGradientDescent(
                classifier,
                eps=epsilon,
                eps_step=size,
                max_iter=steps,
                num_random_init=int(rs),
                batch_size=len(x),
                verbose=False,
            )
            return torch.as_tensor(attack.generate(x.cpu().numpy(), y.cpu().numpy()))

        found["ART"] = art_pgd
    return found


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class PgdResult:
    device: str
    images: int
    steps: int
    epsilon: float
    repeats: int
    timings: dict[str, Timing]
    same_as_hand: dict[str, str]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_pgd(
    device: torch.device,
    *,
    images: int,
    steps: int,
    epsilon: float,
    repeats: int,
    before: str | None,
    log: Callable[[str], None],
) -> PgdResult:
    from labkit.data import load_digits
    from labkit.zoo.registry import load_model

    model = load_model("digits_cnn", device=device).eval()
    x, y = load_digits("test")
    x, y = x[:images].to(device), y[:images].to(device)
    runs = variants(model, x, y, epsilon=epsilon, steps=steps, before=before)
    reference = runs["hand loop"](True), runs["hand loop"](False)
    same: dict[str, str] = {}
    for name, run in runs.items():  # warm-up, and the equality checks
        if name == "hand loop":
            continue
        shared_start = name.startswith("labkit")
        adv = run(shared_start).to(device)
        expected = reference[0] if shared_start else reference[1]
        equal = (adv == expected).all(dim=tuple(range(1, adv.ndim))).float().mean().item()
        note = "same random start" if shared_start else "no random start"
        same[name] = f"{equal:.1%} of images identical ({note})"
    timings = {name: Timing() for name in runs}
    names = list(runs)
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate who goes first
        for name in order:
            _sync(device)
            wall, cpu = time.perf_counter(), time.process_time()
            runs[name](True)
            _sync(device)
            timings[name].wall.append(time.perf_counter() - wall)
            timings[name].cpu.append(time.process_time() - cpu)
        log(f"  repeat {r + 1}/{repeats} on {device}")
    return PgdResult(str(device), images, steps, epsilon, repeats, timings, same)


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def pgd_table(results: list[PgdResult]) -> list[str]:
    rows: list[str] = []
    for res in results:
        hand = res.timings["hand loop"]
        rows += [
            f"**{res.device}**: digits_cnn, L-inf PGD-{res.steps}, epsilon {res.epsilon}, step 2.5 * "
            f"epsilon / steps, random start, one batch of {res.images} test digits, {res.repeats} "
            "interleaved repeats. Times in seconds as min / median / max; ratio = variant / hand loop "
            "(median of the per-repeat ratios, and min / max of them).",
            "",
            "| variant | wall (s) | CPU (s) | wall ratio to hand loop | CPU ratio to hand loop | "
            "same adversarial examples as the hand loop |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for name, t in res.timings.items():
            wall = [a / b for a, b in zip(t.wall, hand.wall, strict=True)]
            cpu = [a / b for a, b in zip(t.cpu, hand.cpu, strict=True)]
            ratio_wall = f"{statistics.median(wall):.3f}x ({min(wall):.2f}-{max(wall):.2f})"
            ratio_cpu = f"{statistics.median(cpu):.3f}x ({min(cpu):.2f}-{max(cpu):.2f})"
            rows.append(
                f"| {name} | {_spread(t.wall)} | {_spread(t.cpu)} | {ratio_wall} | {ratio_cpu} | "
                f"{res.same_as_hand.get(name, '(reference)')} |"
            )
        rows.append("")
    return rows


if __name__ == "__main__":
    sys.exit("run bench/run.py")
