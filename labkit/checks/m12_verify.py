"""Hidden tests for module 12, part 2: checking a release directory against its signed digests, failing
closed. Split from m12_shipping_securely.py to keep files small.

The rules the reference keeps (and the notebook states): manifest paths are compared after normalising
("./a//b" names "a/b"); an entry that is absolute or leaves the directory ("../x") is a problem; hex digests
are compared without regard to case (sha256sum writes lower case, other tools upper case: the same number);
a symlink anywhere in the release is a problem (model-signing refuses them too); a file the manifest does
not list, a listed file that is missing and a file whose bytes differ are each a problem; an empty manifest
verifies nothing, so it fails.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from labkit.checks.framework import CheckFailed, exercise

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reference_verify_release(directory: Path | str, manifest: Mapping[str, str]) -> tuple[bool, list[str]]:
    """The reference for 12.verify: (ok, problems) for `directory` against `manifest` ({relative path:
    hex SHA-256}). ok only when every listed file is present with its digest, nothing else is there, no
    symlink is there and the manifest is non-empty and well formed; every problem is one line."""
    from labkit.integrity import sha256_file

    root = Path(directory)
    if root.is_symlink() or not root.is_dir():
        return False, [f"{root}: not a directory, so nothing verifies"]
    if not isinstance(manifest, Mapping) or not manifest:
        return False, ["the manifest lists no file: an empty manifest verifies nothing"]
    problems: list[str] = []
    expected: dict[str, str] = {}
    for name, digest in manifest.items():
        key = posixpath.normpath(str(name))
        if posixpath.isabs(key) or key == "." or key == ".." or key.startswith("../"):
            problems.append(f"{name}: the manifest names a path outside the release")
        elif not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            problems.append(f"{name}: the manifest's digest is not 64 hex digits")
        else:
            expected[key] = digest.lower()
    found: dict[str, Path] = {}
    for folder, subfolders, files in os.walk(root):  # never follows a symlinked folder
        for entry in sorted(subfolders) + sorted(files):
            path = Path(folder) / entry
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                problems.append(f"{rel}: a symlink; a release holds regular files only")
            elif entry in files and path.is_file():
                found[rel] = path
            elif entry in files:
                problems.append(f"{rel}: not a regular file")
    for key, digest in sorted(expected.items()):
        if key not in found:
            problems.append(f"{key}: listed in the manifest but missing")
        elif sha256_file(found[key]) != digest:
            problems.append(f"{key}: bytes differ from the manifest's digest")
    problems += [f"{rel}: present but not in the manifest" for rel in sorted(set(found) - set(expected))]
    return not problems, problems


# Each case builds a small release in `root` (and maybe a file in `outside`) and returns its manifest.
Build = Callable[[Path, Path], dict[str, str] | None]


def _write(root: Path, files: dict[str, bytes]) -> dict[str, str]:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return {name: _sha(data) for name, data in files.items()}


_FILES = {"weights.safetensors": b"\x00\x01weights" * 40, "card.json": b'{"name": "reader"}'}


def _plain(root: Path, outside: Path) -> dict[str, str]:
    return _write(root, _FILES)


def _names_hashed(root: Path, outside: Path) -> dict[str, str]:
    _write(root, _FILES)
    return {name: _sha(name.encode()) for name in _FILES}


def _nested(root: Path, outside: Path) -> dict[str, str]:
    pins = _write(root, {**_FILES, "tokenizer/vocab.txt": b"0 1 2 3"})
    return {"./weights.safetensors": pins["weights.safetensors"], "card.json": pins["card.json"],
            "tokenizer//vocab.txt": pins["tokenizer/vocab.txt"]}  # fmt: skip


def _upper(root: Path, outside: Path) -> dict[str, str]:
    return {name: digest.upper() for name, digest in _write(root, _FILES).items()}


def _changed(root: Path, outside: Path) -> dict[str, str]:
    pins = _write(root, _FILES)
    (root / "weights.safetensors").write_bytes(b"\x00\x01weightz" * 40)  # same size, other bytes
    return pins


def _missing(root: Path, outside: Path) -> dict[str, str]:
    pins = _write(root, _FILES)
    (root / "card.json").unlink()
    return pins


def _extra(root: Path, outside: Path) -> dict[str, str]:
    pins = _write(root, _FILES)
    (root / "extra.pt").write_bytes(b"a pickle a careless loader would pick up")
    return pins


def _symlink(root: Path, outside: Path) -> dict[str, str] | None:
    pins = _write(root, _FILES)
    target = outside / "elsewhere.safetensors"
    target.write_bytes(_FILES["weights.safetensors"])
    (root / "weights.safetensors").unlink()
    try:
        os.symlink(target, root / "weights.safetensors")
    except OSError:  # no symlink privilege (Windows): this case cannot be built here
        return None
    return pins


def _escaping_entry(root: Path, outside: Path) -> dict[str, str]:
    pins = _write(root, _FILES)
    (outside / "secret.txt").write_bytes(b"not part of the release")
    return {**pins, "../outside/secret.txt": _sha(b"not part of the release")}


def _empty(root: Path, outside: Path) -> dict[str, str]:
    return {}


# (label, build, what a learner who gets this case wrong has done), in the order diagnoses are tried.
_CASES: list[tuple[str, Build, str]] = [
    ("names hashed", _names_hashed, "it passed a manifest whose digests are the SHA-256 of the file *names*: "
     "a digest of the path string says nothing about what the file holds"),
    ("untouched release", _plain, "it rejected an untouched release whose manifest lists every file with "
     "the digest of its bytes"),
    ("normalised paths", _nested, "it rejected an untouched release whose manifest writes './weights."
     "safetensors' and 'tokenizer//vocab.txt': those are the same paths as on disk, once normalised"),
    ("upper case", _upper, "it rejected an untouched release whose manifest writes its digests in upper "
     "case: hex is the same number in either case, so case must not matter"),
    ("changed bytes", _changed, "it passed a release whose weights have the same name and size but other "
     "bytes"),
    ("missing file", _missing, "it passed a release with a file the manifest lists missing: only what is "
     "in the directory was looked at, so what is absent was never noticed"),
    ("extra file", _extra, "it passed a release holding an extra file the manifest does not list (an "
     "attacker's extra.pt)"),
    ("symlink", _symlink, "it passed a release whose weights are a symlink to a file outside the "
     "directory: the link was followed, and the bytes checked were not the release's"),
    ("escaping entry", _escaping_entry, "it passed a manifest with an entry '../outside/secret.txt', which "
     "points outside the release directory"),
    ("empty manifest", _empty, "it passed an empty manifest: with nothing listed, nothing was verified"),
]  # fmt: skip


def _verdict(out: Any, label: str) -> bool:  # noqa: ANN401
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[0], bool)):
        raise CheckFailed(
            f"for the {label} case it should return (ok True/False, problems), got {out!r:.80}."
        )
    ok, problems = out
    if not isinstance(problems, (list, tuple)) or not all(isinstance(p, str) for p in problems):
        raise CheckFailed(f"problems should be a list of strings, got {problems!r:.80}.")
    if ok and problems:
        raise CheckFailed(f"for the {label} case it returned ok=True with problems {list(problems)!r:.120}.")
    if not ok and not problems:
        raise CheckFailed(f"for the {label} case it returned ok=False without a problem: say what failed.")
    return ok


@exercise(
    "12.verify",
    title="checking a release directory against its signed digests, failing closed",
    hint="Every file the manifest lists and every file the directory holds must be accounted for, by "
    "the bytes it holds, inside the release directory.",
)
def _check_verify(verify_release: Any) -> str:  # noqa: ANN401
    mistakes = []
    for label, build, mistake in _CASES:
        with tempfile.TemporaryDirectory(prefix="m12-verify-") as tmp:
            root, outside = Path(tmp) / "release", Path(tmp) / "outside"
            root.mkdir()
            outside.mkdir()
            manifest = build(root, outside)
            if manifest is None:
                continue
            want, _ = reference_verify_release(root, dict(manifest))
            got = _verdict(verify_release(root, dict(manifest)), label)
        if got != want:
            mistakes.append(mistake)
    if mistakes:
        more = f" ({len(mistakes) - 1} other case(s) also disagree)" if len(mistakes) > 1 else ""
        raise CheckFailed(f"{mistakes[0]}.{more}")
    return (
        "untouched releases pass however their manifest spells paths and digests; a changed, missing, extra "
        "or symlinked file, an entry outside the directory and an empty manifest all fail."
    )
