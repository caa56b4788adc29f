"""Per-learner progress: one JSON file under the user directory, written atomically."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from labkit.paths import user_dir

FILENAME = "progress.json"
FORMAT_VERSION = 1


def progress_path() -> Path:
    """Where this learner's progress lives ($LABKIT_HOME/progress.json or the user data dir)."""
    return user_dir() / FILENAME


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


def load_progress(path: Path | None = None) -> dict[str, Any]:
    """Read the progress file; a corrupt one is set aside (never deleted) and a fresh one begun."""
    path = path or progress_path()
    if not path.exists():
        return _fresh()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("exercises"), dict):
            raise ValueError("not a labkit progress record")
        return data
    except (ValueError, UnicodeDecodeError) as error:
        aside = path.with_name(f"{path.stem}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}.json")
        path.replace(aside)
        print(
            f"labkit: your progress file {path} could not be read ({error}). It was moved to "
            f"{aside} so nothing is lost, and a fresh one was started.",
            file=sys.stderr,
        )
        return _fresh()


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def record(exercise_id: str, *, passed: bool, path: Path | None = None) -> dict[str, Any]:
    """Record one check result; returns the exercise's updated entry."""
    path = path or progress_path()
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with _locked(path):
        data = load_progress(path)
        entry = data["exercises"].setdefault(
            exercise_id, {"attempts": 0, "passed": False, "first_passed": None}
        )
        entry["attempts"] += 1
        entry["last_attempt"] = now
        if passed and not entry["passed"]:
            entry["first_passed"] = now
        entry["passed"] = entry["passed"] or passed
        _write_atomic(path, data)
    return entry


def report(exercise_ids: Iterable[str], *, path: Path | None = None) -> dict[str, Any]:
    """A completion report per module of the course map, over the given exercise ids ("00.integrity"):
    `labkit.checks.progress_report()` passes every registered exercise."""
    from labkit.course.coursemap import MODULES

    known = sorted(set(exercise_ids))
    bad = [i for i in known if not isinstance(i, str) or "." not in i]
    if bad:
        raise ValueError(f"exercise_ids must look like '00.integrity' (module.name), got {bad[:3]}.")
    data = load_progress(path)
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
    return {"learner": data.get("learner"), "file": str(path or progress_path()), "modules": modules}


def format_report(summary: dict[str, Any]) -> str:
    """Human-readable text of `report()` for `labkit progress`."""
    lines = [f"Progress of {summary['learner']} ({summary['file']})", ""]
    total = passed = 0
    for m in summary["modules"]:
        mark = "done" if m["passed"] == m["total"] else f"missing {', '.join(m['missing'])}"
        lines.append(f"  {m['module']}  {m['title'][:60]:<60} {m['passed']}/{m['total']}  {mark}")
        total += m["total"]
        passed += m["passed"]
    lines += ["", f"  {passed} of {total} exercises passed."]
    return "\n".join(lines)
