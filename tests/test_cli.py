"""The labkit command line."""

from __future__ import annotations

import pytest

from labkit.cli import main


def test_doctor_is_green(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "All good" in out and "✘" not in out


def test_doctor_reports_a_tampered_dataset(tmp_path, monkeypatch, capsys):
    from tests.helpers import copy_datasets

    target = copy_datasets(tmp_path, "clinic/clinic.npz")
    (target / "clinic/clinic.npz").write_bytes(b"not the data")
    monkeypatch.setenv("LABKIT_DATASETS", str(target))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "✘ datasets/clinic/clinic.npz" in out and "git checkout" in out


def test_build_labs_check_is_clean(capsys):
    assert main(["build-labs", "--check"]) == 0


def test_unknown_zoo_model_is_a_clear_error(capsys):
    assert main(["zoo", "train", "nope"]) == 2
    assert "Available: " in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["nope"], ["zoo"], ["zoo", "fly"], ["data", "build", "extra"], ["--no-such-flag"], []]
)
def test_bad_argv_is_exit_code_2_with_a_message_not_an_exception(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: labkit" in err and "error:" in err and "Traceback" not in err


def test_help_is_exit_code_0(capsys):
    assert main(["--help"]) == 0
    assert "usage: labkit" in capsys.readouterr().out
