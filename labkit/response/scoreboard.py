"""The capstone's local scoreboard: what each side achieved in each round, as a table and a plot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labkit.response.capstone import EVADE_COUNT, FIDELITY_GOAL, RoundResult


def _rounds(results: Sequence[RoundResult]) -> list[RoundResult]:
    if isinstance(results, RoundResult):
        results = [results]
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence) or not results:
        raise TypeError(
            f"results must be a non-empty list of RoundResult (from run_round), not {results!r:.60}."
        )
    bad = next((r for r in results if not isinstance(r, RoundResult)), None)
    if bad is not None:
        raise TypeError(f"results must hold RoundResult values (from run_round), not {bad!r:.60}.")
    return list(results)


def _theft(result: RoundResult) -> str:
    if result.theft is None:
        return "no watermark"
    verdict = "proven" if result.theft.proven() else "not proven"
    return f"{verdict} ({result.theft.matches}/{result.theft.marked}, p={result.theft.p_value:.1g})"


def scoreboard_rows(results: Sequence[RoundResult]) -> list[dict[str, Any]]:
    """One row per round: what red and blue achieved, and their points."""
    rows = []
    for r in _rounds(results):
        rows.append(
            {
                "round": r.name,
                "red fidelity": f"{r.fidelity:.0%}{' ✔' if r.fidelity >= FIDELITY_GOAL else ' ✘'}",
                "red evaded": f"{r.evaded}/{EVADE_COUNT}",
                "red images": r.red_images,
                "blue detected red": "no" if r.detected_after is None else f"after {r.detected_after} images",
                "false alerts": ", ".join(r.false_alerts) or "none",
                "tellers served": f"{r.teller_quality:.0%}",
                "theft": _theft(r),
                "red points": r.red_points,
                "blue points": r.blue_points,
            }
        )
    return rows


def scoreboard_table(results: Sequence[RoundResult]) -> str:
    """The scoreboard as a Markdown table (print it, or show it with IPython's Markdown)."""
    rows = scoreboard_rows(results)
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[h]) for h in header) + " |" for row in rows]
    return "\n".join(lines)


def plot_scoreboard(results: Sequence[RoundResult]) -> Any:  # noqa: ANN401 - a matplotlib Figure
    """Points per side per round (bars) and red's fidelity against the goal (line)."""
    import matplotlib.pyplot as plt

    rounds = _rounds(results)
    names = [r.name for r in rounds]
    positions = list(range(len(rounds)))
    fig, (points, fidelity) = plt.subplots(1, 2, figsize=(9, 2.8))
    points.bar(
        [p - 0.2 for p in positions], [r.red_points for r in rounds], 0.4, color="tab:red", label="red"
    )
    points.bar(
        [p + 0.2 for p in positions], [r.blue_points for r in rounds], 0.4, color="tab:blue", label="blue"
    )
    points.axhline(0, color="black", linewidth=0.5)
    points.set_xticks(positions, names, fontsize=8)
    points.set_ylabel("points")
    points.legend(fontsize=8)
    fidelity.plot(positions, [r.fidelity for r in rounds], "o-", color="tab:red", label="red's fidelity")
    fidelity.plot(
        positions, [r.teller_quality for r in rounds], "s-", color="tab:green", label="tellers served"
    )
    fidelity.axhline(FIDELITY_GOAL, color="tab:red", linestyle="--", linewidth=0.8, label="fidelity goal")
    fidelity.set_ylim(0, 1.05)
    fidelity.set_xticks(positions, names, fontsize=8)
    fidelity.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig
