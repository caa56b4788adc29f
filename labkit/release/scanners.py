"""Three standard pickle scanners side by side on the same files, and the course's fail-closed scan gate.

Each scanner runs in its own Python process and reads opcodes without unpickling anything. They are
deny-lists: they flag known-dangerous imports; a verdict of "clean" means "nothing known was found", and a
scanner that looked at no file has proven nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit import validate as v
from labkit.release.gates import GateRun, run_picklescan

SCANNERS = ("picklescan", "modelscan", "fickling")
VERDICTS = ("flagged", "clean", "scanned nothing", "error")

# Runs in a fresh process: one scanner over every target named in argv; prints one JSON line per target
# with the number of files the scanner looked at and the number it flagged.
_SCAN = r"""
import json, logging, os, sys, zipfile
logging.disable(logging.CRITICAL)
scanner, targets = sys.argv[1], sys.argv[2:]

def picklescan(target):
    from picklescan.scanner import scan_directory_path, scan_file_path
    result = scan_directory_path(target) if os.path.isdir(target) else scan_file_path(target)
    return result.scanned_files, result.infected_files, "scan error" if result.scan_err else ""

def modelscan(target):
    from modelscan.modelscan import ModelScan
    report = ModelScan().scan(target)
    summary = report["summary"]
    errors = report.get("errors") or []
    return summary["scanned"]["total_scanned"], summary["total_issues"], "; ".join(map(str, errors))[:200]

def fickling(target):
    import fickling
    if os.path.isdir(target):
        return 0, 0, "no directory mode"
    if zipfile.is_zipfile(target):
        results = fickling.scan_zip_archive(target, graceful=True)
    else:
        results = {target: fickling.scan_file(target, graceful=True)}
    unsafe = sum(1 for r in results.values() if str(r.severity.name) != "LIKELY_SAFE")
    return len(results), unsafe, ", ".join(sorted({r.severity.name for r in results.values()}))

for target in targets:
    try:
        scanned, flagged, note = globals()[scanner](target)
    except Exception as error:
        scanned, flagged, note = -1, 0, f"{type(error).__name__}: {str(error)[:160]}"
    item = {"target": target, "scanned": scanned, "flagged": flagged, "note": note}
    print("labkit-json " + json.dumps(item))
"""


@dataclass(frozen=True)
class ScanRow:
    """One scanner's verdict on one target: files it looked at, files it flagged, its own note."""

    target: str
    scanner: str
    verdict: str
    scanned: int
    flagged: int
    note: str


def _verdict(scanned: int, flagged: int) -> str:
    if scanned < 0:
        return "error"
    if flagged:
        return "flagged"
    return "clean" if scanned else "scanned nothing"


def run_scanner(scanner: str, targets: Sequence[Path | str], *, timeout: float = 300.0) -> list[ScanRow]:
    """Run one standard scanner (picklescan, modelscan or fickling) the way it works out of the box
    (a directory is walked by the scanner's own rules) on each target, in a separate process."""
    v.choice("scanner", scanner, SCANNERS)
    v.positive_float("timeout", timeout)
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence) or not targets:
        raise TypeError(f"targets must be a non-empty list of paths, not {targets!r:.60}.")
    paths = [v.path(f"targets[{i}]", t) for i, t in enumerate(targets)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"targets: nothing at {missing[0]!r}.")
    done = subprocess.run(
        [sys.executable, "-c", _SCAN, scanner, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    found = {}
    for line in done.stdout.splitlines():
        if line.startswith("labkit-json "):
            item = json.loads(line.removeprefix("labkit-json "))
            found[item["target"]] = item
    rows = []
    for path in paths:
        item = found.get(str(path), {"scanned": -1, "flagged": 0, "note": done.stderr.strip()[-200:]})
        verdict = _verdict(item["scanned"], item["flagged"])
        rows.append(ScanRow(path.name, scanner, verdict, item["scanned"], item["flagged"], item["note"]))
    return rows


def gate_row(target: Path | str, *, timeout: float = 120.0) -> ScanRow:
    """The course's gate (`run_picklescan`: every file by content, fail closed) as a ScanRow."""
    path = v.path("target", target, exists=None)
    if not path.exists():
        raise FileNotFoundError(f"target: nothing at {str(path)!r}.")
    run: GateRun = run_picklescan(path, timeout=timeout)
    verdict = {0: "clean", 1: "flagged"}.get(run.returncode, "error")
    if "scanned 0 of" in run.output or "found no file" in run.output:
        verdict = "scanned nothing"
    scanned = run.passed + run.failed
    last = run.output.strip().splitlines()[-1] if run.output.strip() else ""
    return ScanRow(path.name, "labkit gate", verdict, scanned, run.failed, last[:200])


def compare_scanners(targets: Sequence[Path | str], *, timeout: float = 300.0) -> list[ScanRow]:
    """Every standard scanner and the course's gate on the same targets: one row per (target, scanner)."""
    rows: list[ScanRow] = []
    for scanner in SCANNERS:
        rows += run_scanner(scanner, targets, timeout=timeout)
    rows += [gate_row(t, timeout=timeout) for t in targets]
    return rows


def comparison_table(rows: Sequence[ScanRow]) -> str:
    """A Markdown table: one line per target, one column per scanner, each cell its verdict."""
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence) or not rows:
        raise TypeError(f"rows must be a non-empty list of ScanRow, not {rows!r:.60}.")
    if not all(isinstance(r, ScanRow) for r in rows):
        raise TypeError("rows must hold ScanRow records (from compare_scanners).")
    scanners = list(dict.fromkeys(r.scanner for r in rows))
    targets = list(dict.fromkeys(r.target for r in rows))
    cell = {(r.target, r.scanner): r for r in rows}
    lines = ["| file | " + " | ".join(scanners) + " |", "|---" * (len(scanners) + 1) + "|"]
    for target in targets:
        cells = []
        for scanner in scanners:
            row = cell.get((target, scanner))
            cells.append("—" if row is None else f"{row.verdict} ({row.flagged}/{max(row.scanned, 0)})")
        lines.append(f"| {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
