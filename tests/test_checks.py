"""Every exercise check passes a correct answer and fails a stub and plausible wrong answers."""

from __future__ import annotations

import importlib
import json
import pkgutil

import pytest

import tests.answers
from labkit.checks import EXERCISES, CheckDidNotPass, check, format_result, run_check


def _all_answers() -> dict:
    answers: dict = {}
    for info in pkgutil.iter_modules(tests.answers.__path__):
        answers.update(importlib.import_module(f"tests.answers.{info.name}").ANSWERS)
    return answers


ANSWERS = _all_answers()


def _stub(*args, **kwargs):
    raise NotImplementedError()


def test_every_exercise_has_answers_to_test_with():
    assert set(ANSWERS) == set(EXERCISES)


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_every_exercise_has_three_plausible_wrong_answers_with_their_diagnosis(exercise_id):
    _, wrong = ANSWERS[exercise_id]
    assert len(wrong) >= 3, f"{exercise_id}: at least three plausible wrong answers"
    for entry in wrong:
        assert isinstance(entry, tuple) and len(entry) == 2 and callable(entry[0]) and entry[1], (
            "each wrong answer is (function, keyword its failure message must contain)"
        )


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_correct_answer_passes(exercise_id):
    correct, _ = ANSWERS[exercise_id]
    result = run_check(exercise_id, correct)
    assert result.passed, result.message


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_stub_gets_not_implemented(exercise_id):
    result = run_check(exercise_id, _stub)
    assert not result.passed and result.status == "not implemented"
    text = format_result(result)
    assert "not implemented yet" in text
    assert "Hint:" not in text and EXERCISES[exercise_id].hint not in text, "a stub gets no hint"
    assert "Traceback" not in text


@pytest.mark.parametrize(
    ("exercise_id", "wrong", "keyword"),
    [(e, w, k) for e in sorted(ANSWERS) for w, k in ANSWERS[e][1]],
    ids=lambda v: getattr(v, "__name__", v) if callable(v) else (v if "." in str(v) else ""),
)
def test_plausible_wrong_answers_fail_with_a_message_naming_the_mistake(exercise_id, wrong, keyword):
    result = run_check(exercise_id, wrong)
    assert not result.passed, f"{wrong.__name__} should not pass {exercise_id}"
    assert result.status == "failed", f"{wrong.__name__}: a diagnosis, not {result.status}: {result.message}"
    assert keyword.lower() in result.message.lower(), (
        f"{wrong.__name__}: the message should name the mistake ({keyword!r}): {result.message}"
    )
    assert EXERCISES[exercise_id].hint not in result.message


def test_mad_uses_the_median_of_an_even_count():
    """torch's median() returns the lower middle value; with ten classes no class would be flagged."""
    from labkit.checks.m05_backdoors import _reference_mad

    index = _reference_mad([1.0, 2.0, 3.0, 10.0])  # median 2.5; deviations 1.5, 0.5, 0.5, 7.5; MAD 1.0
    assert index.tolist() == pytest.approx([v / 1.4826 for v in (1.5, 0.5, 0.5, 7.5)])
    from tests.answers.m05 import anomaly_torch_median

    result = run_check("05.mad", anomaly_torch_median)
    assert not result.passed and "even" in result.message


def test_learner_exceptions_are_reported_without_a_traceback_wall():
    def broken(path, expected):
        return undefined_name  # noqa: F821 - deliberately broken learner code

    result = run_check("00.integrity", broken)
    assert result.status == "error" and "NameError" in result.message
    assert "line" in result.message and "Traceback" not in format_result(result)


def test_check_prints_records_progress_and_is_strict_in_tests(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    correct, _ = ANSWERS["00.integrity"]
    check("00.integrity", correct)
    assert "✔" in capsys.readouterr().out
    with pytest.raises(NotImplementedError):
        check("00.integrity", _stub)
    with pytest.raises(CheckDidNotPass):
        check("00.integrity", ANSWERS["00.integrity"][1][0][0])
    assert "✘" in capsys.readouterr().out
    entry = json.loads((tmp_path / "progress.json").read_text())["exercises"]["00.integrity"]
    assert entry["passed"] is True and entry["attempts"] == 3


def test_unknown_exercise_lists_known_ones():
    with pytest.raises(KeyError, match="00.integrity"):
        run_check("00.nope", None)
