"""A team lead's summary of hand-in reports (`labkit progress --team DIR`): who finished what, and
which exercises most people failed at first. Bad or tampered reports are listed and left out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labkit import validate
from labkit.course.coursemap import MODULES
from labkit.course.handin import ReportError, read_report


def load_team(directory: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every verified report in `directory` (*.json) and one message per file left out.

    When a learner handed in several reports, the latest export counts."""
    directory = validate.path("directory", directory, exists="dir")
    latest: dict[str, dict[str, Any]] = {}
    rejected = []
    for path in sorted(directory.glob("*.json")):
        try:
            report = read_report(path)
        except ReportError as error:
            rejected.append(f"left out {error}")
            continue
        except OSError as error:  # a file that vanished or is not readable by this user
            rejected.append(f"left out {path.name}: {error}")
            continue
        earlier = latest.get(report["learner"])
        if earlier is not None:
            older = min(earlier, report, key=lambda r: r["exported"])
            rejected.append(
                f"left out an older report of {report['learner']!r} (exported {older['exported']})"
            )
            report = max(earlier, report, key=lambda r: r["exported"])
        latest[report["learner"]] = report
    return [latest[name] for name in sorted(latest)], rejected


def team_summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Per learner and module: exercises passed of those known; per exercise: how many learners tried
    it, failed at first, and passed (most failed-first first)."""
    if not isinstance(reports, list) or not all(isinstance(r, dict) and "exercises" in r for r in reports):
        raise TypeError("reports must be the list of verified reports that load_team returns.")
    ids = sorted({i for r in reports for i in r["exercises"]})
    numbers = sorted({i.split(".")[0] for i in ids})
    titles = {m.number: m.title for m in MODULES}
    learners = []
    for r in reports:
        row = {}
        for number in numbers:
            mine = [e for i, e in r["exercises"].items() if i.split(".")[0] == number]
            row[number] = (sum(e["passed"] for e in mine), len(mine))
        learners.append({"learner": r["learner"], "modules": row})
    exercises = []
    for i in ids:
        entries = [r["exercises"][i] for r in reports if i in r["exercises"]]
        exercises.append(
            {
                "exercise": i,
                "tried": sum(e["attempts"] > 0 for e in entries),
                "failed_first": sum(bool(e["failed_first"]) for e in entries),
                "passed": sum(e["passed"] for e in entries),
                "learners": len(entries),
            }
        )
    exercises.sort(key=lambda e: (-e["failed_first"], e["exercise"]))
    return {
        "modules": [{"module": n, "title": titles.get(n, n)} for n in numbers],
        "learners": learners,
        "exercises": exercises,
    }


def format_team(summary: dict[str, Any], *, rejected: list[str] | None = None, top: int = 5) -> str:
    """The summary as a text table: learners by modules (passed/known), then the hardest exercises."""
    if not isinstance(summary, dict) or not {"modules", "learners", "exercises"} <= summary.keys():
        raise TypeError(f"summary must be the dict team_summary() returns, not {summary!r}.")
    top = validate.positive_int("top", top)
    numbers = [m["module"] for m in summary["modules"]]
    width = max([len("learner"), *(len(r["learner"]) for r in summary["learners"])])
    lines = [f"{'learner':<{width}}  " + "  ".join(f"{n:>5}" for n in numbers) + "   done"]
    for row in summary["learners"]:
        cells = [row["modules"][n] for n in numbers]
        finished = sum(p == t for p, t in cells)
        lines.append(
            f"{row['learner']:<{width}}  "
            + "  ".join(f"{p:>2}/{t:<2}" for p, t in cells)
            + f"   {finished}/{len(numbers)} modules"
        )
    lines += ["", "Exercises most people failed at first (failed first / tried / passed):"]
    hardest = [e for e in summary["exercises"] if e["failed_first"]][:top]
    for e in hardest:
        lines.append(f"  {e['exercise']:<28} {e['failed_first']} / {e['tried']} / {e['passed']}")
    if not hardest:
        lines.append("  none yet")
    if not summary["learners"]:
        lines.insert(0, "No valid reports.")
    for message in rejected or []:
        lines.append(f"✘ {message}")
    return "\n".join(lines)


def plot_team(summary: dict[str, Any], out: Path) -> Path:
    """A PNG: a learners-by-modules grid of the share of exercises passed, and a bar chart of how many
    learners failed each exercise at first. Returns the path written."""
    if not isinstance(summary, dict) or not {"modules", "learners", "exercises"} <= summary.keys():
        raise TypeError(f"summary must be the dict team_summary() returns, not {summary!r}.")
    out = validate.path("out", out)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"out {str(out)!r}: its directory {str(out.parent)!r} does not exist.")
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, safe in a server

    numbers = [m["module"] for m in summary["modules"]]
    names = [r["learner"] for r in summary["learners"]]
    grid = [
        [(p / t if t else 0.0) for p, t in (r["modules"][n] for n in numbers)] for r in summary["learners"]
    ]
    hardest = summary["exercises"][:12]
    fig = Figure(figsize=(11, 1.6 + 0.35 * max(len(names), len(hardest), 4)), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(max(len(numbers), 3), 4))
    image = left.imshow(grid or [[0.0] * max(len(numbers), 1)], vmin=0, vmax=1, cmap="Greens", aspect="auto")
    left.set_xticks(range(len(numbers)), numbers)
    left.set_yticks(range(len(names)), names)
    left.set_xlabel("module")
    left.set_title("share of each module's exercises passed")
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            left.text(x, y, f"{value:.0%}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=left, shrink=0.8)
    right.barh(
        [e["exercise"] for e in hardest][::-1], [e["failed_first"] for e in hardest][::-1], color="#c0504d"
    )
    right.set_xlabel("learners whose first attempt failed")
    right.set_title("where people get stuck")
    fig.savefig(out, dpi=100)
    return out
