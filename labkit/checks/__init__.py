"""Exercise checks. `check("00.integrity", answer)` runs the hidden tests for that exercise.

Importing this package registers every module's exercises: each `mNN_*.py` file here holds one
module's hidden tests (their heavy imports are lazy, inside the tests).
"""

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from labkit.checks.framework import (
    EXERCISES,
    CheckDidNotPass,
    CheckFailed,
    CheckResult,
    Exercise,
    check,
    exercise,
    format_result,
    run_check,
)
from labkit.course.progress import report


def progress_report(path: Path | None = None) -> dict[str, Any]:
    """This learner's completion report over every registered exercise.

    Print it with `labkit.course.progress.format_report`."""
    return report(EXERCISES, path=path)


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    if _info.name.startswith("m") and _info.name[1:3].isdigit():
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = [
    "EXERCISES",
    "CheckDidNotPass",
    "CheckFailed",
    "CheckResult",
    "Exercise",
    "check",
    "exercise",
    "format_result",
    "progress_report",
    "run_check",
]
