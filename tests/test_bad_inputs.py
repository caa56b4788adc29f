"""Every public labkit function under bad input (issue 10).

Each public function of the modules in `COVERED` has a table entry in tests/bad_inputs_cases.py: a
valid call on tiny inputs and (argument, bad value) cases. Each bad case must raise a labkit error (a
ValueError or TypeError, or one of labkit's own error classes) whose message names the argument, raised
by labkit's own code (the last traceback frame is in labkit/, not deep in torch, foolbox or numpy).
A meta-test fails when a public function has no entry, so the next function added is covered too.

`python -m tests.test_bad_inputs` prints how each case fares (clear / raw / deep / silent).
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import re
import traceback
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import labkit
from tests.bad_inputs_cases import COVERED, NOT_INPUT_TAKING, OWNED_ELSEWHERE, SKIPPED, TMP, Bad, cases

pytestmark = pytest.mark.usefixtures("one_thread")

LABKIT_DIR = str(Path(labkit.__file__).resolve().parent)
CASES = cases()


def own_callables(module: Any) -> list[str]:
    """Public callables defined in the module itself (not imported into it)."""
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_") and callable(obj) and getattr(obj, "__module__", None) == module.__name__
    ]


def public_callables() -> dict[str, Any]:
    """Qualified name -> object, for every public callable defined in a covered module."""
    found: dict[str, Any] = {}
    for info in pkgutil.walk_packages(labkit.__path__, "labkit."):
        if not info.name.startswith(COVERED):
            continue
        module = importlib.import_module(info.name)
        for name in own_callables(module):
            found[f"{info.name}.{name}"] = getattr(module, name)
    return found


PUBLIC = public_callables()


def resolve(qualname: str) -> Any:
    module, name = qualname.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def invoke(qualname: str, overrides: dict[str, Any]) -> Any:
    entry = CASES[qualname]
    fn = resolve(qualname)
    kwargs = entry.base()
    for arg, value in overrides.items():
        kwargs[arg] = value.make(kwargs[arg]) if isinstance(value, Bad) else value
    call = entry.call(fn) if entry.call else fn
    return call(**kwargs)


def labkit_error_types() -> tuple[type[BaseException], ...]:
    from labkit.attacks.blackbox import GradientsNotAvailable, QueryBudgetExceeded
    from labkit.course.labgen import LabGenerationError
    from labkit.integrity import IntegrityError

    return (
        ValueError,
        TypeError,
        FileNotFoundError,
        LabGenerationError,
        QueryBudgetExceeded,
        GradientsNotAvailable,
        IntegrityError,
        FileExistsError,
    )


def outcome(qualname: str, arg: str, bad: Any) -> tuple[str, str]:
    """('clear' | 'raw' | 'deep' | 'silent', detail) for one bad case."""
    try:
        invoke(qualname, {arg: bad})
    except Exception as error:  # noqa: BLE001 - classifying whatever comes out
        frames = traceback.extract_tb(error.__traceback__)
        last = frames[-1].filename if frames else ""
        detail = f"{type(error).__name__}: {str(error)[:160]}"
        if not str(Path(last).resolve()).startswith(LABKIT_DIR):
            return "deep", f"{detail} (raised in {last})"
        named = re.search(rf"(?<![\w]){re.escape(arg)}(?![\w])", str(error)) is not None
        if isinstance(error, labkit_error_types()) and named:
            return "clear", detail
        return "raw", detail
    return "silent", "accepted"


def bad_cases() -> list[tuple[str, str, Any]]:
    return [(q, arg, bad) for q, entry in CASES.items() for arg, bads in entry.bad.items() for bad in bads]


def case_id(case: tuple[str, str, Any]) -> str:
    """A readable id that is the same in every process (pytest-xdist workers must agree on ids):
    no temporary paths, memory addresses or tensor values."""
    qualname, arg, bad = case
    if isinstance(bad, torch.Tensor):
        shown = f"tensor{tuple(bad.shape)}:{bad.dtype}"
    else:
        shown = re.sub(r" at 0x[0-9a-f]+", "", repr(bad).replace(str(TMP), "<tmp>"))
    return f"{qualname.removeprefix('labkit.')}-{arg}={shown}"[:120]


BAD = bad_cases()


def test_every_public_function_has_a_table_entry():
    """A public function added to a covered module without bad-input cases fails here."""
    missing = sorted(set(PUBLIC) - set(CASES) - set(NOT_INPUT_TAKING) - set(SKIPPED))
    assert not missing, f"add these to tests/bad_inputs_cases.py (cases() or NOT_INPUT_TAKING): {missing}"
    stale = sorted((set(CASES) | set(NOT_INPUT_TAKING) | set(SKIPPED)) - set(PUBLIC))
    assert not stale, f"no such public callables any more: {stale}"


def test_every_input_taking_function_has_bad_cases():
    """An entry with no bad cases covers nothing, unless the function takes no arguments."""
    empty = [q for q, e in CASES.items() if not e.bad and inspect.signature(PUBLIC[q]).parameters]
    assert not empty, f"entries without bad cases: {empty}"


def test_every_labkit_module_is_covered_or_owned_elsewhere():
    """A new labkit module must be swept here or named in the skip-list with who covers it."""
    names = [info.name for info in pkgutil.walk_packages(labkit.__path__, "labkit.")]
    others = tuple(OWNED_ELSEWHERE)
    orphans = [
        n
        for n in names
        if not n.startswith(COVERED)
        and not n.startswith(others)
        and own_callables(importlib.import_module(n))
    ]
    assert not orphans, f"modules neither swept nor in OWNED_ELSEWHERE: {orphans}"


@pytest.mark.parametrize("qualname", sorted(CASES))
def test_baseline_call_is_valid(qualname: str):
    """The valid call works, so a bad case that raises is refused for its bad argument alone."""
    invoke(qualname, {})


@pytest.mark.parametrize("case", BAD, ids=[case_id(c) for c in BAD])
def test_bad_input_gets_a_clear_labkit_error(case: tuple[str, str, Any]):
    qualname, arg, bad = case
    kind, detail = outcome(qualname, arg, bad)
    assert kind == "clear", f"{qualname}({arg}={bad!r}): {kind}: {detail}"


# Numeric arguments by kind, from the table: hypothesis draws bad values beyond the fixed ones.
NUMERIC_KINDS = {
    "epsilon": st.one_of(
        st.floats(max_value=-1e-9), st.just(math.nan), st.sampled_from([math.inf, -math.inf])
    ),
    "steps": st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.booleans()),
    "epochs": st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.booleans()),
    "batch_size": st.one_of(st.integers(max_value=0), st.floats(allow_nan=True)),
    "rate": st.one_of(
        st.floats(min_value=1.0, exclude_min=True),
        st.floats(max_value=0.0, exclude_max=True),
        st.just(math.nan),
    ),
    "lr": st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf)),
}
NUMERIC = sorted(
    (q, arg)
    for q, e in CASES.items()
    for arg in e.bad
    if arg in NUMERIC_KINDS and q.split(".")[1] in {"attacks", "training", "defenses"}
)
FAST = [c for c in NUMERIC if not c[0].endswith(("train_dp", "fit_shadow_attack", "train_clinic_models"))]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_bad_numbers_get_a_clear_labkit_error(data: st.DataObject):
    qualname, arg = data.draw(st.sampled_from(FAST), label="function, argument")
    bad = data.draw(NUMERIC_KINDS[arg], label=arg)
    kind, detail = outcome(qualname, arg, bad)
    assert kind == "clear", f"{qualname}({arg}={bad!r}): {kind}: {detail}"


def main() -> None:
    torch.set_num_threads(1)
    counts: dict[str, int] = {}
    for qualname, arg, bad in BAD:
        kind, detail = outcome(qualname, arg, bad)
        counts[kind] = counts.get(kind, 0) + 1
        if kind != "clear":
            print(f"{kind:6} {qualname}({arg}={bad!r}): {detail}")
    print(f"{len(CASES)} functions, {len(BAD)} bad cases: {counts}")


if __name__ == "__main__":
    main()
