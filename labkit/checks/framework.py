"""How exercise checks run: hidden tests, a clear pass or a hint, progress recorded."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

STRICT_ENV = "LABKIT_STRICT_CHECKS"


class CheckFailed(AssertionError):
    """Raised by a hidden test with a message that says what was wrong (never the answer)."""


def as_number(value: Any, what: str) -> float:
    """A number the learner's code returned, as a float; CheckFailed naming `what` if it is none."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} should be a number, got {type(value).__name__}.") from None


def as_values(
    value: Any, n: int, *, expected: str, returns: str | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Values the learner's code returned, as a flat, detached tensor of n entries (float64 by default).

    Another count raises CheckFailed "expected {expected}, got shape (...)."; a value torch cannot
    convert raises "it should return {returns}, got ..." if `returns` is given, else its own error.
    """
    import torch

    try:
        values = torch.as_tensor(value).detach().to(dtype or torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        if returns is None:
            raise
        raise CheckFailed(f"it should return {returns}, got {type(value).__name__}.") from None
    if values.shape != (n,):
        raise CheckFailed(f"expected {expected}, got shape {tuple(values.shape)}.")
    return values


class CheckDidNotPass(RuntimeError):
    """Raised by `check` in strict mode (the test suite) when a check fails.

    A stub raises NotImplementedError instead, so a lab run under test stops there.
    """


@dataclass(frozen=True)
class Exercise:
    """One exercise: its id ("00.integrity"), module, title, hint and hidden test."""

    id: str
    module: str
    title: str
    hint: str
    test: Callable[[Any], str]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: passed or not, and the message a learner sees."""

    exercise: str
    passed: bool
    status: str  # "passed", "not implemented", "failed", "error"
    message: str

    def __bool__(self) -> bool:
        return self.passed


EXERCISES: dict[str, Exercise] = {}


def exercise(exercise_id: str, *, title: str, hint: str) -> Callable:
    """Register a hidden test: a function of the learner's answer that returns a pass message."""
    from labkit import validate

    validate.text("exercise_id", exercise_id)
    if "." not in exercise_id:
        raise ValueError(f"exercise_id must look like '00.integrity' (module.name), not {exercise_id!r}.")
    validate.text("title", title)
    validate.text("hint", hint)

    def register(test: Callable[[Any], str]) -> Callable[[Any], str]:
        validate.function("test", test)
        if exercise_id in EXERCISES:
            raise ValueError(f"exercise_id {exercise_id!r} registered twice")
        EXERCISES[exercise_id] = Exercise(
            id=exercise_id, module=exercise_id.split(".")[0], title=title, hint=hint, test=test
        )
        return test

    return register


def _where_in_learner_code(error: BaseException) -> str:
    """The last traceback frame outside labkit, e.g. ' (line 4 of your cell)'."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "labkit" not in f.filename]
    if not frames:
        return ""
    frame = frames[-1]
    return f" at line {frame.lineno} of your code ({frame.line or '...'})"


def run_check(exercise_id: str, answer: Any) -> CheckResult:
    """Run an exercise's hidden test on an answer and classify the outcome (no printing)."""
    from labkit.validate import UnknownName

    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id must be a string such as '00.integrity', not {exercise_id!r}.")
    if exercise_id not in EXERCISES:
        known = ", ".join(sorted(EXERCISES))
        raise UnknownName(f"No exercise {exercise_id!r}: exercise_id must be one of {known}.")
    item = EXERCISES[exercise_id]
    try:
        message = item.test(answer)
        return CheckResult(exercise_id, True, "passed", message)
    except NotImplementedError:
        return CheckResult(
            exercise_id,
            False,
            "not implemented",
            "not implemented yet: replace `raise NotImplementedError()` with your code.",
        )
    except CheckFailed as failure:
        return CheckResult(exercise_id, False, "failed", str(failure))
    except Exception as error:  # noqa: BLE001 - learner code may raise anything
        return CheckResult(
            exercise_id,
            False,
            "error",
            f"your code raised {type(error).__name__}: {error}{_where_in_learner_code(error)}",
        )


def format_result(result: CheckResult) -> str:
    """The text a learner sees for a check result."""
    item = EXERCISES[result.exercise]
    if result.passed:
        return f"✔ {result.exercise} {item.title}: passed. {result.message}"
    if result.status == "not implemented":  # nothing to diagnose yet: no hint for an untouched stub
        return f"✘ {result.exercise} {item.title}: {result.message}"
    return f"✘ {result.exercise} {item.title}: {result.message}\n   Hint: {item.hint}"


def check(exercise_id: str, answer: Any) -> None:
    """Check a learner's answer, print a clear pass or a hint, and record it in progress."""
    from labkit.course.progress import record

    result = run_check(exercise_id, answer)
    print(format_result(result))
    try:
        record(exercise_id, passed=result.passed)
    except OSError as error:
        print(f"   (progress not saved: {error}; set LABKIT_HOME to a writable directory)")
    if not result.passed and os.environ.get(STRICT_ENV) == "1":
        if result.status == "not implemented":
            raise NotImplementedError(f"{exercise_id}: {result.message}")
        raise CheckDidNotPass(f"{exercise_id}: {result.message}")


def use_or_reference(learner: Callable[..., Any], reference: Callable[..., Any]) -> Callable[..., Any]:
    """The learner's function, or, while it is still a stub (raises NotImplementedError), the
    reference, with a one-time printed note, so that the rest of a notebook still runs."""
    from labkit import validate

    validate.function("learner", learner)
    validate.function("reference", reference)
    noted = False

    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal noted
        try:
            return learner(*args, **kwargs)
        except NotImplementedError:
            if not noted:
                name = getattr(learner, "__name__", "your function")
                print(
                    f"✘ {name} not implemented yet: using the reference implementation so the rest "
                    f"of the notebook runs"
                )
                noted = True
            return reference(*args, **kwargs)

    return call
