"""Plots used across notebooks: image grids, and curves with labelled axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


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

    images = images.detach().cpu()
    n = len(images)
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
