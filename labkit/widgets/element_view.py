"""A per-element view of a threat model (module 02): pick a component or an actor and see every flow that
enters or leaves it, which of them cross a trust boundary, and the threats (catalogue entry, ATLAS ids,
mitigations) that name the element or one of its flows. A crossing no threat names is marked: that is the
question for the next review.

`element_view` computes it (headless), `render_element` writes it as Markdown, and `element_explorer` puts
a dropdown over the model's elements for a live session.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from labkit import validate as v
from labkit.threats.threatmodel import Threat, ThreatModel, crossings, validate_model


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class FlowView:
    """One flow at the element: its direction, whether it crosses a trust boundary, the threats naming it."""

    id: str
    direction: str  # "in" or "out"
    other: str  # the element at the other end
    data: str
    crosses: bool
    threats: tuple[str, ...]


@dataclass(frozen=True)
class ElementView:
    """What the threat model says about one element."""

    element: str
    name: str
    zone: str
    flows: tuple[FlowView, ...]
    threats: tuple[Threat, ...]  # naming the element itself or one of its flows

    @property
    def unguarded(self) -> list[str]:
        """Flows at this element that cross a trust boundary and that no threat names."""
        return [f.id for f in self.flows if f.crosses and not f.threats]

    def summary(self) -> str:
        """One line: the element, its flows and crossings, the threats, the unguarded crossings."""
        crossing = sum(f.crosses for f in self.flows)
        open_ = self.unguarded
        tail = f"unguarded crossings: {', '.join(open_)}" if open_ else "a threat names every crossing here"
        return (
            f"{self.name} ({self.element}, zone {self.zone}): {len(self.flows)} flows, {crossing} crossing a "
            f"trust boundary; {_count(len(self.threats), 'threat')}; {tail}"
        )


def element_view(model: ThreatModel, element_id: str) -> ElementView:
    """The flows, crossings and threats of one element of `model` (a component or an actor id)."""
    if not isinstance(model, ThreatModel):
        raise TypeError(f"model must be a ThreatModel, not {type(model).__name__}.")
    validate_model(model)
    ids = [e.id for e in model.elements()]
    element_id = v.choice("element_id", element_id, ids)
    element = model.element(element_id)
    crossing = {flow.id for flow, _, _ in crossings(model)}
    flows = []
    for flow in model.flows:
        if element_id not in (flow.source, flow.target):
            continue
        naming = tuple(t.id for t in model.threats if flow.id in t.targets)
        direction, other = ("out", flow.target) if flow.source == element_id else ("in", flow.source)
        where = f"{model.element(other).name} ({other})"
        flows.append(FlowView(flow.id, direction, where, flow.data, flow.id in crossing, naming))
    names = {element_id} | {f.id for f in flows}
    threats = tuple(t for t in model.threats if names & set(t.targets))
    return ElementView(element_id, element.name, element.zone, tuple(flows), threats)


def render_element(view: ElementView) -> str:
    """The view as Markdown: a table of flows, then the threats with their ATLAS ids and mitigations."""
    if not isinstance(view, ElementView):
        raise TypeError(f"view must be an ElementView (see element_view), not {type(view).__name__}.")
    lines = [
        f"**{view.name}** (`{view.element}`, zone {view.zone})",
        "",
        "| flow | direction | other end | data | crosses a boundary | threats |",
        "|---|---|---|---|---|---|",
    ]
    for f in view.flows:
        named = ", ".join(f.threats) or ("**none: unguarded**" if f.crosses else "-")
        lines.append(
            f"| {f.id} | {f.direction} | {f.other} | {f.data} | {'yes' if f.crosses else 'no'} | {named} |"
        )
    lines += ["", f"{_count(len(view.threats), 'threat')} naming this element or its flows:"]
    for t in view.threats:
        lines.append(
            f"- {t.id} {t.title} ({t.attack}; ATLAS {', '.join(t.atlas)}; {', '.join(t.mitigations)})"
        )
    return "\n".join(lines)


class ElementExplorer:
    """A dropdown over a threat model's elements; the status line and the table follow it."""

    def __init__(self, model: ThreatModel, *, selected: str) -> None:
        import ipywidgets as widgets

        self.model = model
        self.dropdown = widgets.Dropdown(
            options=[(f"{e.name} ({e.id})", e.id) for e in model.elements()],
            value=selected,
            description="element",
            layout=widgets.Layout(width="60%"),
        )
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.widget = widgets.VBox([self.dropdown, self.status, self.output])
        self.dropdown.observe(self.update, names="value")
        self.update()

    @property
    def view(self) -> ElementView:
        """The selected element's view."""
        return element_view(self.model, str(self.dropdown.value))

    def update(self, _change: Any = None) -> ElementView:  # noqa: ANN401
        """Show the selected element's summary and table (the table in a live kernel)."""
        view = self.view
        self.status.value = html.escape(view.summary())
        from IPython import get_ipython

        if get_ipython() is not None:
            from IPython.display import Markdown, clear_output, display

            with self.output:
                clear_output(wait=True)
                display(Markdown(render_element(view)))
        return view

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:  # noqa: ANN401
        return self.widget._repr_mimebundle_(**kwargs)


def element_explorer(model: ThreatModel, *, selected: str | None = None) -> ElementExplorer:
    """An ipywidgets dropdown over `model`'s elements (default: the first component)."""
    if not isinstance(model, ThreatModel):
        raise TypeError(f"model must be a ThreatModel, not {type(model).__name__}.")
    validate_model(model)
    ids = [e.id for e in model.elements()]
    chosen = ids[0] if selected is None else v.choice("selected", selected, ids)
    return ElementExplorer(model, selected=chosen)
