"""Bad-input table for labkit.threats (modules 01 and 02): requirements, ATLAS, catalogue, threat models."""

from __future__ import annotations

from typing import Any

from tests.bad_inputs_cases import INF, NAN, TMP, Bad, Entry

COVERED = ("labkit.threats",)

NOT_INPUT_TAKING = {
    "labkit.threats.requirement_kinds.RequirementsError": "exception",
    "labkit.threats.requirements.learner_requirements_path": "takes no arguments (reads $LABKIT_HOME)",
    "labkit.threats.requirements.gate_requirements": "takes no arguments (reads $LABKIT_HOME; "
    "tests/test_requirements.py)",
    "labkit.threats.atlas.Tactic": "record of the ATLAS edition, built by parse_atlas",
    "labkit.threats.atlas.Technique": "record of the ATLAS edition, built by parse_atlas",
    "labkit.threats.atlas.Mitigation": "record of the ATLAS edition, built by parse_atlas",
    "labkit.threats.atlas.CaseStudy": "record of the ATLAS edition, built by parse_atlas",
    "labkit.threats.atlas.Atlas": "record built by parse_atlas (its methods check their arguments)",
    "labkit.threats.catalogue.Attack": "record of the catalogue, literal in catalogue.py",
    "labkit.threats.catalogue.cited_atlas_ids": "takes no arguments",
    "labkit.threats.catalogue.catalogue_rows": "takes no arguments",
    "labkit.threats.threatmodel.Component": "record; a model's records are checked together by problems()",
    "labkit.threats.threatmodel.Actor": "record; a model's records are checked together by problems()",
    "labkit.threats.threatmodel.Asset": "record; a model's records are checked together by problems()",
    "labkit.threats.threatmodel.DataFlow": "record; a model's records are checked together by problems()",
    "labkit.threats.threatmodel.Threat": "record; a model's records are checked together by problems()",
    "labkit.threats.threatmodel.Mitigation": "record; a model's records are checked together by problems()",
    "labkit.threats.threatmodel.ThreatModel": "record; a model's records are checked together by problems()",
    "labkit.threats.threatmodel.ThreatModelError": "exception",
    "labkit.threats.cheque_reader.system": "takes no arguments",
    "labkit.threats.cheque_reader.reference_model": "takes no arguments",
}

KINDS = "labkit.threats.requirement_kinds"
REQS = "labkit.threats.requirements"
COMMON_BAD: dict[str, list[Any]] = {
    "id": ["sr-1", "", 3, None],
    "text": ["", "  ", 3],
    "mitigates": ["evasion", "Poisoning", None],
}


def _common(mitigates: str = "adversarial_examples") -> dict[str, Any]:
    return dict(id="SR-1", text="a sentence", mitigates=mitigates)


def _robust() -> dict[str, Any]:
    return dict(_common(), epsilon=0.1, norm="linf", minimum=0.5, samples=10)


def _membership() -> dict[str, Any]:
    return dict(_common("membership_inference"), maximum=0.1, measure="auc_minus_half")


def _requirements() -> Any:
    from labkit.threats.requirement_kinds import NoPickleArtifacts, Requirements

    return Requirements(system="s", items=(NoPickleArtifacts(**_common("supply_chain")),))


def _saved() -> str:
    from labkit.threats.requirements import save_requirements

    return str(save_requirements(_requirements(), TMP / "m01m02-requirements.json"))


def cases() -> dict[str, Entry]:
    from labkit.threats.requirement_kinds import NoPickleArtifacts, Requirement

    return {
        **_threat_cases(),
        f"{KINDS}.Requirement": Entry(_common, dict(COMMON_BAD)),
        f"{KINDS}.RobustAccuracy": Entry(
            _robust,
            {
                **COMMON_BAD,
                "epsilon": [NAN, INF, 0.0, -0.1, "0.1", True, 1.5],
                "norm": ["Linf", "inf", None],
                "minimum": [NAN, -0.1, 1.5, "0.5"],
                "samples": [0, -1, True, 2.5, "3", 10001],
            },
        ),
        f"{KINDS}.NoPickleArtifacts": Entry(lambda: _common("supply_chain"), dict(COMMON_BAD)),
        f"{KINDS}.ArtifactSigned": Entry(lambda: _common("supply_chain"), dict(COMMON_BAD)),
        f"{KINDS}.PredictionsLogged": Entry(lambda: _common("model_stealing"), dict(COMMON_BAD)),
        f"{KINDS}.MembershipAdvantage": Entry(
            _membership,
            {**COMMON_BAD, "maximum": [NAN, -0.1, 0.6, "0.1", None], "measure": ["auc", "TPR", None]},
        ),
        f"{KINDS}.Requirements": Entry(
            lambda: dict(system="s", items=(NoPickleArtifacts(**_common("supply_chain")),)),
            {
                "system": ["", " ", None],
                "items": [
                    (),
                    [NoPickleArtifacts(**_common("supply_chain"))],
                    ("SR-1",),
                    (Requirement(**_common()),),
                    (NoPickleArtifacts(**_common("supply_chain")),) * 2,
                ],
            },
        ),
        f"{REQS}.save_requirements": Entry(
            lambda: dict(reqs=_requirements(), path=TMP / "m01m02-save.json", system=None),
            {
                "reqs": [None, "SR-1", [NoPickleArtifacts(**_common("supply_chain")), "x"]],
                "path": [None, "", 3],
                "system": ["", 3],
            },
        ),  # fmt: skip
        f"{REQS}.parse_requirements": Entry(
            lambda: dict(text=(TMP / "m01m02-requirements.json").read_text() if _saved() else "", source="s"),
            {"text": [None, b"{}", 3], "source": ["", None]},
        ),
        f"{REQS}.load_requirements": Entry(
            lambda: dict(path=_saved()),
            {"path": [None, "", TMP / "m01m02-missing.json", TMP, 3]},
        ),
        f"{REQS}.reference_requirements": Entry(
            lambda: dict(root=None),
            {"root": [3, TMP / "m01m02-missing-dir", ""]},
        ),
    }


ATLAS = "labkit.threats.atlas"
TYPO = ["AML.T0043.04", "aml.t0020", "", None, 3]


def _threat_cases() -> dict[str, Entry]:
    return {
        f"{ATLAS}.parse_atlas": Entry(
            lambda: dict(
                raw=b"version: 1\nmatrices:\n- {tactics: [], techniques: [], mitigations: []}\n", source="s"
            ),
            {"raw": ["text", None, b"a: [", b"id: x\n"], "source": ["", None]},
        ),
        f"{ATLAS}.load_atlas": Entry(lambda: dict(root=None), {"root": [3, "", TMP / "m01m02-no-such-dir"]}),
        f"{ATLAS}.technique": Entry(lambda: dict(technique_id="AML.T0020"), {"technique_id": TYPO}),
        f"{ATLAS}.nearest_ids": Entry(
            lambda: dict(text="poison", k=3, pool="techniques"),
            {"text": ["", None, 3], "k": [0, -1, True, 2.5, "3"], "pool": ["people", None]},
        ),
        f"{ATLAS}.check_ids": Entry(
            lambda: dict(ids=["AML.T0020"], name="ids", pool="techniques"),
            {"ids": ["AML.T0020", None, ["AML.T0043.04"], [3]], "name": ["", None], "pool": ["people"]},
        ),
        **_model_cases(),
        "labkit.threats.catalogue.entry": Entry(
            lambda: dict(key="poisoning"), {"key": ["evasion", "", None]}
        ),
    }


TM = "labkit.threats.threatmodel"
RENDER = "labkit.threats.threatmodel_render"


def _model() -> Any:
    from labkit.threats.cheque_reader import reference_model

    return reference_model()


def _broken() -> Any:
    import dataclasses

    from labkit.threats.threatmodel import Threat

    model = _model()
    return dataclasses.replace(
        model, threats=(Threat("T1", "t", "poisoning", ("AML.T0043.04",), ("C2",), ("M1",)),)
    )


MODEL = [Bad("mistyped ATLAS id", lambda m: _broken()), None, "model"]


def _model_cases() -> dict[str, Entry]:
    import matplotlib

    matplotlib.use("Agg")
    table = {
        f"{TM}.{name}": Entry(lambda: dict(model=_model()), {"model": MODEL})
        for name in ("validate_model", "crossings", "coverage")
    }
    table[f"{TM}.problems"] = Entry(lambda: dict(model=_model()), {"model": [None, "model"]})
    table[f"{RENDER}.to_markdown"] = Entry(lambda: dict(model=_model()), {"model": MODEL})
    table[f"{RENDER}.draw_dataflow"] = Entry(
        lambda: dict(model=_model(), zones=None, ax=None),
        {"model": MODEL, "zones": ["Internet", ["Internet"], 3], "ax": ["axes", 3]},
    )
    table[f"{RENDER}.navigator_layer"] = Entry(
        lambda: dict(model=_model(), name=None), {"model": MODEL, "name": ["", 3]}
    )
    table[f"{RENDER}.save_navigator_layer"] = Entry(
        lambda: dict(model=_model(), path=TMP / "m01m02-layer.json", name=None),
        {"model": MODEL, "path": [None, "", 3], "name": ["", 3]},
    )
    return table
