"""Security gates for CI: robustness requirements run as pytest files, and artifact scans as exit codes."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class RobustnessRequirement:
    """A measurable security requirement: "accuracy >= min_accuracy under attack at epsilon on n digits"."""

    id: str
    model: str
    epsilon: float
    min_accuracy: float
    attack: str = "pgd"
    steps: int = 20
    n: int = 200

    def __post_init__(self) -> None:
        from labkit import validate

        validate.text("id", self.id)
        validate.text("model", self.model)
        validate.text("attack", self.attack)
        try:
            validate.probability("min_accuracy", self.min_accuracy)
            validate.nonnegative_float("epsilon", self.epsilon)
            validate.positive_int("steps", self.steps)
            validate.positive_int("n", self.n)
        except (TypeError, ValueError) as error:
            rules = "min_accuracy is a fraction in [0, 1]; need epsilon >= 0, steps >= 1 and n >= 1"
            raise type(error)(f"{self.id}: {error} ({rules}).") from None

    def text(self) -> str:
        """The requirement as a sentence for a threat model or a test docstring."""
        return (
            f"{self.id}: {self.model} keeps accuracy >= {self.min_accuracy:.0%} under "
            f"{self.attack.upper()}-{self.steps} at L-inf epsilon {self.epsilon:g} on the first "
            f"{self.n} test digits."
        )


@dataclass(frozen=True)
class RequirementResult:
    """A requirement and the accuracy measured for it."""

    requirement: RobustnessRequirement
    accuracy: float

    @property
    def passed(self) -> bool:
        return self.accuracy >= self.requirement.min_accuracy

    def summary(self) -> str:
        """One line: PASS or FAIL, measured against required."""
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{verdict} {self.requirement.id}: {self.requirement.model} measured {self.accuracy:.1%}, "
            f"required >= {self.requirement.min_accuracy:.0%}"
        )


def evaluate_requirement(
    requirement: RobustnessRequirement,
    *,
    model: nn.Module | None = None,
    device: torch.device | None = None,
    progress: bool = False,
) -> RequirementResult:
    """Attack the first n test digits as the requirement says and measure the accuracy that is left.

    `model` defaults to the zoo model the requirement names (hash-checked on load).
    """
    import torch

    from labkit import validate
    from labkit.attacks.evasion import make_attack
    from labkit.attacks.robustness import robust_accuracy
    from labkit.data import load_digits
    from labkit.zoo.registry import load_model

    if not isinstance(requirement, RobustnessRequirement):
        raise TypeError(f"requirement must be a RobustnessRequirement, not {requirement!r}.")
    if model is not None:
        validate.module("model", model)
    if device is not None and not isinstance(device, torch.device):
        raise TypeError(f"device must be a torch.device such as torch.device('cpu'), not {device!r}.")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, not {progress!r}.")
    x, y = load_digits("test")
    if requirement.n > len(x):
        raise ValueError(f"{requirement.id}: n={requirement.n} but the test split holds {len(x)} digits.")
    x, y = x[: requirement.n], y[: requirement.n]
    model = model if model is not None else load_model(requirement.model, device=device)
    params = {} if requirement.attack == "fgsm" else {"steps": requirement.steps}
    attack = make_attack(requirement.attack, **params)
    accuracy = robust_accuracy(
        model, x, y, attack, epsilon=requirement.epsilon, device=device, progress=progress
    )
    return RequirementResult(requirement, accuracy)


@dataclass(frozen=True)
class GateRun:
    """The outcome of a CI step: exit code, items that passed and failed (tests or files), output."""

    returncode: int
    passed: int
    failed: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 12) -> str:
        """The last lines of the output (pytest's short summary lives there)."""
        return "\n".join(self.output.rstrip().splitlines()[-lines:])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GIT_PYTHON_REFRESH", "quiet")  # foolbox's GitPython, without git on PATH
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ beside the gate files
    return env


def _checked(path: Path | str, *, timeout: float, **flags: bool) -> Path:
    """`path` as a Path, after checking it, the timeout (seconds) and the True/False flags."""
    from labkit import validate

    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, not {value!r}.")
    validate.positive_float("timeout", timeout)
    return validate.path("path", path)


def _count(pattern: str, text: str) -> int:
    match = re.search(rf"(\d+) {pattern}", text)
    return int(match.group(1)) if match else 0


def gate_file(name: str, source: str, *, directory: Path | str | None = None) -> Path:
    """Write gate test source to `directory` (default: user_dir()/gates) as test_<name>.py; returns it."""
    from labkit import validate
    from labkit.paths import user_dir

    validate.text("name", name)
    validate.text("source", source, empty=True)
    if directory is not None:
        validate.path("directory", directory)
    if not re.fullmatch(r"\w+", name):
        raise ValueError(f"gate name {name!r} must be letters, digits and underscores (it names a file).")
    folder = Path(directory) if directory is not None else user_dir() / "gates"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"test_{name}.py"
    path.write_text(source, encoding="utf-8")
    return path


def run_pytest(path: Path | str, *, plugins: bool = False, timeout: float = 600.0) -> GateRun:
    """Run pytest on a test file or directory in a fresh Python process, as a CI job would.

    Exit code 0: every test passed; 1: a test failed; 5: no tests were collected (a gate that tests
    nothing is a failed gate, so `ok` is False). Installed pytest plugins are not loaded unless
    `plugins=True`: a gate needs none, and loading them all costs seconds per run.
    """
    path = _checked(path, plugins=plugins, timeout=timeout)
    if not path.exists():
        raise FileNotFoundError(
            f"No test file or directory at path {str(path)!r}; write the gate file first."
        )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "--no-header",
        "--color=no",
        "-p",
        "no:cacheprovider",
        str(path),
    ]
    env = _env()
    env["COLUMNS"] = "200"  # pytest cuts its short summary (the failed assertions) to the terminal width
    if not plugins:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=path.parent if path.is_file() else path,
        check=False,
    )
    output = done.stdout + done.stderr
    failed = _count("failed", output) + _count("errors?", output)
    return GateRun(done.returncode, _count("passed", output), failed, output)


# Runs in a fresh process: scans each file named on stdin (NUL-separated) by its content, whatever its
# name, and prints picklescan's findings, its summary and one labkit line counting the files looked at.
_PICKLESCAN = r"""
import logging, os, sys
from picklescan.cli import print_summary
from picklescan.scanner import ScanResult, scan_bytes
log = logging.getLogger("picklescan")
log.setLevel(logging.INFO)
log.addHandler(logging.StreamHandler(sys.stdout))
log.addFilter(lambda record: "could not parse" not in record.getMessage())  # not a pickle: no news
log.addFilter(lambda record: "parsing pickle" not in record.getMessage())  # said below, per file
strict = sys.argv[1] == "strict"
total, scanned, flagged, errors = ScanResult([]), 0, 0, 0
for path in filter(None, sys.stdin.buffer.read().decode("utf-8", "surrogateescape").split("\0")):
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:  # holds no pickle (and picklescan cannot seek it)
                scanned += 1
                continue
            numpy = handle.read(6) == b"\x93NUMPY"
            handle.seek(0)
            result = scan_bytes(handle, path, ".npy" if numpy else os.path.splitext(path)[1], strict=strict)
    except Exception as error:
        print(f"ERROR: could not scan {path}: {error}")
        errors += 1
        continue
    if result.scan_err:  # unpickling would stop at that opcode: what ran before it was checked above
        print(f"labkit: {path}: not a complete pickle; the opcodes before the unreadable one were checked")
        result.scan_err = False
    scanned += 1
    flagged += result.issues_count > 0
    total.merge(result)
print_summary(False, total)
print(f"labkit: files scanned by content: {scanned}; flagged: {flagged}; not scanned: {errors}")
sys.exit(2 if errors or total.scan_err else 1 if total.issues_count else 0)
"""


def _artifact_files(path: Path) -> tuple[list[Path], list[Path]]:
    """Every file under `path` (or `path` itself): (regular files to scan, entries that cannot be scanned)."""
    if not path.is_dir():
        candidates = [path]
    else:
        candidates = []
        for base, dirs, files in os.walk(path):  # symlinked folders land in dirs and are not followed
            candidates += [Path(base, d) for d in dirs if Path(base, d).is_symlink()]
            candidates += [Path(base, f) for f in files]
    regular: list[Path] = []
    other: list[Path] = []
    for candidate in sorted(candidates):
        try:
            is_regular = stat.S_ISREG(candidate.stat().st_mode)  # a FIFO or a device would hang the scan
        except OSError:  # a broken symlink
            is_regular = False
        (regular if is_regular else other).append(candidate)
    return regular, other


def run_picklescan(path: Path | str, *, strict: bool = False, timeout: float = 120.0) -> GateRun:
    """Scan a file or every file under a directory with picklescan (exit 0 clean, 1 dangerous, 2 error).

    The scanner reads the pickle opcodes without executing them; nothing is ever unpickled. Every file
    is scanned by its content, whatever its name (a pickle renamed to .safetensors or .txt is still a
    pickle), and the gate fails closed (exit 2) if it scanned no file or fewer files than are present.
    `passed` and `failed` count files. `strict` also fails on merely suspicious imports.
    """
    path = _checked(path, strict=strict, timeout=timeout)
    if not path.exists():
        raise FileNotFoundError(f"Nothing to scan at path {str(path)!r}.")
    regular, other = _artifact_files(path)
    command = [sys.executable, "-c", _PICKLESCAN, "strict" if strict else "default"]
    listing = "\0".join(str(p) for p in regular).encode("utf-8", "surrogateescape")
    done = subprocess.run(
        command, input=listing, capture_output=True, timeout=timeout, env=_env(), check=False
    )
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    counts = re.findall(r"^labkit: files scanned by content: (\d+); flagged: (\d+);", output, re.MULTILINE)
    scanned, flagged = (int(n) for n in counts[-1]) if counts else (0, 0)
    present = len(regular) + len(other)
    returncode = done.returncode
    problems = [f"labkit: cannot scan {p} (not a regular file)" for p in other]
    if scanned == 0 or scanned < present:
        seen = f"found no file under {path}" if not present else f"scanned {scanned} of {present} files"
        problems.append(f"labkit: FAIL: {seen}; a scan that did not look at every file proves nothing.")
        returncode = returncode or 2
    output = "\n".join([output.rstrip(), *problems]) if problems else output
    return GateRun(returncode, scanned - flagged, flagged + present - scanned, output)
