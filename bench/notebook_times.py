"""Wall time of each solution notebook, top to bottom in a fresh kernel (LABKIT_HOME in a temporary
directory, strict checks on, threads pinned through LABKIT_THREADS and OMP_NUM_THREADS), and the time
a fresh clone takes to set itself up (`make venv` into a new virtual environment, deleted after)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class NotebookTiming:
    name: str
    seconds: float
    status: str


def time_notebook(path: Path, *, timeout: int, threads: int, quick: bool = False) -> NotebookTiming:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    keys = (
        "LABKIT_HOME",
        "LABKIT_STRICT_CHECKS",
        "MPLBACKEND",
        "LABKIT_THREADS",
        "OMP_NUM_THREADS",
        "LABKIT_QUICK",
    )
    saved = {k: os.environ.get(k) for k in keys}
    with tempfile.TemporaryDirectory(prefix="labkit-bench-") as home:
        os.environ.update(
            LABKIT_HOME=home,
            LABKIT_STRICT_CHECKS="1",
            MPLBACKEND="Agg",
            LABKIT_THREADS=str(threads),
            OMP_NUM_THREADS=str(threads),
        )
        if quick:
            os.environ["LABKIT_QUICK"] = "1"
        else:
            os.environ.pop("LABKIT_QUICK", None)
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        start = time.perf_counter()
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as error:
            status = f"failed: {error.ename}"
        except CellTimeoutError:
            status = f"timed out after {timeout} s"
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        seconds = time.perf_counter() - start
    return NotebookTiming(path.name, seconds, status)


def notebook_table(timings: list[NotebookTiming]) -> list[str]:
    rows = ["| notebook | wall time (s) | status |", "|---|---:|---|"]
    rows += [f"| {t.name} | {t.seconds:.1f} | {t.status} |" for t in timings]
    if timings:
        rows.append(f"| **total** | {sum(t.seconds for t in timings):.1f} | |")
    return rows


def time_fresh_setup() -> tuple[float, str]:
    """`git clone` this checkout into a temporary directory and time `make venv` there (a new virtual
    environment, several GB: deleted afterwards). Returns seconds and make's exit status."""
    workdir = Path(tempfile.mkdtemp(prefix="labkit-setup-"))
    try:
        clone = workdir / "course"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        start = time.perf_counter()
        done = subprocess.run(["make", "venv"], cwd=clone, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        status = "ok" if done.returncode == 0 else f"failed ({done.returncode}): {done.stderr[-200:]}"
        return seconds, status
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
