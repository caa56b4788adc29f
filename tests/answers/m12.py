"""Correct, stub and plausible-wrong answers for module 12's checks."""

from __future__ import annotations

import hashlib
import os
import posixpath
from pathlib import Path

from labkit.release.release_gate import measured


def gate_verdicts(requirements, candidate):
    rows = []
    for req in requirements:
        m = measured(req, candidate)
        if m.value is None:
            rows.append((req.id, False, f"not evaluated: {m.detail}"))
        elif req.kind == "robust_accuracy":
            rows.append((req.id, m.value >= req.minimum, f"{m.value:.3f} vs >= {req.minimum}"))
        elif req.kind == "membership_advantage":
            rows.append((req.id, m.value <= req.maximum, f"{m.value:.3f} vs <= {req.maximum}"))
        else:
            rows.append((req.id, m.value is True, m.detail))
    return rows


def gate_passing_what_it_cannot_measure(requirements, candidate):
    rows = []
    for req in requirements:
        m = measured(req, candidate)
        if m.value is None:
            rows.append((req.id, True, "skipped: not measured"))
        elif req.kind == "robust_accuracy":
            rows.append((req.id, m.value >= req.minimum, "robust"))
        elif req.kind == "membership_advantage":
            rows.append((req.id, m.value <= req.maximum, "membership"))
        else:
            rows.append((req.id, m.value is True, m.detail))
    return rows


def gate_missing_signature_ok(requirements, candidate):
    rows = []
    for req in requirements:
        m = measured(req, candidate)
        if req.kind == "artifact_signed":
            rows.append((req.id, m.value is not False, m.detail))  # "no failed verification"
        elif m.value is None:
            rows.append((req.id, False, f"not evaluated: {m.detail}"))
        elif req.kind == "robust_accuracy":
            rows.append((req.id, m.value >= req.minimum, "robust"))
        elif req.kind == "membership_advantage":
            rows.append((req.id, m.value <= req.maximum, "membership"))
        else:
            rows.append((req.id, m.value is True, m.detail))
    return rows


def gate_strict_bounds(requirements, candidate):
    rows = []
    for req in requirements:
        m = measured(req, candidate)
        if m.value is None:
            rows.append((req.id, False, f"not evaluated: {m.detail}"))
        elif req.kind == "robust_accuracy":
            rows.append((req.id, m.value > req.minimum, "robust"))
        elif req.kind == "membership_advantage":
            rows.append((req.id, m.value < req.maximum, "membership"))
        else:
            rows.append((req.id, m.value is True, m.detail))
    return rows


def gate_truthy_values(requirements, candidate):
    rows = []
    for req in requirements:
        m = measured(req, candidate)
        if m.value is None:
            rows.append((req.id, False, f"not evaluated: {m.detail}"))
        elif req.kind == "robust_accuracy":
            rows.append((req.id, m.value >= req.minimum, "robust"))
        else:
            rows.append((req.id, bool(m.value), m.detail))  # "a measured advantage is a pass"
    return rows


def verify_release(directory, manifest):
    root = Path(directory)
    if not manifest:
        return False, ["empty manifest: nothing to verify"]
    problems, expected, found = [], {}, {}
    for name, digest in manifest.items():
        key = posixpath.normpath(name)
        if key.startswith("..") or posixpath.isabs(key):
            problems.append(f"{name}: outside the release")
        else:
            expected[key] = digest.lower()
    for folder, subfolders, files in os.walk(root):
        for entry in subfolders + files:
            path = Path(folder) / entry
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                problems.append(f"{rel}: symlink")
            elif path.is_file():
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    for key, digest in expected.items():
        if found.get(key) != digest:
            problems.append(f"{key}: missing or changed")
    problems += [f"{rel}: not in the manifest" for rel in set(found) - set(expected)]
    return not problems, problems


def _walk(root, *, follow):
    """{relative path: sha256} of the files under root; symlinks reported as None unless followed."""
    found = {}
    for folder, _subfolders, files in os.walk(root):
        for entry in files:
            path = Path(folder) / entry
            rel = path.relative_to(root).as_posix()
            found[rel] = (
                None if path.is_symlink() and not follow else hashlib.sha256(path.read_bytes()).hexdigest()
            )
    return found


def _verdict(problems):
    return not problems, problems


def verify_ignoring_extras(directory, manifest):
    if not manifest:
        return False, ["empty manifest"]
    found = _walk(Path(directory), follow=False)
    problems = []
    for name, digest in manifest.items():
        key = posixpath.normpath(name)
        if key.startswith(".."):
            problems.append(f"{name}: outside")
        elif found.get(key) != digest.lower():
            problems.append(f"{name}: missing or changed")
    return _verdict(problems)  # files the manifest does not list are never looked at


def verify_over_directory(directory, manifest):
    if not manifest:
        return False, ["empty manifest"]
    expected = {posixpath.normpath(k): d.lower() for k, d in manifest.items()}
    if any(k.startswith("..") for k in expected):
        return False, ["entry outside the release"]
    problems = []
    for rel, digest in _walk(Path(directory), follow=False).items():  # only what is there
        if digest is None or expected.get(rel) != digest:
            problems.append(f"{rel}: symlink, changed or not listed")
    return _verdict(problems)


def verify_hashing_names(directory, manifest):
    if not manifest:
        return False, ["empty manifest"]
    expected = {posixpath.normpath(k): d.lower() for k, d in manifest.items()}
    found = {rel: hashlib.sha256(rel.encode()).hexdigest() for rel in _walk(Path(directory), follow=False)}
    problems = [f"{k}: mismatch" for k in set(expected) | set(found) if expected.get(k) != found.get(k)]
    return _verdict(problems)


def verify_following_symlinks(directory, manifest):
    if not manifest:
        return False, ["empty manifest"]
    expected = {posixpath.normpath(k): d.lower() for k, d in manifest.items()}
    if any(k.startswith("..") for k in expected):
        return False, ["entry outside the release"]
    found = _walk(Path(directory), follow=True)  # a link's target is hashed, wherever it lives
    problems = [f"{k}: mismatch" for k in set(expected) | set(found) if expected.get(k) != found.get(k)]
    return _verdict(problems)


def verify_case_sensitive(directory, manifest):
    if not manifest:
        return False, ["empty manifest"]
    expected = {posixpath.normpath(k): d for k, d in manifest.items()}  # digests kept as written
    if any(k.startswith("..") for k in expected):
        return False, ["entry outside the release"]
    found = _walk(Path(directory), follow=False)
    problems = [f"{k}: mismatch" for k in set(expected) | set(found) if expected.get(k) != found.get(k)]
    return _verdict(problems)


def verify_unnormalised(directory, manifest):
    if not manifest:
        return False, ["empty manifest"]
    expected = {k: d.lower() for k, d in manifest.items()}  # "./a" and "a" differ as strings
    if any(k.startswith("..") for k in expected):
        return False, ["entry outside the release"]
    found = _walk(Path(directory), follow=False)
    problems = [f"{k}: mismatch" for k in set(expected) | set(found) if expected.get(k) != found.get(k)]
    return _verdict(problems)


def verify_empty_passes(directory, manifest):
    expected = {posixpath.normpath(k): d.lower() for k, d in manifest.items()}
    if any(k.startswith("..") for k in expected):
        return False, ["entry outside the release"]
    found = _walk(Path(directory), follow=False)
    problems = [f"{k}: mismatch" for k in set(expected) | set(found) if expected.get(k) != found.get(k)]
    return _verdict(problems)  # nothing listed and nothing there: no problem found, so "ok"


def verify_joining_escaping_entries(directory, manifest):
    if not manifest:
        return False, ["empty manifest"]
    root = Path(directory)
    expected = {posixpath.normpath(k): d.lower() for k, d in manifest.items()}
    found = _walk(root, follow=False)
    for key in expected:
        if key not in found and (root / key).is_file():  # "../x" is joined and hashed like any entry
            found[key] = hashlib.sha256((root / key).read_bytes()).hexdigest()
    problems = [f"{k}: mismatch" for k in set(expected) | set(found) if expected.get(k) != found.get(k)]
    return _verdict(problems)


ANSWERS = {
    "12.gate": (
        gate_verdicts,
        [
            (gate_passing_what_it_cannot_measure, "could not be evaluated"),
            (gate_missing_signature_ok, "missing signature"),
            (gate_strict_bounds, "exactly"),
            (gate_truthy_values, "smaller advantage is better"),
        ],
    ),
    "12.verify": (
        verify_release,
        [
            (verify_ignoring_extras, "extra file"),
            (verify_over_directory, "missing"),
            (verify_hashing_names, "file *names*"),
            (verify_following_symlinks, "symlink"),
            (verify_case_sensitive, "upper case"),
            (verify_unnormalised, "normalised"),
            (verify_empty_passes, "empty manifest"),
            (verify_joining_escaping_entries, "outside the release directory"),
        ],
    ),
}
