"""Device selection, seeding, torch's thread count and the quick mode: explicit calls, never done on
import."""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from labkit import validate as v

T = TypeVar("T")


def get_device(prefer: str | None = None) -> torch.device:
    """The best available device: CUDA, then Apple MPS, then CPU (or `prefer` if given)."""
    if prefer is not None:
        v.text("prefer", prefer)
        try:
            return torch.device(prefer)
        except RuntimeError:
            raise ValueError(
                f"prefer must name a torch device such as 'cpu' or 'cuda:0', not {prefer!r}."
            ) from None
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; returns a torch Generator seeded the same way."""
    seed = v.integer("seed", seed, low=0, high=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


# --- threads and quick mode: read from the environment when asked, applied only when asked ------

THREADS_ENV = "LABKIT_THREADS"
QUICK_ENV = "LABKIT_QUICK"
MAX_DEFAULT_THREADS = 4  # small CNNs: more threads than this buy little and contend for the cores


@dataclass(frozen=True)
class ThreadChoice:
    """How many threads torch should use, and why (`labkit doctor` prints both)."""

    threads: int
    reason: str


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads counted once), at least 1."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    pairs: set[tuple[str, str]] = set()
    try:
        package = core = ""
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "physical id":
                package = value.strip()
            elif key.strip() == "core id":
                core = value.strip()
                pairs.add((package, core))
    except OSError:
        pass
    return max(1, min(allowed, len(pairs) or allowed))


def choose_threads(threads: int | None = None) -> ThreadChoice:
    """The thread count for torch: `threads` if given, else $LABKIT_THREADS, else min(physical
    cores, 4), or 1 when the machine is already busy (1-minute load average at least the core count:
    measured on the course's 2-core machine under load, two threads ran slower than one)."""
    if threads is not None:
        return ThreadChoice(v.positive_int("threads", threads), "set by the caller")
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        try:
            return ThreadChoice(v.positive_int(THREADS_ENV, int(env)), f"{THREADS_ENV}={env}")
        except ValueError:
            raise ValueError(
                f"{THREADS_ENV} must be a whole number of threads >= 1 (or unset), not {env!r}."
            ) from None
    cores = physical_cores()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if cores > 1 and load >= cores:
        return ThreadChoice(
            1, f"{cores} cores, load average {load:.1f}: busy, so one thread ({THREADS_ENV} overrides)"
        )
    chosen = min(cores, MAX_DEFAULT_THREADS)
    return ThreadChoice(chosen, f"min({cores} physical cores, {MAX_DEFAULT_THREADS}), load {load:.1f}")


def configure_threads(threads: int | None = None) -> ThreadChoice:
    """Apply `choose_threads(threads)` to torch (intra-op threads) and return the choice. Call it
    explicitly (a notebook's first cell, a script's main): importing labkit changes nothing."""
    choice = choose_threads(threads)
    torch.set_num_threads(choice.threads)
    return choice


def quick_mode() -> bool:
    """True when LABKIT_QUICK=1: notebooks then use fewer samples and epochs (stubbed-lab tests,
    browser runs), for runs whose purpose is not the published numbers."""
    return os.environ.get(QUICK_ENV, "").strip() == "1"


# --- borrowing a caller's model ------------------------------------------------------------------


def model_device(model: nn.Module) -> torch.device | None:
    """The device of a model's first parameter or buffer (None for a model with neither)."""
    v.module("model", model)
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return None


@contextmanager
def borrowed(
    model: nn.Module, *, device: torch.device | None = None, freeze: bool = True
) -> Iterator[nn.Module]:
    """Use a caller's model for a while: in eval mode, on `device` (default: where it is), with its
    weights' requires_grad off when `freeze` (input gradients only). Afterwards, even on error, every
    submodule's train/eval mode, the model's device and each weight's requires_grad are as before.
    Every labkit attack that is given a model uses it through this, so none changes the model."""
    v.module("model", model)
    modes = [(m, m.training) for m in model.modules()]
    home = model_device(model)
    flags = [(p, p.requires_grad) for p in model.parameters()]
    moved = device is not None and home is not None and torch.device(device) != home
    try:
        if moved:
            model.to(device)
        model.eval()
        if freeze:
            for p, _ in flags:
                p.requires_grad_(False)
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        for m, mode in modes:
            m.training = mode
        if moved:
            model.to(home)


# --- progress bars that leave text, not widgets, behind ------------------------------------------


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where tqdm.auto would draw an ipywidgets bar)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the course
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def _summary(bar: Any) -> str:
    """One line for a finished (or stopped) bar: what it counted, how far, how long."""
    from tqdm import tqdm as plain

    d = bar.format_dict
    done = f"{d['n']}/{d['total']}" if d["total"] else str(d["n"])
    head = f"{d['prefix']}: " if d["prefix"] else ""
    if d["total"] and d["n"] < d["total"]:
        return f"{head}stopped at {done} after {plain.format_interval(d['elapsed'])}"
    return f"{head}{done} in {plain.format_interval(d['elapsed'])}"


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    enabled: bool = True,
    leave: bool = True,
) -> Any:
    """A tqdm progress bar: an ipywidgets bar in a notebook, text elsewhere. In a notebook the finished
    bar is replaced by one line of text ("desc: 30/30 in 00:12"), so a saved notebook holds no widget
    output whose model died with the kernel ("Error displaying widget: model not found" on reopening).
    `leave=False` removes the bar's line entirely when it finishes (inner loops)."""
    if total is not None:
        total = v.nonnegative_int("total", total)
    v.text("desc", desc, empty=True)
    for name, flag in (("enabled", enabled), ("leave", leave)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, not {flag!r}.")
    if not enabled or not _in_kernel():
        from tqdm import tqdm as plain

        return plain(iterable, total=total, desc=desc or None, disable=not enabled, leave=leave)
    return _kernel_bar()(iterable, total=total, desc=desc or None, leave=leave)


def _kernel_bar() -> type:
    """tqdm's notebook bar, displayed through a display handle it replaces with text when it closes."""
    from IPython.display import display
    from tqdm.notebook import tqdm as notebook_bar

    class KernelBar(notebook_bar):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, display=False, **kwargs)
            self._handle = display(self.container, display_id=True)

        def close(self) -> None:
            if self.disable:  # closed already (tqdm closes again on garbage collection)
                return
            keep = self.leave or (self.total and self.n < self.total)
            super().close()
            text = _summary(self) if keep else ""
            self._handle.update({"text/plain": text}, raw=True)
            self.container.close()

    return KernelBar
