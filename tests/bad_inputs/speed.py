"""Bad-input entries for labkit.runtime's thread choice and model borrowing (the `speed` area)."""

from __future__ import annotations

from tests.bad_inputs_cases import COUNT, MODEL, NONNEG_INT, Entry, context, tiny_model


def cases() -> dict[str, Entry]:
    return {
        "labkit.runtime.choose_threads": Entry(lambda: dict(threads=2), {"threads": COUNT}),
        "labkit.runtime.configure_threads": Entry(
            lambda: dict(threads=1), {"threads": COUNT}, notes="applies the count: 1, as the tests use"
        ),
        "labkit.runtime.model_device": Entry(lambda: dict(model=tiny_model()), {"model": MODEL}),
        "labkit.runtime.borrowed": Entry(lambda: dict(model=tiny_model()), {"model": MODEL}, call=context),
        "labkit.runtime.progress_bar": Entry(
            lambda: dict(iterable=range(2), total=2, desc="epochs"),
            {"total": NONNEG_INT, "desc": [3, None], "enabled": ["yes", 1], "leave": [None, 0]},
            notes="outside a kernel: tqdm's text bar (the kernel bar: tests/test_progress.py)",
        ),
    }


NOT_INPUT_TAKING = {
    "labkit.runtime.ThreadChoice": "result record built by choose_threads",
    "labkit.runtime.physical_cores": "takes no arguments (reads this machine; tests/test_speed.py)",
    "labkit.runtime.quick_mode": "takes no arguments (reads LABKIT_QUICK; tests/test_speed.py)",
}
