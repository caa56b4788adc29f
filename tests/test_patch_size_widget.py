"""labkit.widgets.patch_size: the module 07 patch-size slider, driven from Python."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from labkit.widgets import patch_size_explorer, patch_size_points, render_patch_sizes  # noqa: E402


def _setting():
    """A linear model on 12 x 12 images whose class 3 is read wherever the image is bright, digits of
    other classes, and a white and a black patch of two sizes (white pushes to 3, black does not)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(144, 10)).eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.arange(10, dtype=torch.float) * 0.01)  # class 9 on a black image
        model[1].weight[3] = 0.2  # class 3 scores the total brightness, beyond a threshold
        model[1].bias[3] = -2.0
    x = torch.rand(40, 1, 12, 12) * 0.05
    y = torch.full((40,), 9)
    y[:4] = 3
    patches = {2: torch.ones(1, 2, 2), 8: torch.ones(1, 8, 8)}
    return model, x, y, patches


def test_points_measure_each_size_and_keep_the_same_digits():
    model, x, y, patches = _setting()
    points = patch_size_points(model, x, y, patches, target=3, placements=2, examples=6)
    assert [p.x for p in points] == [2.0, 8.0]
    assert points[0].label == "2x2 (3% of the image)"
    small, large = (p.values["trained patch"] for p in points)
    assert small == 0.0 and large == 1.0  # 64 bright pixels clear class 3's threshold; 4 do not
    (images_small, read_small, _), (images_large, read_large, _) = points[0].extra, points[1].extra
    assert len(images_small) == 6 and read_small == [9] * 6 and read_large == [3] * 6
    assert int((images_small == 1).sum()) == 6 * 4 and int((images_large == 1).sum()) == 6 * 64


def test_slider_changes_what_the_explorer_shows():
    model, x, y, patches = _setting()
    points = patch_size_points(model, x, y, patches, target=3, placements=2, examples=6)
    explorer = patch_size_explorer(points, selected=0)
    assert explorer.status.value.startswith("2x2") and "trained patch 0.0%" in explorer.status.value
    explorer.slider.value = 1
    assert explorer.point.label.startswith("8x8") and "trained patch 100.0%" in explorer.status.value
    shown = []
    for selected in (0, 1):
        fig = render_patch_sizes(points, selected=selected)
        shown.append(fig.axes[1].images[0].get_array().copy())
        assert fig.axes[1].texts[0].get_text() == ("read 9" if selected == 0 else "read 3")
        plt.close(fig)
    assert (shown[1] == 1).sum() > (shown[0] == 1).sum()  # the bigger sticker covers more of each digit


def test_patches_must_match_their_size():
    model, x, y, _ = _setting()
    with pytest.raises(ValueError, match=r"patches\[4\] must be 4 x 4"):
        patch_size_points(model, x, y, {4: torch.ones(1, 3, 3)}, target=3)
