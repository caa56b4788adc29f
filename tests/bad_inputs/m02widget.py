"""Bad-input entries for module 02's element explorer (labkit.widgets.element_view)."""

from __future__ import annotations

from typing import Any

from tests.bad_inputs_cases import Entry


def _model() -> Any:  # noqa: ANN401
    from labkit.threats.cheque_reader import reference_model

    return reference_model()


def _view() -> Any:  # noqa: ANN401
    from labkit.widgets import element_view

    return element_view(_model(), "C1")


def cases() -> dict[str, Entry]:
    return {
        "labkit.widgets.element_view.element_view": Entry(
            lambda: dict(model=_model(), element_id="C1"),
            {"model": [None, "cheque reader"], "element_id": ["C99", 3, ""]},
        ),
        "labkit.widgets.element_view.render_element": Entry(
            lambda: dict(view=_view()), {"view": [None, "C1"]}
        ),
        "labkit.widgets.element_view.element_explorer": Entry(
            lambda: dict(model=_model(), selected="C3"),
            {"model": [None, {"not": "a model"}], "selected": ["C99", 3]},
        ),
    }


NOT_INPUT_TAKING = {
    "labkit.widgets.element_view.ElementView": "result record built by element_view",
    "labkit.widgets.element_view.FlowView": "result record built by element_view",
    "labkit.widgets.element_view.ElementExplorer": "built by element_explorer, which checks its arguments",
}
