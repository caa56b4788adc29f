"""Device selection and seeding: explicit calls, never done on import."""

from __future__ import annotations

import random

import numpy as np
import torch

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
