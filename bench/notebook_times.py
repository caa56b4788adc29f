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


PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}  # what tqdm's notebook bar opens
LONG_CELL_S = 5.0  # a cell running longer than this shows a progress bar (issue 11)


@dataclass(frozen=True)
class CellTiming:
    index: int  # position among the notebook's code cells, from 1
    first_line: str
    seconds: float
    progress_bar: bool  # the cell opened at least one progress-bar widget


@dataclass(frozen=True)
class NotebookTiming:
    name: str
    seconds: float
    status: str
    cells: tuple[CellTiming, ...] = ()


def _cell_seconds(cell: object) -> float:
    from datetime import datetime

    timing = getattr(cell, "metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return 0.0
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


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
        bars: set[int] = set()

        class Client(NotebookClient):  # notes which cells open a progress-bar widget
            def process_message(self, msg, cell, cell_index):  # type: ignore[no-untyped-def]
                state = msg.get("content", {}).get("data", {}).get("state", {})
                if msg.get("msg_type") == "comm_open" and state.get("_model_name") in PROGRESS_MODELS:
                    bars.add(cell_index)
                return super().process_message(msg, cell, cell_index)

        client = Client(
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
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    cells = tuple(
        CellTiming(n, (c.source.strip().splitlines() or [""])[0][:60], _cell_seconds(c), i in bars)
        for n, (i, c) in enumerate(code, start=1)
    )
    return NotebookTiming(path.name, seconds, status, cells)


def long_cell_table(timings: list[NotebookTiming]) -> list[str]:
    """Every code cell that ran longer than LONG_CELL_S, and whether it showed a progress bar."""
    rows = [
        "| notebook | code cell | first line | wall time (s) | progress bar |",
        "|---|---:|---|---:|---|",
    ]
    long = [(t, c) for t in timings for c in t.cells if c.seconds > LONG_CELL_S]
    for t, c in long:
        line = c.first_line.replace("|", "\\|")
        rows.append(
            f"| {t.name} | {c.index} | `{line}` | {c.seconds:.1f} | {'yes' if c.progress_bar else '**no**'} |"
        )
    missing = sum(not c.progress_bar for _, c in long)
    rows += [
        "",
        f"{len(long)} cells ran longer than {LONG_CELL_S:.0f} s; {missing} of them showed no progress bar.",
    ]
    return rows


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
