"""Bad-input entries for labkit.paths' atomic JSON writer."""

from __future__ import annotations

from tests.bad_inputs_cases import TMP, Entry


def cases() -> dict[str, Entry]:
    return {
        "labkit.paths.write_json_atomic": Entry(
            lambda: dict(path=TMP / "written.json", data={"a": 1}),
            {"path": [str(TMP / "written.json"), None]},
            notes="the callers check and resolve the path the learner gave; this one takes a Path",
        ),
    }
