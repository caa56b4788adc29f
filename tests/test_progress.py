"""Progress file: atomic writes, corruption recovery, the completion report."""

from __future__ import annotations

import json

import pytest

from labkit.checks import progress_report
from labkit.cli import main
from labkit.course.progress import load_progress, progress_path, record, report


def test_record_and_report(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    record("00.integrity", passed=False)
    record("00.integrity", passed=True)
    record("00.integrity", passed=False)  # a later failure does not undo a pass
    entry = load_progress()["exercises"]["00.integrity"]
    assert entry["passed"] and entry["attempts"] == 3 and entry["first_passed"]
    m00 = next(m for m in progress_report()["modules"] if m["module"] == "00")
    assert m00["passed"] == 1 and m00["missing"] == ["00.review_queue"]
    only = report(["00.integrity", "04.flip"])
    assert [(m["module"], m["passed"], m["total"]) for m in only["modules"]] == [("00", 1, 1), ("04", 0, 1)]
    with pytest.raises(ValueError, match="exercise_ids must look like"):
        report(["integrity"])
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_corrupt_file_is_set_aside_not_lost(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    progress_path().write_text("{ this is not json")
    record("00.integrity", passed=True)
    assert "could not be read" in capsys.readouterr().err
    aside = list(tmp_path.glob("progress.corrupt-*.json"))
    assert len(aside) == 1 and aside[0].read_text() == "{ this is not json"
    assert load_progress()["exercises"]["00.integrity"]["passed"]


def test_wrong_shape_json_reads_as_empty_and_is_set_aside_only_on_write(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    progress_path().write_text("[1, 2, 3]")
    assert load_progress()["exercises"] == {}
    assert not list(tmp_path.glob("progress.corrupt-*.json"))  # reading changed nothing
    record("00.integrity", passed=True)
    assert [p.read_text() for p in tmp_path.glob("progress.corrupt-*.json")] == ["[1, 2, 3]"]


WRONG_SHAPES = [
    "[]",
    "null",
    '"progress"',
    '{"exercises": []}',
    '{"exercises": {"00.integrity": 5}}',
    '{"exercises": {"00.integrity": [1, true]}}',
    '{"exercises": {"00.integrity": {"attempts": "3", "passed": false, "first_passed": null}}}',
    '{"exercises": {"00.integrity": {"attempts": true, "passed": false, "first_passed": null}}}',
    '{"exercises": {"00.integrity": {"attempts": 1, "passed": "no", "first_passed": null}}}',
    '{"exercises": {"00.integrity": {"passed": true, "first_passed": null}}}',
    '{"exercises": {"00.integrity": {"attempts": 1, "passed": true, "first_passed": 7}}}',
    '{"learner": ["x"], "exercises": {}}',
]


@pytest.mark.parametrize("text", WRONG_SHAPES)
def test_check_survives_a_progress_file_of_the_wrong_shape(monkeypatch, tmp_path, capsys, text):
    from labkit.checks import check
    from tests.answers.m00 import ANSWERS

    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    progress_path().write_text(text)
    check("00.integrity", ANSWERS["00.integrity"][0])  # no TypeError from inside labkit
    assert "moved to" in capsys.readouterr().err
    assert [p.read_text() for p in tmp_path.glob("progress.corrupt-*.json")] == [text]
    entry = load_progress()["exercises"]["00.integrity"]
    assert entry["passed"] is True and entry["attempts"] == 1


@pytest.mark.parametrize("text", ["{ not json", *WRONG_SHAPES])
def test_labkit_progress_reports_a_bad_file_and_never_changes_it(monkeypatch, tmp_path, capsys, text):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    progress_path().write_text(text)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["progress"]) == 0
    out = capsys.readouterr().out
    assert "could not be read" in out and "0 of" in out
    assert main(["progress", "--json"]) == 0
    assert "could not be read" in json.loads(capsys.readouterr().out)["problem"]
    assert progress_path().read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".lock") == before


def test_set_aside_files_never_overwrite_each_other(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    for n in range(3):  # well within one second
        progress_path().write_text(f"corrupt {n}")
        record("00.integrity", passed=False)
    kept = sorted(p.read_text() for p in tmp_path.glob("progress.corrupt-*.json"))
    assert kept == ["corrupt 0", "corrupt 1", "corrupt 2"]


def test_cli_progress_json(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    record("00.review_queue", passed=True)
    assert main(["progress", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["modules"][0]["passed"] == 1


def test_record_refuses_what_is_not_a_result(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    with pytest.raises(TypeError, match="passed must be True or False"):
        record("00.integrity", passed="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exercise_id"):
        record("integrity", passed=True)
    assert not (tmp_path / "progress.json").exists(), "nothing is written for a refused result"
