"""A review-queue control (module 00): move the confidence threshold below which a cheque goes to a
person, and see how many cheques a person must read and how many wrong readings still slip through.

`review_curve` triages the model's logits once per threshold (headless, from logits computed once, so
the slider answers at once), `render_review_queue` draws the trade-off with one threshold marked, and
`review_queue_explorer` puts a slider on top for a live session.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from labkit import validate as v

Triage = Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]]

DEFAULT_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


@dataclass(frozen=True)
class QueuePoint:
    """The review queue at one threshold: cheques sent to a person, and wrong readings left unreviewed."""

    threshold: float
    total: int  # cheques read
    reviewed: int  # sent to a person
    wrong: int  # readings that differ from the true digit
    slipped: int  # wrong readings the model handled alone

    def summary(self) -> str:
        """One line: the threshold, the person's workload, the mistakes that get through."""
        handled = self.total - self.reviewed
        right = handled - self.slipped
        rest = f"{right / handled:.2%}" if handled else "n/a"
        return (
            f"threshold {self.threshold:g}: {self.reviewed} of {self.total} cheques "
            f"({self.reviewed / self.total:.1%}) go to a person; {self.slipped} of {self.wrong} wrong "
            f"readings slip through unreviewed (accuracy on the rest {rest})"
        )


def review_curve(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    triage: Triage,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> list[QueuePoint]:
    """The queue at each threshold. `triage(logits, threshold) -> (digits, needs_review)` decides
    (module 00's exercise: the learner's function or `labkit.checks.m00_orientation.reference_triage`)."""
    v.tensor("logits", logits, ndim=2, floating=True)
    labels = v.labels("labels", labels, n=len(logits), num_classes=logits.shape[1])
    values = [
        v.probability(f"thresholds[{i}]", t) for i, t in enumerate(v.numbers_list("thresholds", thresholds))
    ]
    decide = v.function("triage", triage)
    logits, labels = logits.detach().cpu(), labels.cpu()
    points = []
    for threshold in sorted(values):
        digits, review = (torch.as_tensor(t) for t in decide(logits, threshold))
        if digits.shape != labels.shape or review.shape != labels.shape or review.dtype != torch.bool:
            raise ValueError(
                f"triage must return (digits, needs_review) with one digit and one bool per row, "
                f"got shapes {tuple(digits.shape)} and {tuple(review.shape)} ({review.dtype})."
            )
        wrong = digits.long() != labels
        points.append(
            QueuePoint(
                threshold=float(threshold),
                total=len(labels),
                reviewed=int(review.sum()),
                wrong=int(wrong.sum()),
                slipped=int((wrong & ~review).sum()),
            )
        )
    return points


def _check_curve(curve: Any) -> list[QueuePoint]:  # noqa: ANN401
    if isinstance(curve, (str, bytes)) or not isinstance(curve, Sequence) or not curve:
        raise TypeError(
            f"curve must be a non-empty list of QueuePoint (see review_curve), not {curve!r:.60}."
        )
    if not all(isinstance(p, QueuePoint) for p in curve):
        raise TypeError("curve must hold QueuePoint values (see review_curve).")
    return list(curve)


def render_review_queue(curve: Sequence[QueuePoint], index: int) -> Any:  # noqa: ANN401 - a figure
    """Share of cheques sent to a person and share of wrong readings unreviewed, per threshold, with
    `curve[index]` marked: the figure."""
    import matplotlib.pyplot as plt

    points = _check_curve(curve)
    index = v.position("index", index, length=len(points))
    positions = range(len(points))
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.plot(positions, [p.reviewed / p.total for p in points], "o-", label="cheques sent to a person")
    ax.plot(
        positions,
        [p.slipped / p.wrong if p.wrong else 0.0 for p in points],
        "s-",
        label="wrong readings that slip through",
    )
    ax.axvline(index, color="black", linestyle=":")
    ax.set_xticks(list(positions), [f"{p.threshold:g}" for p in points])
    ax.set(xlabel="confidence threshold", ylabel="fraction", ylim=(-0.03, 1.03))
    chosen = points[index]
    ax.set_title(
        f"threshold {chosen.threshold:g}: {chosen.reviewed} of {chosen.total} to a person, "
        f"{chosen.slipped} of {chosen.wrong} wrong readings unreviewed",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


class ReviewQueueExplorer:
    """A slider over the thresholds of a review curve; the status line and figure follow it."""

    def __init__(self, curve: Sequence[QueuePoint], *, selected: int) -> None:
        import ipywidgets as widgets

        self.curve = _check_curve(curve)
        selected = v.position("selected", selected, length=len(self.curve))
        self.slider = widgets.SelectionSlider(
            options=[(f"{p.threshold:g}", i) for i, p in enumerate(self.curve)],
            value=selected,
            description="threshold",
            continuous_update=True,
            layout=widgets.Layout(width="60%"),
        )
        self.status = widgets.HTML()  # a Label cuts a long line short
        self.output = widgets.Output()
        self.widget = widgets.VBox([self.slider, self.status, self.output])
        self.slider.observe(self.update, names="value")
        self.update()

    @property
    def point(self) -> QueuePoint:
        """The queue at the selected threshold."""
        return self.curve[int(self.slider.value)]

    def update(self, _change: Any = None) -> QueuePoint:  # noqa: ANN401
        """Show the selected threshold's numbers and redraw the figure (in a live kernel)."""
        self.status.value = html.escape(self.point.summary())
        from IPython import get_ipython

        if get_ipython() is not None:
            import matplotlib.pyplot as plt
            from IPython.display import clear_output, display

            with self.output:
                clear_output(wait=True)
                fig = render_review_queue(self.curve, int(self.slider.value))
                display(fig)
                plt.close(fig)
        return self.point

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:  # noqa: ANN401
        return self.widget._repr_mimebundle_(**kwargs)


def review_queue_explorer(curve: Sequence[QueuePoint], *, selected: int | None = None) -> ReviewQueueExplorer:
    """An ipywidgets slider over `review_curve`'s thresholds (default: the middle one)."""
    points = _check_curve(curve)
    return ReviewQueueExplorer(points, selected=len(points) // 2 if selected is None else selected)
