"""Threat models out: a Markdown report, a data-flow diagram (matplotlib) and an ATLAS Navigator layer.

Each renderer validates the model first (a model with problems is never rendered as if it were sound).
The Navigator layer follows the ATT&CK/ATLAS Navigator layer format 4.5 with domain "atlas-atlas" and
the pinned ATLAS version, so it opens in MITRE's ATLAS Navigator.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit import validate as v
from labkit.paths import write_json_atomic
from labkit.threats.atlas import load_atlas
from labkit.threats.threatmodel import ThreatModel, crossings, validate_model

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

LAYER_FORMAT = "4.5"
NAVIGATOR_VERSION = "4.9.1"
DOMAIN = "atlas-atlas"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def to_markdown(model: ThreatModel) -> str:
    """The threat model as a Markdown document: assets, elements, flows (boundaries marked), threats with
    their ATLAS techniques, mitigations and requirements."""
    validate_model(model)
    atlas = load_atlas()
    crossing = {f.id: f"{a} -> {b}" for f, a, b in crossings(model)}
    out = [f"# Threat model: {model.system}", "", f"ATLAS edition {atlas.version}.", "", "## Assets", ""]
    out += _table(
        ["id", "asset", "properties that matter"],
        [[a.id, a.name, ", ".join(a.properties)] for a in model.assets],
    )
    out += ["", "## Components and actors", ""]
    rows = [[c.id, c.name, c.kind, c.zone] for c in model.components]
    rows += [
        [a.id, a.name, "actor (trusted)" if a.trusted else "actor (untrusted)", a.zone] for a in model.actors
    ]
    out += _table(["id", "name", "kind", "trust zone"], rows)
    out += ["", "## Data flows", ""]
    out += _table(
        ["id", "from", "to", "data", "trust boundary crossed"],
        [[f.id, f.source, f.target, f.data, crossing.get(f.id, "-")] for f in model.flows],
    )
    out += ["", "## Threats", ""]
    out += _table(
        ["id", "threat", "catalogue", "ATLAS", "targets", "mitigations"],
        [
            [
                t.id,
                t.title,
                t.attack,
                ", ".join(f"{i} {atlas.techniques[i].name}" for i in t.atlas),
                ", ".join(t.targets),
                ", ".join(t.mitigations),
            ]
            for t in model.threats
        ],
    )
    out += ["", "## Mitigations", ""]
    out += _table(
        ["id", "mitigation", "requirements"],
        [[m.id, m.text, ", ".join(m.requirements)] for m in model.mitigations],
    )
    if model.requirements:
        out += ["", "## Security requirements", ""]
        out += _table(
            ["id", "kind", "requirement", "mitigates"],
            [[r.id, r.kind, r.text, r.mitigates] for r in model.requirements],
        )
    return "\n".join(out) + "\n"


def draw_dataflow(
    model: ThreatModel, *, zones: Sequence[str] | None = None, ax: Axes | None = None
) -> Figure:
    """A data-flow diagram: one dashed box per trust zone (its edge is a trust boundary), the components and
    actors inside, and an arrow per flow labelled with its id (red when it crosses a boundary).

    `zones` orders the columns (default: order of first appearance); it must name every zone once."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    validate_model(model)
    if ax is not None and not hasattr(ax, "add_patch"):
        raise TypeError(f"ax must be a matplotlib Axes (or None), not {type(ax).__name__}.")
    elements = model.elements()
    found = list(dict.fromkeys(e.zone for e in elements))
    if zones is None:
        zones = found
    elif isinstance(zones, str) or not isinstance(zones, Sequence) or sorted(zones) != sorted(found):
        raise ValueError(f"zones must list each zone of the model once ({', '.join(found)}), not {zones!r}.")
    members = {z: [e for e in elements if e.zone == z] for z in zones}
    height = max(len(m) for m in members.values())
    if ax is None:
        figure, ax = plt.subplots(figsize=(max(6.0, 3.2 * len(zones)), max(3.0, 1.3 * height + 1.2)))
    else:
        figure = ax.figure  # type: ignore[assignment]
    where: dict[str, tuple[float, float]] = {}
    for column, zone in enumerate(zones):
        x0 = column * 3.2
        ax.add_patch(FancyBboxPatch((x0 + 0.1, -0.6), 2.8, height * 1.3 + 0.4, boxstyle="round,pad=0.05",
                                    fill=False, linestyle="--", edgecolor="0.4"))  # fmt: skip
        ax.text(x0 + 1.5, height * 1.3 - 0.05, zone, ha="center", va="bottom", fontsize=9, style="italic")
        for row, element in enumerate(members[zone]):
            y = (height - 1 - row) * 1.3
            where[element.id] = (x0 + 1.5, y)
            style = "round,pad=0.1" if getattr(element, "kind", "external") != "store" else "square,pad=0.1"
            colour = "#e8f0fe" if hasattr(element, "kind") else "#fdecea"
            ax.text(x0 + 1.5, y, f"{element.name}\n({element.id})", ha="center", va="center", fontsize=8,
                    bbox={"boxstyle": style, "facecolor": colour, "edgecolor": "0.3"})  # fmt: skip
    crossing = {f.id for f, _, _ in crossings(model)}
    for index, flow in enumerate(model.flows):
        (x1, y1), (x2, y2) = where[flow.source], where[flow.target]
        colour = "#c0392b" if flow.id in crossing else "0.3"
        bend = 0.25 if index % 2 else -0.25
        ax.annotate("", xy=(x2, y2), xytext=(x1, y1),
                    arrowprops={"arrowstyle": "->", "color": colour, "shrinkA": 22, "shrinkB": 22,
                                "connectionstyle": f"arc3,rad={bend}"})  # fmt: skip
        ax.text((x1 + x2) / 2, (y1 + y2) / 2 + bend * 0.6, flow.id, fontsize=7, color=colour, ha="center")
    ax.set_xlim(-0.1, len(zones) * 3.2)
    ax.set_ylim(-0.9, height * 1.3 + 0.4)
    ax.set_axis_off()
    ax.set_title(f"{model.system}: data flows (red arrows cross a trust boundary)", fontsize=10)
    return figure


def navigator_layer(model: ThreatModel, *, name: str | None = None) -> dict[str, Any]:
    """An ATLAS Navigator layer of the techniques the model cites: score = number of threats citing a
    technique, comment = those threats."""
    validate_model(model)
    if name is not None:
        v.text("name", name)
    atlas = load_atlas()
    cited: dict[str, list[str]] = {}
    for threat in model.threats:
        for technique in threat.atlas:
            cited.setdefault(technique, []).append(f"{threat.id}: {threat.title}")
    techniques = [
        {
            "techniqueID": technique,
            "score": len(threats),
            "comment": "; ".join(threats),
            "enabled": True,
            "showSubtechniques": atlas.techniques[technique].is_subtechnique,
        }
        for technique, threats in sorted(cited.items())
    ]
    top = max((len(threats) for threats in cited.values()), default=1)
    return {
        "name": name or f"{model.system} threat model",
        "versions": {"layer": LAYER_FORMAT, "navigator": NAVIGATOR_VERSION, "atlas": atlas.version},
        "domain": DOMAIN,
        "description": f"Techniques cited by the threat model of the {model.system} (ATLAS {atlas.version}).",
        "techniques": techniques,
        "gradient": {"colors": ["#fff7bc", "#d95f0e"], "minValue": 0, "maxValue": top},
        "metadata": [
            {"name": "system", "value": model.system},
            {"name": "threats", "value": str(len(model.threats))},
        ],
    }


def save_navigator_layer(model: ThreatModel, path: str | Path, *, name: str | None = None) -> Path:
    """Write the Navigator layer as JSON to `path` (atomically); returns the path."""
    target = v.path("path", path)
    layer = navigator_layer(model, name=name)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_json_atomic(target, layer)
