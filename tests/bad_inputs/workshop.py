"""Bad-input cases for the workshop tooling: hand-in reports, the team summary, the agendas."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tests.bad_inputs_cases import COUNT, PATHS, TMP, Entry

COVERED = ("labkit.course.handin", "labkit.course.team", "labkit.course.agenda")
NOT_INPUT_TAKING = {
    "labkit.course.handin.ReportError": "exception",
    "labkit.course.agenda.sections": "takes no arguments (renders the guide's tables from the course map)",
}
IDS = ["00.integrity", "06.fgsm"]
NOT_IDS = ["00.integrity", ["integrity"], [], [3]]


def _dir() -> Path:
    return Path(tempfile.mkdtemp(dir=TMP))


def _report_file() -> Path:
    from labkit.course.handin import export_report

    return export_report(_dir() / "r.json", IDS, learner="ada", path=_dir() / "progress.json")


def _team_dir() -> Path:
    return _report_file().parent


def _summary() -> dict[str, Any]:
    from labkit.course.handin import read_report
    from labkit.course.team import team_summary

    return team_summary([read_report(_report_file())])


def _guide() -> Path:
    from labkit.paths import repo_root

    copy = _dir() / "guide.md"
    copy.write_text(
        (repo_root() / "docs" / "instructor-guide.md").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return copy


def cases() -> dict[str, Entry]:
    summaries = [None, {}, "text", {"modules": []}]
    numbers = [None, "00", [], ["99"], [6]]
    return {
        "labkit.course.agenda.agenda_markdown": Entry(
            lambda: dict(numbers=["00", "06"], start="09:00", block=120, short_break=15),
            {"numbers": numbers, "start": ["9", "25:00", 9, ""], "block": COUNT, "short_break": COUNT},
        ),
        "labkit.course.agenda.onboarding_markdown": Entry(
            lambda: dict(numbers=["00", "06"], session=180), {"numbers": numbers, "session": COUNT}
        ),
        "labkit.course.agenda.update_guide": Entry(
            lambda: dict(path=_guide()), {"path": [*PATHS, TMP / "no.md"]}
        ),
        "labkit.course.handin.checksum": Entry(
            lambda: dict(body={"learner": "ada"}), {"body": [None, "x", []]}
        ),
        "labkit.course.handin.build_report": Entry(
            lambda: dict(exercise_ids=IDS, learner="ada", path=_dir() / "progress.json"),
            {"exercise_ids": NOT_IDS, "learner": [3, "", "a\nb", " ada"], "path": PATHS},
        ),
        "labkit.course.handin.export_report": Entry(
            lambda: dict(out=_dir() / "r.json", exercise_ids=IDS, learner="ada", path=_dir() / "p.json"),
            {"out": [*PATHS, TMP / "missing" / "r.json"], "exercise_ids": NOT_IDS, "learner": [3, ""]},
        ),
        "labkit.course.handin.read_report": Entry(
            lambda: dict(path=_report_file()), {"path": [*PATHS, TMP / "missing.json"]}
        ),
        "labkit.course.team.load_team": Entry(
            lambda: dict(directory=_team_dir()), {"directory": [*PATHS, TMP / "missing"]}
        ),
        "labkit.course.team.team_summary": Entry(
            lambda: dict(reports=[]), {"reports": [None, "x", [{"learner": "ada"}], {"exercises": {}}]}
        ),
        "labkit.course.team.format_team": Entry(
            lambda: dict(summary=_summary(), rejected=[], top=5), {"summary": summaries, "top": COUNT}
        ),
        "labkit.course.team.plot_team": Entry(
            lambda: dict(summary=_summary(), out=_dir() / "t.png"),
            {"summary": summaries, "out": [*PATHS, TMP / "missing" / "t.png"]},
        ),
    }
