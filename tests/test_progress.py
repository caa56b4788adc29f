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


def test_wrong_shape_json_is_also_recovered(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    progress_path().write_text("[1, 2, 3]")
    assert load_progress()["exercises"] == {}
    assert list(tmp_path.glob("progress.corrupt-*.json"))


def test_cli_progress_json(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    record("00.review_queue", passed=True)
    assert main(["progress", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["modules"][0]["passed"] == 1
