"""Plots used across notebooks: image grids, and curves with labelled axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from labkit import validate as v


def image_grid(
    images: torch.Tensor,
    *,
    titles: Sequence[str] | None = None,
    columns: int = 10,
    size: float = 1.2,
    suptitle: str | None = None,
) -> Any:
    """Show N x 1 x H x W images in [0, 1] as a grid; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    v.tensor("images", images, ndim=4, floating=True, empty=True)  # an empty grid shows nothing
    columns = v.positive_int("columns", columns)
    size = v.positive_float("size", size)
    images = images.detach().cpu()
    n = len(images)
    if titles is not None and (isinstance(titles, str) or len(titles) != n):
        raise ValueError(f"titles must be a list of {n} strings, one per image, not {titles!r}.")
    rows = max(1, -(-n // columns))
    cols = min(columns, max(n, 1))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i].squeeze(0), cmap="gray", vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
