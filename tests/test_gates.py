"""Security gates: requirements, pytest runs and artifact scans behave like CI steps."""

from __future__ import annotations

import pytest
import torch

from labkit.release.gates import (
    GateRun,
    RequirementResult,
    RobustnessRequirement,
    evaluate_requirement,
    gate_file,
    run_picklescan,
    run_pytest,
)

# GLOBAL posix.system, the argument "echo pwned", REDUCE: what a malicious checkpoint does on load.
# It is only ever written and scanned here, never unpickled.
MALICIOUS_PICKLE = b"\x80\x04cposix\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R."


def test_requirement_validates_and_reads_as_a_sentence():
    req = RobustnessRequirement("SR-3", "digits_cnn", epsilon=0.3, min_accuracy=0.7)
    assert req.text() == (
        "SR-3: digits_cnn keeps accuracy >= 70% under PGD-20 at L-inf epsilon 0.3 "
        "on the first 200 test digits."
    )
    with pytest.raises(ValueError, match="fraction"):
        RobustnessRequirement("bad", "digits_cnn", epsilon=0.3, min_accuracy=70)
    with pytest.raises(ValueError, match="epsilon >= 0"):
        RobustnessRequirement("bad", "digits_cnn", epsilon=-0.1, min_accuracy=0.7)
    with pytest.raises(ValueError, match="steps >= 1"):
        RobustnessRequirement("bad", "digits_cnn", epsilon=0.1, min_accuracy=0.7, steps=0)


def test_requirement_result_passes_at_the_bar_and_fails_below():
    req = RobustnessRequirement("R", "digits_cnn", epsilon=0.1, min_accuracy=0.5)
    assert RequirementResult(req, 0.5).passed and RequirementResult(req, 0.9).summary().startswith("PASS R")
    low = RequirementResult(req, 0.25)
    assert not low.passed and low.summary() == "FAIL R: digits_cnn measured 25.0%, required >= 50%"


def test_evaluate_requirement_attacks_the_named_model():
    torch.manual_seed(0)
    clean = evaluate_requirement(
        RobustnessRequirement("clean", "digits_cnn", epsilon=0.0, min_accuracy=0.9, steps=2, n=20)
    )
    attacked = evaluate_requirement(
        RobustnessRequirement("hard", "digits_cnn", epsilon=0.3, min_accuracy=0.5, steps=10, n=20)
    )
    assert clean.passed and clean.accuracy >= 0.9
    assert not attacked.passed and attacked.accuracy <= 0.2
    with pytest.raises(ValueError, match="holds 1000"):
        evaluate_requirement(
            RobustnessRequirement("big", "digits_cnn", epsilon=0.1, min_accuracy=0.5, n=5000)
        )


def test_gate_file_writes_under_the_user_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    path = gate_file("robustness", "def test_x():\n    pass\n")
    assert path == tmp_path / "gates" / "test_robustness.py" and path.read_text().startswith("def test_x")
    assert gate_file("other", "", directory=tmp_path / "ci").parent == tmp_path / "ci"
    with pytest.raises(ValueError, match="names a file"):
        gate_file("../escape", "")


def test_run_pytest_reports_pass_fail_and_nothing_collected(tmp_path):
    good = gate_file(
        "good",
        "def test_a():\n    assert 1 + 1 == 2\n\ndef test_b():\n    pass\n",
        directory=tmp_path / "good",
    )
    bad = gate_file(
        "bad",
        "def test_a():\n    assert 0.42 >= 0.7, 'SR-3 missed'\n\ndef test_b():\n    pass\n",
        directory=tmp_path / "bad",
    )
    empty = gate_file("empty", "def check_a():\n    assert False\n", directory=tmp_path / "empty")
    passed, failed, nothing = run_pytest(good), run_pytest(bad), run_pytest(empty)
    assert isinstance(passed, GateRun)
    assert passed.ok and (passed.returncode, passed.passed, passed.failed) == (0, 2, 0)
    assert not failed.ok and (failed.returncode, failed.passed, failed.failed) == (1, 1, 1)
    assert "SR-3 missed" in failed.output and "failed" in failed.tail(3)
    assert not nothing.ok and nothing.returncode == 5  # a gate that tests nothing must not pass
    assert not list(tmp_path.rglob("__pycache__"))
    with pytest.raises(FileNotFoundError, match="write the gate file"):
        run_pytest(tmp_path / "missing.py")


def test_run_picklescan_flags_a_malicious_pickle_and_passes_safetensors(tmp_path):
    from safetensors.torch import save_file

    (tmp_path / "checkpoint.pkl").write_bytes(MALICIOUS_PICKLE)
    save_file({"weight": torch.zeros(2, 2)}, str(tmp_path / "model.safetensors"))
    folder = run_picklescan(tmp_path)
    assert not folder.ok and folder.returncode == 1 and folder.failed == 1
    assert "system" in folder.output
    single = run_picklescan(tmp_path / "model.safetensors")
    assert single.ok and (single.passed, single.failed) == (1, 0)
    renamed = tmp_path / "innocent.txt"  # a single file is scanned whatever its name
    renamed.write_bytes(MALICIOUS_PICKLE)
    assert run_picklescan(renamed).returncode == 1
    with pytest.raises(FileNotFoundError):
        run_picklescan(tmp_path / "missing")


def test_shipped_artifacts_scan_clean():
    from labkit.paths import datasets_dir

    result = run_picklescan(datasets_dir())
    assert result.ok and result.failed == 0, result.output


def test_run_picklescan_scans_a_directory_by_content_not_by_extension(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(MALICIOUS_PICKLE)  # renamed pickles, in a folder
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "notes.txt").write_bytes(MALICIOUS_PICKLE)
    (tmp_path / "README.md").write_text("# artifacts\n")
    scan = run_picklescan(tmp_path)
    assert not scan.ok and scan.returncode == 1 and (scan.passed, scan.failed) == (1, 2), scan.output
    assert "model.safetensors" in scan.output and "notes.txt" in scan.output


def test_run_picklescan_fails_closed_when_it_saw_nothing(tmp_path):
    empty = run_picklescan(tmp_path)
    assert not empty.ok and empty.returncode == 2 and "found no file" in empty.output
    (tmp_path / "weights.npz").write_bytes(b"not really anything")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone.pkl")  # present, but cannot be scanned
    partial = run_picklescan(tmp_path)
    assert not partial.ok and partial.returncode == 2, partial.output
    assert "scanned 1 of 2 files" in partial.output and "dangling" in partial.output
    assert (partial.passed, partial.failed) == (1, 1)


def test_run_picklescan_counts_every_clean_file(tmp_path):
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(2, 2)}, str(tmp_path / "a.safetensors"))
    (tmp_path / "card.json").write_text('{"name": "a"}')
    (tmp_path / "empty.bin").write_bytes(b"")  # holds nothing, still counted as looked at
    scan = run_picklescan(tmp_path)
    assert scan.ok and (scan.passed, scan.failed) == (3, 0), scan.output


class _Payload:
    def __reduce__(self) -> tuple:
        import os

        return (os.system, ("true",))


def test_a_pickle_with_garbage_after_its_payload_is_flagged_and_plain_text_passes(tmp_path):
    """picklescan stops at the first unreadable opcode; so does unpickling. A payload before that point is
    still flagged; text whose bytes happen to start like opcodes (a YAML rule, a licence) is not an error."""
    import pickle

    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "weights.txt").write_bytes(pickle.dumps(_Payload(), protocol=0)[:-1] + b"\xff garbage")
    flagged = run_picklescan(evil)
    assert not flagged.ok and flagged.failed == 1, flagged.output

    text = tmp_path / "text"
    text.mkdir()
    (text / "rule.yml").write_text("title: bursts of near-duplicate queries\nlevel: high\n")
    (text / "LICENSE").write_text("Apache License\n  Version 2.0, January 2004\n")
    clean = run_picklescan(text)
    assert clean.ok and (clean.passed, clean.failed) == (2, 0), clean.output
