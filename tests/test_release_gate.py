"""Module 12: the release gate on the zoo's cheque readers, failing closed; evidence, model card, AI-BOM."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from labkit.paths import datasets_dir
from labkit.release.evidence import parse_evidence, shipped_evidence
from labkit.release.gates import GateRun
from labkit.release.model_signature import SignatureCheck
from labkit.release.release_gate import (
    AuditTest,
    Candidate,
    candidate_from_directory,
    evaluate_gate,
    evaluate_gate_file,
    measured,
    ships,
)
from labkit.threats.requirements import reference_requirements

MODELS = ("digits_cnn", "digits_cnn_robust", "digits_cnn_backdoored")
LOGGED = AuditTest(answered=2, refused=2, logged_answered=2, logged_refused=2)


def _release(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(datasets_dir() / "models" / f"{name}.safetensors", folder / "weights.safetensors")
    shutil.copy(datasets_dir() / "models" / f"{name}.json", folder / "card.json")
    return folder


@pytest.fixture(scope="module")
def candidates(tmp_path_factory) -> dict[str, Candidate]:
    root = tmp_path_factory.mktemp("release")
    evidence = shipped_evidence()
    return {
        name: candidate_from_directory(
            name,
            _release(root, name),
            signature=SignatureCheck(True, ""),
            evidence=evidence[name],
            audit=LOGGED,
        )
        for name in MODELS
    }


def test_the_gate_ships_only_the_robust_reader_and_says_why(candidates):
    """The decisions module 12's notebook reports: the requirement each blocked model fails."""
    requirements = reference_requirements()
    failed = {
        n: [v.requirement for v in evaluate_gate(requirements, c) if not v.passed]
        for n, c in candidates.items()
    }
    assert failed == {"digits_cnn": ["SR-1"], "digits_cnn_robust": [], "digits_cnn_backdoored": ["SR-1"]}
    assert ships(evaluate_gate(requirements, candidates["digits_cnn_robust"]))


def test_shipped_evidence_is_bound_to_the_shipped_weights():
    from labkit.integrity import read_manifest

    manifest = read_manifest()
    for name, item in shipped_evidence().items():
        assert item.weights_sha256 == manifest[f"models/{name}.safetensors"]


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"signature": None}, ["SR-3"]),
        ({"signature": SignatureCheck(False, "Key mismatch")}, ["SR-3"]),
        ({"evidence": None}, ["SR-1", "SR-4"]),
        ({"weights_sha256": "0" * 64}, ["SR-1", "SR-4"]),
        ({"audit": None}, ["SR-5"]),
        ({"audit": AuditTest(2, 2, 2, 1)}, ["SR-5"]),
        ({"audit": AuditTest(0, 0, 0, 0)}, ["SR-5"]),
        ({"scan": None}, ["SR-2"]),
        ({"scan": GateRun(2, 0, 0, "labkit: FAIL: found no file")}, ["SR-2"]),
        ({"formats": {}}, ["SR-2"]),
        ({"formats": {"weights.safetensors": "safetensors", "old.pt": "torch-zip"}}, ["SR-2"]),
    ],
)
def test_anything_missing_or_wrong_blocks_the_release(candidates, change, failing):
    from dataclasses import replace

    candidate = replace(candidates["digits_cnn_robust"], **change)
    verdicts = evaluate_gate(reference_requirements(), candidate)
    assert [v.requirement for v in verdicts if not v.passed] == failing
    assert not ships(verdicts)


def test_an_unknown_kind_and_an_unreadable_file_fail_closed(candidates, tmp_path):
    from types import SimpleNamespace

    robust = candidates["digits_cnn_robust"]
    odd = SimpleNamespace(id="SR-9", kind="energy_budget")
    assert measured(odd, robust).value is None
    (verdict,) = evaluate_gate([odd], robust)
    assert not verdict.passed and "NOT EVALUATED" in verdict.reason
    broken = tmp_path / "requirements.json"
    broken.write_text("{", encoding="utf-8")
    for path in (broken, tmp_path / "missing.json"):
        verdicts = evaluate_gate_file(path, robust)
        assert len(verdicts) == 1 and not ships(verdicts) and "NOT EVALUATED" in verdicts[0].reason
    with pytest.raises(ValueError, match="empty"):
        evaluate_gate([], robust)
    assert not ships([])


def test_evidence_file_is_read_strictly():
    text = (datasets_dir() / "release" / "evidence.json").read_text()
    document = json.loads(text)
    document["models"]["digits_cnn"]["clean_accuracy"] = float("nan")
    with pytest.raises(ValueError, match="clean_accuracy"):
        parse_evidence(json.dumps(document))
    with pytest.raises(ValueError, match="is not a labkit-release-evidence"):
        parse_evidence('{"format": "other"}')


def test_model_card_and_ai_bom_are_valid_cyclonedx_with_the_measured_numbers(candidates):
    from labkit.release.aibom import DatasetEntry, ModelEntry, ai_bom
    from labkit.release.modelcard import build_model_card, card_markdown

    requirements = reference_requirements()
    evidence = shipped_evidence()
    cards = {
        name: build_model_card(
            name,
            description="a cheque reader",
            evidence=evidence[name],
            scan=c.scan,
            signature=c.signature,
            verdicts=evaluate_gate(requirements, c),
        )
        for name, c in candidates.items()
    }
    metrics = cards["digits_cnn"]["quantitativeAnalysis"]["performanceMetrics"]
    robust = next(m for m in metrics if m["type"] == "worst-case robust accuracy")
    assert float(robust["value"]) == evidence["digits_cnn"].robust_accuracy["linf:0.1:200"]
    assert "BLOCKED" in card_markdown("digits_cnn", cards["digits_cnn"])
    assert "SHIPS" in card_markdown("digits_cnn_robust", cards["digits_cnn_robust"])
    digits = DatasetEntry("digits", datasets_dir() / "digits" / "digits.npz", "CC-BY-SA-3.0")
    weights = {name: datasets_dir() / "models" / f"{name}.safetensors" for name in MODELS}
    entries = [ModelEntry(n, "1", weights[n], "MIT", "digits", cards[n]) for n in MODELS]
    document = json.loads(ai_bom(entries, [digits], name="cheque-reader", version="1"))
    kinds = sorted(c["type"] for c in document["components"])
    assert kinds == ["data", *["machine-learning-model"] * 3]
    assert all("modelCard" in c for c in document["components"] if c["type"] == "machine-learning-model")
    broken = dict(cards["digits_cnn"], quantitativeAnalysis={"performanceMetrics": [{"value": 3}]})
    with pytest.raises(ValueError, match="not valid CycloneDX"):
        ai_bom(
            [ModelEntry("digits_cnn", "1", weights["digits_cnn"], "MIT", "digits", broken)],
            [digits],
            name="x",
            version="1",
        )
    with pytest.raises(ValueError, match="names dataset"):
        ai_bom(
            [ModelEntry("digits_cnn", "1", weights["digits_cnn"], "MIT", "mnist")],
            [digits],
            name="x",
            version="1",
        )
