"""A slider over one threshold of a detection rule, run on a recorded audit log: when is the attacker
caught, and which honest clients are alerted on the way (modules 14 and 15).

`tune_rule` computes one view headless (tests and static output use it); `rule_tuner` puts a slider
on top for a live JupyterLab session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labkit import validate as v
from labkit.response.rules import check_rule, run_rules


@dataclass(frozen=True)
class RuleView:
    """One threshold's outcome: the clients alerted, and after how many of their images."""

    value: float
    alerted: dict[str, int]  # client -> its answered images when the rule fired

    def text(self, attacker: str) -> str:
        caught = self.alerted.get(attacker)
        honest = sorted(c for c in self.alerted if c != attacker)
        verdict = (
            f"✔ {attacker} caught after {caught} images" if caught is not None else f"✘ {attacker} not caught"
        )
        alarms = f"✘ false alarms on {', '.join(honest)}" if honest else "✔ no false alarm"
        return f"threshold {self.value:g}: {verdict}; {alarms}"


def tune_rule(
    records: Sequence[Mapping[str, Any]], rule: Mapping[str, Any], *, field: str, value: float
) -> RuleView:
    """Run `rule` with `field` set to `value` over the audit records."""
    clean = check_rule(rule)
    value = v.nonnegative_float("value", value)
    field = v.choice("field", field, [k for k in clean if k not in ("kind", "name")])
    changed = check_rule({**clean, field: int(value) if isinstance(clean[field], int) else float(value)})
    alerts = run_rules([changed], records)
    return RuleView(float(value), {a.client: a.images for a in alerts})


def rule_tuner(
    records: Sequence[Mapping[str, Any]],
    rule: Mapping[str, Any],
    *,
    field: str,
    low: float,
    high: float,
    step: float,
    attacker: str,
) -> Any:  # noqa: ANN401 - an ipywidgets box
    """A slider over `field` of `rule` from `low` to `high`; prints who is alerted at each value."""
    import ipywidgets as widgets

    low, high = v.finite_float("low", low), v.finite_float("high", high)
    step = v.positive_float("step", step)
    if not low < high:
        raise ValueError(f"low ({low}) must be below high ({high}).")
    attacker = v.text("attacker", attacker)
    start = tune_rule(records, rule, field=field, value=low)
    slider = widgets.FloatSlider(value=low, min=low, max=high, step=step, description=field)
    output = widgets.Output()

    def show(change: Any = None) -> None:  # noqa: ANN401
        view = start if change is None else tune_rule(records, rule, field=field, value=slider.value)
        output.clear_output(wait=True)
        with output:
            print(view.text(attacker))

    slider.observe(show, names="value")
    show()
    return widgets.VBox([slider, output])
