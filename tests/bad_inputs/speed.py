"""Bad-input entries for labkit.runtime's thread choice and model borrowing (the `speed` area)."""

from __future__ import annotations

from tests.bad_inputs_cases import COUNT, MODEL, Entry, context, tiny_model


def cases() -> dict[str, Entry]:
    return {
        "labkit.runtime.choose_threads": Entry(lambda: dict(threads=2), {"threads": COUNT}),
        "labkit.runtime.configure_threads": Entry(
            lambda: dict(threads=1), {"threads": COUNT}, notes="applies the count: 1, as the tests use"
        ),
        "labkit.runtime.model_device": Entry(lambda: dict(model=tiny_model()), {"model": MODEL}),
        "labkit.runtime.borrowed": Entry(lambda: dict(model=tiny_model()), {"model": MODEL}, call=context),
    }


NOT_INPUT_TAKING = {
    "labkit.runtime.ThreadChoice": "result record built by choose_threads",
    "labkit.runtime.physical_cores": "takes no arguments (reads this machine; tests/test_speed.py)",
    "labkit.runtime.quick_mode": "takes no arguments (reads LABKIT_QUICK; tests/test_speed.py)",
}
