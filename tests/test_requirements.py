"""Security requirements as data: building, saving, and strict (fail-closed) loading."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from labkit.threats.requirements import (
    KINDS,
    REFERENCE,
    SCHEMA,
    ArtifactSigned,
    MembershipAdvantage,
    NoPickleArtifacts,
    PredictionsLogged,
    Requirements,
    RequirementsError,
    RobustAccuracy,
    load_requirements,
    parse_requirements,
    reference_requirements,
    save_requirements,
)


def sample() -> Requirements:
    return Requirements(
        system="cheque reader",
        items=(
            RobustAccuracy(
                id="SR-1",
                text="robust",
                mitigates="adversarial_examples",
                epsilon=0.1,
                norm="linf",
                minimum=0.7,
                samples=200,
            ),
            NoPickleArtifacts(id="SR-2", text="no pickle", mitigates="supply_chain"),
            ArtifactSigned(id="SR-3", text="signed", mitigates="backdoored_models"),
            MembershipAdvantage(
                id="SR-4", text="mia", mitigates="membership_inference", maximum=0.1, measure="auc_minus_half"
            ),
            PredictionsLogged(id="SR-5", text="logged", mitigates="model_stealing"),
        ),
    )


def document() -> dict:
    return json.loads(json.dumps({"schema": SCHEMA, "version": 1, "system": "s", "requirements": [
        {"id": "SR-1", "kind": "robust_accuracy", "text": "t", "mitigates": "adversarial_examples",
         "epsilon": 0.1, "norm": "linf", "minimum": 0.5, "samples": 100},
        {"id": "SR-2", "kind": "membership_advantage", "text": "t", "mitigates": "membership_inference",
         "maximum": 0.2, "measure": "tpr_minus_fpr"},
    ]}))  # fmt: skip


def test_round_trip(tmp_path: Path):
    reqs = sample()
    path = save_requirements(reqs, tmp_path / "sub" / "reqs.json")
    assert load_requirements(path) == reqs
    saved = json.loads(path.read_text())
    assert saved["schema"] == SCHEMA and saved["version"] == 1
    assert [r["kind"] for r in saved["requirements"]] == [r.kind for r in reqs]
    assert not list(path.parent.glob(".*tmp")), "the temporary file is left behind"


def test_a_plain_list_needs_a_system(tmp_path: Path):
    items = list(sample())
    path = save_requirements(items, tmp_path / "r.json", system="cheque reader")
    assert load_requirements(path).system == "cheque reader"
    with pytest.raises(RequirementsError, match="system"):
        save_requirements(items, tmp_path / "r2.json")


def test_lookups():
    reqs = sample()
    assert reqs.by_id("SR-4").kind == "membership_advantage"
    assert [r.id for r in reqs.of_kind("artifact_signed")] == ["SR-3"]
    with pytest.raises(KeyError, match="SR-9"):
        reqs.by_id("SR-9")
    assert set(KINDS) == {
        "robust_accuracy",
        "no_pickle_artifacts",
        "artifact_signed",
        "membership_advantage",
        "predictions_logged",
    }


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["requirements"][0].update(kind="robust"), ["kind", "'robust'", "robust_accuracy"]),
        (lambda d: d["requirements"][0].pop("epsilon"), ["missing", "epsilon"]),
        (lambda d: d["requirements"][0].update(extra=1), ["unknown", "extra"]),
        (lambda d: d["requirements"][0].update(epsilon="0.1"), ["epsilon", "'0.1'", "finite number"]),
        (lambda d: d["requirements"][0].update(epsilon=True), ["epsilon", "True"]),
        (lambda d: d["requirements"][0].update(epsilon=0), ["epsilon", "(0, 1]"]),
        (lambda d: d["requirements"][0].update(epsilon=1.5), ["epsilon", "1.5"]),
        (lambda d: d["requirements"][0].update(minimum=1.2), ["minimum", "[0, 1]"]),
        (lambda d: d["requirements"][0].update(norm="Linf"), ["norm", "'Linf'", "linf, l2"]),
        (lambda d: d["requirements"][0].update(samples=0), ["samples", "1 to 10000"]),
        (lambda d: d["requirements"][0].update(samples=2.0), ["samples", "2.0"]),
        (lambda d: d["requirements"][0].update(mitigates="evasion"), ["mitigates", "'evasion'", "poisoning"]),
        (lambda d: d["requirements"][0].update(id="sr1"), ["id", "'sr1'", "SR-3"]),
        (lambda d: d["requirements"][0].update(text=" "), ["text", "non-empty"]),
        (lambda d: d["requirements"][1].update(id="SR-1"), ["requirements[1].id", "unique"]),
        (lambda d: d["requirements"][1].update(measure="auc"), ["measure", "tpr_minus_fpr"]),
        (lambda d: d["requirements"][1].update(measure="auc_minus_half", maximum=0.6), ["maximum", "0.5"]),
        (lambda d: d["requirements"][1].update(maximum=None), ["maximum", "None"]),
        (lambda d: d.update(requirements=[]), ["requirements", "non-empty"]),
        (lambda d: d.update(requirements={}), ["requirements", "list"]),
        (lambda d: d.update(schema="other"), ["schema", "'other'"]),
        (lambda d: d.update(version=2), ["version", "2"]),
        (lambda d: d.update(version=True), ["version", "True"]),
        (lambda d: d.update(system=""), ["system", "non-empty"]),
        (lambda d: d.pop("system"), ["missing", "system"]),
        (lambda d: d.update(comment="x"), ["unknown", "comment"]),
        (lambda d: d["requirements"].append("SR-3"), ["requirements[2]", "JSON object"]),
    ],
)
def test_bad_documents_are_refused_naming_file_field_value_and_what_is_allowed(tmp_path: Path, change, words):
    doc = document()
    change(doc)
    path = tmp_path / "reqs.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(RequirementsError) as caught:
        load_requirements(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", ["empty"]),
        ("   \n", ["empty"]),
        ("{", ["not valid JSON"]),
        ("[]", ["JSON object"]),
        ('{"schema": 1, "schema": 2}', ["'schema'", "twice"]),
        (json.dumps(document()).replace("0.1", "NaN"), ["NaN"]),
        (json.dumps(document()).replace("0.1", "Infinity"), ["Infinity"]),
    ],
)
def test_unreadable_text_is_refused(tmp_path: Path, text: str, words: list[str]):
    path = tmp_path / "reqs.json"
    path.write_text(text)
    with pytest.raises(RequirementsError) as caught:
        load_requirements(path)
    assert str(path) in str(caught.value)
    for word in words:
        assert word in str(caught.value)


def test_binary_missing_and_directory_files_are_refused(tmp_path: Path):
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RequirementsError, match="UTF-8"):
        load_requirements(binary)
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        load_requirements(tmp_path / "nothing.json")
    with pytest.raises(FileNotFoundError, match="path"):
        load_requirements(tmp_path)


def test_building_a_requirement_checks_its_fields():
    with pytest.raises(RequirementsError, match="epsilon"):
        RobustAccuracy(
            id="SR-1", text="t", mitigates="poisoning", epsilon=math.nan, norm="l2", minimum=0.5, samples=1
        )
    with pytest.raises(RequirementsError, match="items"):
        Requirements(system="s", items=())
    one = NoPickleArtifacts(id="SR-1", text="t", mitigates="supply_chain")
    with pytest.raises(RequirementsError, match="unique"):
        Requirements(system="s", items=(one, one))
    with pytest.raises(AttributeError):
        one.id = "SR-2"  # type: ignore[misc]


def test_l2_allows_a_larger_epsilon():
    RobustAccuracy(id="SR-1", text="t", mitigates="poisoning", epsilon=2.0, norm="l2", minimum=0.5, samples=1)
    with pytest.raises(RequirementsError, match="epsilon"):
        RobustAccuracy(
            id="SR-1", text="t", mitigates="poisoning", epsilon=2.0, norm="linf", minimum=0.5, samples=1
        )


def test_the_shipped_reference_requirements_load_and_cover_every_kind():
    reqs = reference_requirements()
    assert reqs.system == "cheque reader"
    assert {r.kind for r in reqs} == set(KINDS)
    assert REFERENCE == "requirements/cheque_reader.json"


def test_parse_names_its_source():
    assert len(parse_requirements(json.dumps(document()), source="inline")) == 2
    with pytest.raises(RequirementsError, match="^inline: "):
        parse_requirements("{}", source="inline")


def test_the_gate_reads_the_learners_file_strictly_else_the_reference(tmp_path: Path, monkeypatch):
    from labkit.threats.requirements import gate_requirements, learner_requirements_path

    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    path = learner_requirements_path()
    assert path == tmp_path / "requirements" / "cheque_reader.json"
    reqs, source = gate_requirements()
    assert reqs == reference_requirements() and "does not exist" in source
    save_requirements(sample(), path)
    reqs, source = gate_requirements()
    assert reqs == sample() and source == str(path)
    path.write_text("{}")
    with pytest.raises(RequirementsError, match="missing"):
        gate_requirements()
