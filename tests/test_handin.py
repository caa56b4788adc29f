"""Hand-in reports (`labkit progress --export`) and the team summary (`labkit progress --team`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.checks import EXERCISES
from labkit.cli import main
from labkit.course.handin import ReportError, build_report, checksum, export_report, read_report
from labkit.course.progress import record
from labkit.course.team import format_team, load_team, plot_team, team_summary

IDS = ["00.integrity", "00.review_queue", "06.fgsm"]


def learner_report(tmp_path: Path, name: str, results: dict[str, list[bool]]) -> Path:
    progress = tmp_path / f"{name}-progress.json"
    for exercise, outcomes in results.items():
        for passed in outcomes:
            record(exercise, passed=passed, path=progress)
    return export_report(tmp_path / f"{name}.json", IDS, learner=name, path=progress)


def test_report_is_machine_independent_and_counts_failures_before_a_pass(tmp_path):
    out = learner_report(tmp_path, "ada", {"00.integrity": [False, False, True, False], "06.fgsm": [True]})
    text = out.read_text(encoding="utf-8")
    assert str(tmp_path) not in text and "first_passed" not in text  # no paths, no local times
    data = read_report(out)
    assert data["learner"] == "ada" and data["checksum"] == checksum(data)
    assert data["exercises"]["00.integrity"] == {"passed": True, "attempts": 4, "failed_first": True}
    assert data["exercises"]["06.fgsm"] == {"passed": True, "attempts": 1, "failed_first": False}
    assert data["exercises"]["00.review_queue"] == {"passed": False, "attempts": 0, "failed_first": False}


def test_old_progress_without_failure_counts_is_inferred(tmp_path):
    progress = tmp_path / "progress.json"
    entry = {"attempts": 3, "passed": False, "first_passed": None, "last_attempt": None}
    progress.write_text(json.dumps({"version": 1, "learner": "bo", "exercises": {"06.fgsm": entry}}))
    data = build_report(IDS, path=progress)
    assert data["learner"] == "bo" and data["exercises"]["06.fgsm"]["failed_first"] is True


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda d: d["exercises"]["06.fgsm"].update(passed=True), "does not match its checksum"),
        (lambda d: d.update(learner="mallory"), "does not match its checksum"),
        (lambda d: d.pop("checksum"), "lacks checksum"),
        (lambda d: d.update(format="other"), "is it a `labkit progress --export` file"),
        (lambda d: d["exercises"]["06.fgsm"].update(attempts=-1), "not a count"),
        (lambda d: d.update(exercises=[]), "not a non-empty object"),
    ],
)
def test_tampered_or_malformed_reports_are_refused(tmp_path, tamper, message):
    out = learner_report(tmp_path, "cy", {"06.fgsm": [False]})
    data = json.loads(out.read_text())
    tamper(data)
    out.write_text(json.dumps(data))
    with pytest.raises(ReportError, match=message):
        read_report(out)


def test_team_summary_table_plot_and_left_out_reports(tmp_path, capsys):
    team = tmp_path / "team"
    team.mkdir()
    learner_report(
        team, "ada", {"00.integrity": [False, True], "00.review_queue": [True], "06.fgsm": [False]}
    )
    learner_report(team, "bo", {"00.integrity": [False, True], "06.fgsm": [True]})
    learner_report(team, "cy", {"00.integrity": [True]})
    for f in team.glob("*-progress.json"):
        f.unlink()
    (team / "broken.json").write_text("{ not json")
    forged = json.loads((team / "cy.json").read_text())
    forged["exercises"]["06.fgsm"]["passed"] = True
    (team / "cy-forged.json").write_text(json.dumps(forged))
    reports, rejected = load_team(team)
    assert [r["learner"] for r in reports] == ["ada", "bo", "cy"]
    assert len(rejected) == 2 and any("broken.json: not readable JSON" in r for r in rejected)
    assert any("cy-forged.json" in r and "checksum" in r for r in rejected)
    summary = team_summary(reports)
    hardest = summary["exercises"][0]
    assert hardest == {"exercise": "00.integrity", "tried": 3, "failed_first": 2, "passed": 3, "learners": 3}
    rows = {r["learner"]: r["modules"] for r in summary["learners"]}
    assert rows["ada"] == {"00": (2, 2), "06": (0, 1)} and rows["cy"] == {"00": (1, 2), "06": (0, 1)}
    text = format_team(summary, rejected=rejected)
    assert "ada" in text and "00.integrity                 2 / 3 / 3" in text and "✘ left out" in text
    png = plot_team(summary, tmp_path / "team.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    # the command: table, plot, exit 0; a directory of only bad reports: exit 1, no crash
    assert main(["progress", "--team", str(team), "--plot", str(tmp_path / "cli.png")]) == 0
    assert "left out" in capsys.readouterr().out and (tmp_path / "cli.png").is_file()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.json").write_text("[]")
    assert main(["progress", "--team", str(bad)]) == 1
    assert "No valid reports" in capsys.readouterr().out


def test_cli_export_over_every_registered_exercise(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    record("00.integrity", passed=True)
    assert main(["progress", "--export", str(tmp_path), "--learner", "dee"]) == 0
    data = read_report(tmp_path / "dee.progress.json")
    assert set(data["exercises"]) == set(EXERCISES) and data["exercises"]["00.integrity"]["passed"]
    assert "hand this file in" in capsys.readouterr().out
    assert main(["progress", "--export", str(tmp_path / "missing" / "r.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["progress", "--plot", str(tmp_path / "x.png")]) == 2  # --plot without --team
    assert "--plot goes with --team" in capsys.readouterr().err
    with pytest.raises(ValueError, match="learner must be a name"):
        build_report(IDS, learner="a\nb", path=tmp_path / "p.json")
