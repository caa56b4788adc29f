"""The lock (requirements/lock.txt) pins every package pyproject.toml declares, and only portable sources."""

from __future__ import annotations

import re

import tomllib

from labkit.paths import repo_root

ROOT = repo_root()
LOCK = ROOT / "requirements" / "lock.txt"


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)).lower()  # type: ignore[union-attr]


def pins() -> dict[str, str]:
    found = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            assert version, f"{line!r} in {LOCK.name} is not pinned with =="
            found[_name(name)] = version.split()[0]
    return found


def test_lock_pins_every_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    locked = pins()
    missing = sorted({_name(d) for d in declared} - set(locked))
    assert not missing, (
        f"pyproject.toml declares {missing} but {LOCK.name} lacks them: run `make lock` and commit it"
    )


def test_lock_agrees_with_constraints_and_holds_no_machine_local_sources():
    locked = pins()
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            assert locked[_name(name)] == version.strip(), (
                f"{LOCK.name} pins {name} differently from constraints.txt"
            )
    text = LOCK.read_text(encoding="utf-8")
    assert not re.search(r"--(extra-)?index-url|--find-links|file:/|/opt/|/work/|/home/", text)
