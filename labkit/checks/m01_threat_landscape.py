"""Hidden tests for module 01 (the threat landscape)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from labkit.checks.framework import CheckFailed, exercise

# Salted digests of the write-ups' answers (attack, property, stage): graded without being readable.
SALT = "886ed0bf70e2a52fd0300dbbd0a409b4"
KEY = {
    "I-1": ("ccefba3822fe8cc5d9adb33a", "04f4c29c87fce384ef581e74", "4dde665acf7d6b09eb516703"),
    "I-2": ("767f02147b6af280278e27c4", "2020fa7766470efb85bcfc56", "2c9aac4908f7e41668ad52d5"),
    "I-3": ("60cdd365adbe4b96c81ec6f4", "ba2d78e0b2df7daf2746d17a", "881de938002613b2b9d4c3ae"),
    "I-4": ("efa9444ea3cdf201b912538b", "c51894ba67672229a8bfe064", "be3c9bfb3f8705f2cca4d74d"),
    "I-5": ("a9029a6a240796eec80be784", "a1fca9bf5b440bd59bb06309", "0cc845eb75ded85307ad7711"),
    "I-6": ("c398924c1071f8d1448592a0", "429bcce94265c267ab1627df", "eb2633d5ced4006a19fcc1b6"),
    "I-7": ("2798350017644d8703e53587", "02bca501f0258f0dfb5de4b4", "072df20f8f10c68457a9b908"),
    "I-8": ("d97bd14df649ceff3b5a41d7", "c39e30e530cc14fa4c5ffaf0", "9aad08196a3c6dee554e9b7e"),
}
FIELDS = ("attack", "violates", "stage")
DIAGNOSIS = {
    "attack": "the attack class is not right: what did the attacker control, and at which point?",
    "violates": "the violated property is not right: confidentiality is about what an attacker learns, "
    "integrity about what they change, availability about what they deny.",
    "stage": "the SDL stage is not right: it is the stage where the defence belonged, not where the "
    "incident surfaced.",
}


def _digest(incident: str, field: str, value: str) -> str:
    return hashlib.sha256(f"{SALT}|{incident}|{field}|{value}".encode()).hexdigest()[:24]


@exercise(
    "01.classify",
    title="classify incident write-ups by attack, property and SDL stage",
    hint="Read each write-up for three things: what the attacker controlled, what they gained or changed, "
    "and where in the lifecycle a defence would have stopped it. The catalogue table is your reference.",
)
def _check_classify(classify: Any) -> str:
    from labkit.threats.catalogue import PROPERTIES, STAGES
    from labkit.threats.classes import ATTACK_CLASSES

    vocabulary = {"attack": ATTACK_CLASSES, "violates": PROPERTIES, "stage": STAGES}
    wrong: list[str] = []
    for incident, digests in KEY.items():
        answer = classify(incident)
        if not isinstance(answer, (tuple, list)) or len(answer) != 3:
            raise CheckFailed(
                f"classify({incident!r}) should return (attack, violates, stage), got {answer!r}."
            )
        for field, value, digest in zip(FIELDS, answer, digests, strict=True):
            if not isinstance(value, str) or value not in vocabulary[field]:
                raise CheckFailed(
                    f"{incident}: {field} {value!r} is not one of {', '.join(vocabulary[field])} "
                    "(the catalogue's spelling, exactly)."
                )
            if _digest(incident, field, value) != digest:
                wrong.append(f"{incident}: {DIAGNOSIS[field]}")
    if wrong:
        shown = "\n   ".join(wrong[:4])
        more = f" (and {len(wrong) - 4} more)" if len(wrong) > 4 else ""
        raise CheckFailed(f"{len(wrong)} of {3 * len(KEY)} answers are not right{more}:\n   {shown}")
    return f"All {len(KEY)} write-ups classified: attack, property and stage."


def _reference_plan(track: Sequence[str]) -> dict[str, list[str]]:
    from labkit.threats.catalogue import plan_for_track

    return plan_for_track(list(track))


@exercise(
    "01.track_plan",
    title="map each attack to the modules of a track that practise it",
    hint="Loop over the catalogue, and for each attack keep the modules of the given track that practise "
    "it, in the track's order. An attack nobody practises on that track is a finding, not noise.",
)
def _check_track_plan(track_plan: Any) -> str:
    from labkit.course.coursemap import TRACKS

    cases = [*TRACKS.values(), ("14", "05"), ("07",)]
    gaps = 0
    for track in cases:
        on = f"for track {list(track)}"
        expected = _reference_plan(track)
        got = track_plan(list(track))
        if not isinstance(got, dict):
            raise CheckFailed(
                f"it should return a dict (attack key -> list of modules), got {type(got).__name__}."
            )
        missing = [k for k in expected if k not in got]
        if missing and all(not expected[k] for k in missing):
            raise CheckFailed(
                f"{on} it leaves out {', '.join(missing)}: an attack with no module on the "
                "track is a gap, and the plan must show it (an empty list)."
            )
        if missing or set(got) != set(expected):
            raise CheckFailed(f"{on} the keys should be every catalogue key, got {sorted(got)}.")
        for key, modules in expected.items():
            mine = got[key]
            if not isinstance(mine, list) or not all(isinstance(m, str) for m in mine):
                raise CheckFailed(
                    f"{key}: modules should be a list of two-digit strings such as '06', got {mine!r}."
                )
            if set(mine) - set(track):
                raise CheckFailed(
                    f"{on}, {key} lists modules that are not on the track: {sorted(set(mine) - set(track))}."
                )
            if set(mine) == set(modules) and mine != modules:
                raise CheckFailed(
                    f"{on}, {key}: the right modules in the wrong order; keep the track's order."
                )
            if set(mine) < set(modules):
                raise CheckFailed(
                    f"{on}, {key} misses modules: list every module on the track that practises it."
                )
            if mine != modules:
                raise CheckFailed(f"{on}, {key}: got {mine}, which is not what the catalogue says.")
        gaps += sum(not m for m in expected.values())
    return f"Plans for {len(cases)} tracks right, gaps included ({gaps} attack-track gaps in all)."


def _reference_matches(technique_ids: Sequence[str]) -> list[str]:
    from labkit.threats.atlas import case_studies_using

    return case_studies_using(list(technique_ids))


@exercise(
    "01.case_studies",
    title="find the ATLAS case studies of an attack class",
    hint="A case study matches when a technique its procedure used is one of the given ids, or a "
    "sub-technique of one of them. Return case-study ids, each once, in the edition's order.",
)
def _check_case_studies(matching: Any) -> str:
    from labkit.threats.atlas import load_atlas
    from labkit.threats.catalogue import CATALOGUE

    edition = load_atlas()
    names = {s.name for s in edition.case_studies.values()}
    cases = [list(a.signature) for a in CATALOGUE] + [["AML.T0043"], ["AML.T0043.004"], ["AML.T0024.002"], []]
    found = 0
    for ids in cases:
        expected = _reference_matches(ids)
        got = matching(list(ids))
        if not isinstance(got, list) or not all(isinstance(g, str) for g in got):
            raise CheckFailed(f"it should return a list of case-study ids (strings), got {got!r}.")
        if got and all(g in names for g in got):
            raise CheckFailed(
                "it returns case-study names: return their ids (AML.CS...), which do not change."
            )
        if len(set(got)) != len(got):
            raise CheckFailed(f"for {ids} it lists a case study more than once: each should appear once.")
        extra, missed = set(got) - set(expected), set(expected) - set(got)
        if missed:
            raise CheckFailed(
                f"for {ids} it misses {len(missed)} case stud(ies) whose procedure uses a sub-technique of a "
                "given id: a parent id stands for its sub-techniques too."
                if any(i in {t.parent for t in edition.techniques.values()} for i in ids)
                else f"for {ids} it misses {len(missed)} case stud(ies) that use one of the given ids."
            )
        if extra:
            family = {i.split(".")[0] + "." + i.split(".")[1] for i in ids}
            siblings = all(
                any(
                    t.split(".")[0] + "." + t.split(".")[1] in family
                    for t in edition.case_studies[c].techniques
                )
                for c in extra
                if c in edition.case_studies
            )
            raise CheckFailed(
                f"for {ids} it is too broad: {len(extra)} case stud(ies) only use a sibling sub-technique "
                "(same parent, a different technique), which is another attack."
                if siblings
                else f"for {ids} it includes {len(extra)} case stud(ies) that use none of the given ids."
            )
        if got != expected:
            raise CheckFailed(f"for {ids} the right case studies in another order: keep the edition's order.")
        found += len(got)
    return f"Right for {len(cases)} queries ({found} matches in all, ATLAS {edition.version})."
