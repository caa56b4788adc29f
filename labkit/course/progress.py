"""Per-learner progress: one JSON file under the user directory, written atomically."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labkit import validate
from labkit.paths import user_dir, write_json_atomic

FILENAME = "progress.json"
FORMAT_VERSION = 1


def progress_path() -> Path:
    """Where this learner's progress lives ($LABKIT_HOME/progress.json or the user data dir)."""
    return user_dir() / FILENAME


def _path(path: Path | None) -> Path:
    """The progress file to use: `path` (a str or Path) or this learner's own."""
    return progress_path() if path is None else validate.path("path", path)


def _fresh() -> dict[str, Any]:
    try:
        learner = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        learner = "unknown"
    return {"version": FORMAT_VERSION, "learner": learner, "exercises": {}}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write between kernels (POSIX advisory lock; no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path.with_suffix(".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _problem(data: Any) -> str | None:
    """What is wrong with a parsed progress record, or None if every part has the expected type."""
    if not isinstance(data, dict):
        return f"it holds a JSON {type(data).__name__}, not an object"
    if not isinstance(data.get("exercises"), dict):
        return "its 'exercises' is missing or not an object"
    if "learner" in data and not isinstance(data["learner"], str | None):
        return "its 'learner' is not a string"
    for key, entry in data["exercises"].items():
        if not isinstance(entry, dict):
            return f"exercise {key!r} is a {type(entry).__name__}, not an object"
        attempts = entry.get("attempts")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            return f"exercise {key!r} has attempts={attempts!r}, not a count"
        failed = entry.get("failed_before_pass", 0)  # absent in files written before it was kept
        if isinstance(failed, bool) or not isinstance(failed, int) or failed < 0:
            return f"exercise {key!r} has failed_before_pass={failed!r}, not a count"
        if not isinstance(entry.get("passed"), bool):
            return f"exercise {key!r} has passed={entry.get('passed')!r}, not true or false"
        for stamp in ("first_passed", "last_attempt"):
            if not isinstance(entry.get(stamp), str | None):
                return f"exercise {key!r} has {stamp}={entry.get(stamp)!r}, not a time"
    return None


def read_progress(path: Path | None = None) -> tuple[dict[str, Any], str | None]:
    """The progress record and None, or a fresh record and what is wrong with the file. Never writes."""
    path = _path(path)
    if not path.exists():
        return _fresh(), None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return _fresh(), f"it is not readable JSON ({error})"
    problem = _problem(data)
    return (_fresh(), problem) if problem else (data, None)


def load_progress(path: Path | None = None) -> dict[str, Any]:
    """Read the progress file without changing it; an unreadable one reads as empty, with a message."""
    path = _path(path)
    data, problem = read_progress(path)
    if problem:
        print(
            f"labkit: your progress file {path} could not be read: {problem}. It is left as it is and "
            f"reads as empty; the next check you run sets it aside (nothing is deleted) and starts a "
            f"fresh one.",
            file=sys.stderr,
        )
    return data


def _set_aside(path: Path) -> Path:
    """Rename a corrupt progress file to a name no earlier file has (never overwriting); returns it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    for _ in range(100):
        aside = path.with_name(f"{path.stem}.corrupt-{stamp}-{uuid.uuid4().hex[:12]}.json")
        try:  # claim the name first: an earlier set-aside file is never overwritten
            os.close(os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        os.replace(path, aside)
        return aside
    raise FileExistsError(f"could not find a free name beside {path} to set it aside")


def _load_for_write(path: Path) -> dict[str, Any]:
    data, problem = read_progress(path)
    if problem and path.exists():
        aside = _set_aside(path)
        print(
            f"labkit: your progress file {path} could not be read: {problem}. It was moved to "
            f"{aside} so nothing is lost, and a fresh one was started.",
            file=sys.stderr,
        )
    return data


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    write_json_atomic(path, data, indent=2, sort_keys=True, durable=True)


def record(exercise_id: str, *, passed: bool, path: Path | None = None) -> dict[str, Any]:
    """Record one check result; returns the exercise's updated entry."""
    if not isinstance(exercise_id, str) or "." not in exercise_id:
        raise ValueError(f"exercise_id must look like '00.integrity' (module.name), not {exercise_id!r}.")
    if not isinstance(passed, bool):
        raise TypeError(
            f"passed must be True or False, not {passed!r} (a string such as 'no' is not a result)."
        )
    path = _path(path)
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with _locked(path):
        data = _load_for_write(path)
        entry = data["exercises"].setdefault(
            exercise_id, {"attempts": 0, "passed": False, "first_passed": None, "failed_before_pass": 0}
        )
        entry["attempts"] += 1
        entry["last_attempt"] = now
        if not passed and not entry["passed"]:  # failures before the first pass: what people get stuck on
            entry["failed_before_pass"] = entry.get("failed_before_pass", 0) + 1
        if passed and not entry["passed"]:
            entry["first_passed"] = now
        entry["passed"] = entry["passed"] or passed
        _write_atomic(path, data)
    return entry


def report(exercise_ids: Iterable[str], *, path: Path | None = None) -> dict[str, Any]:
    """A completion report per module of the course map, over the given exercise ids ("00.integrity"):
    `labkit.checks.progress_report()` passes every registered exercise."""
    from labkit.course.coursemap import MODULES

    if isinstance(exercise_ids, (str, bytes)) or not isinstance(exercise_ids, Iterable):
        raise TypeError(f"exercise_ids must be a list of ids such as '00.integrity', not {exercise_ids!r}.")
    path = None if path is None else _path(path)
    known = sorted(set(exercise_ids), key=str)
    bad = [i for i in known if not isinstance(i, str) or "." not in i]
    if bad:
        raise ValueError(f"exercise_ids must look like '00.integrity' (module.name), got {bad[:3]}.")
    data, problem = read_progress(path)  # reading never changes the learner's files
    done = data["exercises"]
    modules = []
    for module in MODULES:
        ids = [i for i in known if i.split(".")[0] == module.number]
        if not ids:
            continue
        passed = [i for i in ids if done.get(i, {}).get("passed")]
        modules.append(
            {
                "module": module.number,
                "title": module.title,
                "passed": len(passed),
                "total": len(ids),
                "missing": [i for i in ids if i not in passed],
            }
        )
    summary = {"learner": data.get("learner"), "file": str(path or progress_path()), "modules": modules}
    if problem:
        summary["problem"] = (
            f"the progress file could not be read ({problem}); it is shown as empty and left as it is "
            f"until the next check sets it aside"
        )
    return summary


def format_report(summary: dict[str, Any]) -> str:
    """Human-readable text of `report()` for `labkit progress`."""
    if not isinstance(summary, dict) or not {"learner", "file", "modules"} <= summary.keys():
        raise TypeError(
            f"summary must be the dict report() returns (learner, file, modules), not {summary!r}."
        )
    lines = [f"Progress of {summary['learner']} ({summary['file']})", ""]
    if summary.get("problem"):
        lines += [f"  ✘ {summary['problem']}.", ""]
    total = passed = 0
    for m in summary["modules"]:
        mark = "done" if m["passed"] == m["total"] else f"missing {', '.join(m['missing'])}"
        lines.append(f"  {m['module']}  {m['title'][:60]:<60} {m['passed']}/{m['total']}  {mark}")
        total += m["total"]
        passed += m["passed"]
    lines += ["", f"  {passed} of {total} exercises passed."]
    return "\n".join(lines)
