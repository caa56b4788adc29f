"""The pinned ATLAS edition, the attack catalogue, and every ATLAS id the course cites."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from labkit.course.coursemap import MODULES
from labkit.integrity import IntegrityError
from labkit.paths import repo_root
from labkit.threats import atlas
from labkit.threats.catalogue import CATALOGUE, PROPERTIES, STAGES, catalogue_rows, cited_atlas_ids, entry
from labkit.threats.classes import ATTACK_CLASSES

ROOT = repo_root()
ID = re.compile(r"AML\.(?:TA|T|M|CS)\d+(?:\.\d+)*")
# Modules that teach an attack or a defence (01 and 02 survey and model threats; 00 is orientation).
ATTACK_OR_DEFENCE = ("03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15")


def test_the_pinned_edition_has_the_documented_counts():
    edition = atlas.load_atlas()
    assert edition.version == atlas.PINNED_VERSION == "5.6.0"
    counts = (
        len(edition.tactics),
        len(edition.techniques),
        len(edition.mitigations),
        len(edition.case_studies),
    )
    assert counts == (16, 170, 35, 57)
    assert atlas.load_atlas() is edition, "parsed once per process"


def test_techniques_know_parents_and_tactics():
    sub = atlas.technique("AML.T0043.004")
    assert sub.name == "Insert Backdoor Trigger" and sub.parent == "AML.T0043" and sub.is_subtechnique
    assert sub.tactics == atlas.technique("AML.T0043").tactics == ("AML.TA0001",)
    assert atlas.technique("AML.T0020").parent is None
    edition = atlas.load_atlas()
    assert all(t in edition.tactics for tech in edition.techniques.values() for t in tech.tactics)
    study = edition.case_studies["AML.CS0019"]
    assert "AML.T0058" in study.techniques and len(set(study.techniques)) == len(study.techniques)
    assert all(t in edition.techniques for m in edition.mitigations.values() for t in m.techniques)


@pytest.mark.parametrize(
    ("typo", "expected"),
    [("AML.T0043.04", "AML.T0043.004"), ("aml.t0020", "AML.T0020"), ("AML.T024.002", "AML.T0024.002")],
)
def test_a_mistyped_id_is_refused_with_the_nearest_valid_ones(typo: str, expected: str):
    with pytest.raises(KeyError) as caught:
        atlas.technique(typo)
    message = str(caught.value)
    assert typo in message and expected in message and "5.6.0" in message
    assert expected in atlas.nearest_ids(typo)


def test_nearest_ids_by_name_and_pool():
    assert atlas.nearest_ids("Poison Training Data", 1) == ["AML.T0020"]
    assert len(atlas.nearest_ids("poison", 5)) == 5
    assert atlas.nearest_ids("Impact", 1, pool="tactics") == ["AML.TA0011"]
    with pytest.raises(ValueError, match="pool"):
        atlas.nearest_ids("x", pool="people")


def test_check_ids_names_the_first_unknown_one():
    assert atlas.check_ids(["AML.T0020", "AML.T0015"]) == ("AML.T0020", "AML.T0015")
    with pytest.raises(KeyError, match=r"threats\[1\] 'AML\.T0999'"):
        atlas.check_ids(["AML.T0020", "AML.T0999"], name="threats")
    with pytest.raises(TypeError, match="list"):
        atlas.check_ids("AML.T0020")


def test_a_tampered_copy_is_refused(tmp_path: Path):
    copy = tmp_path / "datasets"
    shutil.copytree(ROOT / "datasets", copy)
    path = copy / "atlas" / "ATLAS.yaml"
    path.write_bytes(path.read_bytes().replace(b"Poison Training Data", b"Poison Trainings Data"))
    with pytest.raises(IntegrityError):
        atlas.load_atlas(copy)


def test_parse_refuses_what_is_not_an_atlas_file():
    with pytest.raises(ValueError, match="matrices"):
        atlas.parse_atlas(b"id: x\n", source="x.yaml")
    with pytest.raises(ValueError, match="YAML"):
        atlas.parse_atlas(b"a: [", source="x.yaml")
    with pytest.raises(ValueError, match="lacks 'id'"):
        atlas.parse_atlas(
            b"version: 1\nmatrices:\n- {tactics: [], techniques: [{name: n}], mitigations: []}\n"
        )


def test_the_catalogue_is_the_taxonomy_in_order():
    assert tuple(a.key for a in CATALOGUE) == ATTACK_CLASSES
    for attack in CATALOGUE:
        assert attack.violates in PROPERTIES and set(attack.also_violates) <= set(PROPERTIES)
        assert attack.violates not in attack.also_violates
        assert attack.stage in STAGES
        assert attack.atlas and attack.defences and attack.modules and attack.scenario and attack.access
    assert entry("poisoning").violates == "integrity"
    privacy = ("model_stealing", "model_inversion", "membership_inference", "malicious_provider")
    assert {entry(k).violates for k in privacy} == {"confidentiality"}
    with pytest.raises(KeyError, match="choose one of"):
        entry("evasion")
    assert len(catalogue_rows()) == len(CATALOGUE)


def test_every_catalogue_id_exists_in_the_pinned_edition():
    assert atlas.check_ids(list(cited_atlas_ids())) == cited_atlas_ids()


def test_the_catalogue_covers_every_module_that_teaches_an_attack_or_defence():
    numbers = {m.number for m in MODULES}
    named = {n for attack in CATALOGUE for n in attack.modules}
    assert named <= numbers, f"modules not in the course map: {sorted(named - numbers)}"
    assert set(ATTACK_OR_DEFENCE) <= numbers
    missing = sorted(set(ATTACK_OR_DEFENCE) - named)
    assert not missing, f"no catalogue entry names modules {missing}"


def cited_files() -> list[Path]:
    """Where the course cites ATLAS ids: labkit (catalogue, threat models, checks), notebooks, docs."""
    files = sorted((ROOT / "labkit").rglob("*.py"))
    files += sorted((ROOT / "solutions").glob("*.ipynb")) + sorted((ROOT / "labs").glob("*.ipynb"))
    files += sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md", ROOT / "datasets" / "README.md"]
    files += sorted((ROOT / "datasets" / "requirements").glob("*.json"))
    return [p for p in files if p.is_file()]


def test_every_atlas_id_the_course_cites_exists_in_the_pinned_edition():
    edition = atlas.load_atlas()
    known = (
        set(edition.techniques) | set(edition.tactics) | set(edition.mitigations) | set(edition.case_studies)
    )
    cited: dict[str, set[str]] = {}
    for path in cited_files():
        for found in ID.findall(path.read_text(encoding="utf-8")):
            cited.setdefault(found, set()).add(str(path.relative_to(ROOT)))
    assert set(cited_atlas_ids()) <= set(cited), "the search missed ids the catalogue cites"
    unknown = {i: sorted(where) for i, where in cited.items() if i not in known}
    assert not unknown, f"ids not in ATLAS {edition.version}: {unknown}"
