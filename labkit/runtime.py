"""Device selection, seeding, torch's thread count and the quick mode: explicit calls, never done on
import."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from labkit import validate as v


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
