"""labkit.widgets.review_queue: module 00's review-queue threshold, driven from Python."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from labkit.checks.m00_orientation import reference_triage  # noqa: E402
from labkit.widgets import QueuePoint, render_review_queue, review_curve, review_queue_explorer  # noqa: E402


def _logits_and_labels() -> tuple[torch.Tensor, torch.Tensor]:
    # four cheques: sure and right, sure and wrong, unsure and right, unsure and wrong
    logits = torch.tensor(
        [
            [9.0, 0.0, 0.0],  # reads 0 at p ~ 1.0, label 0
            [0.0, 9.0, 0.0],  # reads 1 at p ~ 1.0, label 2: confidently wrong
            [1.0, 0.0, 0.0],  # reads 0 at p ~ 0.58, label 0
            [0.0, 0.0, 1.0],  # reads 2 at p ~ 0.58, label 1
        ]
    )
    return logits, torch.tensor([0, 2, 0, 1])


def test_the_curve_counts_the_queue_and_the_mistakes_it_misses():
    logits, labels = _logits_and_labels()
    low, high = review_curve(
        logits, labels, thresholds=[0.9, 0.5], triage=reference_triage
    )  # sorted by threshold
    assert (low.threshold, low.reviewed, low.wrong, low.slipped) == (0.5, 0, 2, 2)
    assert (high.threshold, high.reviewed, high.wrong, high.slipped) == (0.9, 2, 2, 1)
    assert "2 of 4 cheques (50.0%) go to a person; 1 of 2 wrong readings slip through" in high.summary()


def test_the_curve_uses_the_triage_it_is_given():
    logits, labels = _logits_and_labels()

    def everything_to_a_person(logits, threshold):
        return logits.argmax(dim=1), torch.ones(len(logits), dtype=torch.bool)

    (point,) = review_curve(logits, labels, thresholds=[0.5], triage=everything_to_a_person)
    assert (point.reviewed, point.slipped) == (4, 0) and "accuracy on the rest n/a" in point.summary()
    with pytest.raises(ValueError, match="triage must return"):
        review_curve(
            logits, labels, thresholds=[0.5], triage=lambda lg, t: (lg.argmax(1), (lg[:, 0] < t).float())
        )


def test_the_slider_changes_what_the_explorer_shows():
    logits, labels = _logits_and_labels()
    explorer = review_queue_explorer(
        review_curve(logits, labels, thresholds=[0.5, 0.9], triage=reference_triage), selected=0
    )
    assert explorer.point.threshold == 0.5 and "0 of 4 cheques" in explorer.status.value
    before = explorer.status.value
    explorer.slider.value = 1
    assert explorer.point.threshold == 0.9 and "2 of 4 cheques" in explorer.status.value
    assert explorer.status.value != before and "1 of 2 wrong readings" in explorer.status.value
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()


def test_render_marks_the_selected_threshold():
    import matplotlib.pyplot as plt

    logits, labels = _logits_and_labels()
    curve = review_curve(logits, labels, thresholds=[0.5, 0.9], triage=reference_triage)
    fig = render_review_queue(curve, 1)
    try:
        assert (
            fig.axes[0].get_title() == "threshold 0.9: 2 of 4 to a person, 1 of 2 wrong readings unreviewed"
        )
        assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0.5", "0.9"]
    finally:
        plt.close(fig)
    with pytest.raises(TypeError, match="QueuePoint"):
        render_review_queue([QueuePoint(0.5, 4, 0, 2, 2), 3], 0)  # type: ignore[list-item]
