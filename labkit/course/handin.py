"""The progress report a learner hands in (`labkit progress --export PATH`), and its verification.

The report holds only what is the same on every machine: the learner's name, the course's exercise
ids, and per exercise whether it passed, how many attempts it took and whether the first one failed.
No paths, host names or local times. A SHA-256 checksum over the canonical JSON of everything else
detects a report edited by hand or damaged on the way (it is not a signature: someone who knows the
recipe can recompute it, so treat it as a guard against accidents and casual edits, not against a
determined forger).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labkit import validate
from labkit.course.progress import read_progress
from labkit.paths import write_json_atomic

FORMAT = "labkit-progress-report"
VERSION = 1
MAX_BYTES = 1_000_000  # a real report is a few kB; refuse anything far bigger before parsing it


class ReportError(ValueError):
    """A hand-in report that cannot be trusted: unreadable, the wrong shape, or edited after export."""


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def checksum(body: dict[str, Any]) -> str:
    """The checksum of a report's content (every field but 'checksum' itself)."""
    if not isinstance(body, dict):
        raise TypeError(f"body must be a report dict, not {type(body).__name__}.")
    content = {k: v for k, v in body.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(_canonical(content)).hexdigest()


def _learner_name(value: Any) -> str:
    name = validate.text("learner", value)
    if len(name) > 100 or any(ord(c) < 32 for c in name) or name != name.strip():
        raise ValueError(
            f"learner must be a name of at most 100 characters without control characters or surrounding "
            f"spaces, not {name[:40]!r}."
        )
    return name


def build_report(
    exercise_ids: Iterable[str], *, learner: str | None = None, path: Path | None = None
) -> dict[str, Any]:
    """This learner's hand-in report over the given exercise ids ("00.integrity"), with its checksum.

    `learner` defaults to the name in the progress file; `path` to this learner's progress file."""
    if isinstance(exercise_ids, (str, bytes)) or not isinstance(exercise_ids, Iterable):
        raise TypeError(f"exercise_ids must be a list of ids such as '00.integrity', not {exercise_ids!r}.")
    known = sorted(set(exercise_ids), key=str)
    bad = [i for i in known if not isinstance(i, str) or "." not in i]
    if bad or not known:
        raise ValueError(
            f"exercise_ids must be ids such as '00.integrity' (module.name), got {bad[:3] or known}."
        )
    data, problem = read_progress(None if path is None else validate.path("path", path))
    if problem:
        raise ReportError(
            f"the progress file cannot be exported: {problem}. Run a check to start a fresh one."
        )
    name = _learner_name(learner if learner is not None else data.get("learner") or "unknown")
    done = data["exercises"]
    exercises = {}
    for exercise_id in known:
        entry = done.get(exercise_id, {})
        attempts = entry.get("attempts", 0)
        failed = entry.get("failed_before_pass")
        if failed is None:  # a record from before failures were counted: infer what can be inferred
            failed = (
                0
                if entry.get("passed") and attempts == 1
                else (attempts if not entry.get("passed") else None)
            )
        exercises[exercise_id] = {
            "passed": bool(entry.get("passed", False)),
            "attempts": attempts,
            "failed_first": None if failed is None else failed > 0,
        }
    body: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "learner": name,
        "exported": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "exercises": exercises,
    }
    body["checksum"] = checksum(body)
    return body


def export_report(
    out: Path, exercise_ids: Iterable[str], *, learner: str | None = None, path: Path | None = None
) -> Path:
    """Write the hand-in report to `out` (atomically; a directory gets `<learner>.progress.json`)."""
    out = validate.path("out", out)
    body = build_report(exercise_ids, learner=learner, path=path)
    if out.is_dir():
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in body["learner"])
        out = out / f"{safe}.progress.json"
    if not out.parent.is_dir():
        raise FileNotFoundError(f"out {str(out)!r}: its directory {str(out.parent)!r} does not exist.")
    return write_json_atomic(out, body, indent=2, sort_keys=True)


def _shape_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return f"it holds a JSON {type(data).__name__}, not a report object"
    if data.get("format") != FORMAT:
        return (
            f"its format is {data.get('format')!r}, not {FORMAT!r} (is it a `labkit progress --export` file?)"
        )
    if data.get("version") != VERSION:
        return f"its version is {data.get('version')!r}; this labkit reads version {VERSION}"
    missing = sorted({"learner", "exported", "exercises", "checksum"} - data.keys())
    if missing:
        return f"it lacks {', '.join(missing)}"
    try:
        _learner_name(data["learner"])
    except (TypeError, ValueError) as error:
        return str(error)
    if not isinstance(data["exercises"], dict) or not data["exercises"]:
        return "its 'exercises' is not a non-empty object"
    for key, entry in data["exercises"].items():
        if "." not in key or not isinstance(entry, dict):
            return f"exercise {key!r} is not an id with an object"
        attempts = entry.get("attempts")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            return f"exercise {key!r} has attempts={attempts!r}, not a count"
        if not isinstance(entry.get("passed"), bool) or not isinstance(
            entry.get("failed_first"), bool | None
        ):
            return f"exercise {key!r} has passed/failed_first that are not true or false"
    return None


def read_report(path: Path) -> dict[str, Any]:
    """A hand-in report, verified: raises ReportError saying what is wrong (unreadable, wrong shape,
    or content that does not match its checksum)."""
    path = validate.path("path", path, exists="file")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ReportError(f"{path.name}: {path.stat().st_size} bytes is far too big for a report")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        if isinstance(error, ReportError):
            raise
        raise ReportError(f"{path.name}: not readable JSON ({error})") from error
    problem = _shape_problem(data)
    if problem:
        raise ReportError(f"{path.name}: {problem}")
    if checksum(data) != data["checksum"]:
        raise ReportError(
            f"{path.name}: its content does not match its checksum: it was changed after "
            f"`labkit progress --export` wrote it. Ask {data['learner']!r} to export it again."
        )
    return data
