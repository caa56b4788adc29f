"""The course benchmark: labkit's PGD loop against a hand-written loop, foolbox, torchattacks (and ART
when installed); each solution notebook's wall time; the fresh-setup time. Threads are pinned and
reported; every figure is min / median / max over interleaved repeats.

    .venv/bin/python bench/run.py                      # PGD on CPU (and CUDA when present)
    .venv/bin/python bench/run.py --before 1dcaae7     # ... plus labkit's PGD as of a git revision
    .venv/bin/python bench/run.py --notebooks          # ... plus every solution notebook (slow)
    .venv/bin/python bench/run.py --only 09 --notebooks --no-pgd   # one notebook: printed, not written
    .venv/bin/python bench/run.py --fresh-setup --no-pgd   # clone + `make venv` (builds a new venv)

Each run rewrites only the sections of bench/RESULTS.md it measured (the others keep their last
figures and their dates). No test asserts on timings.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # foolbox imports GitPython

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_times import long_cell_table, notebook_table, time_fresh_setup, time_notebook  # noqa: E402
from pgd_compare import pgd_table, time_pgd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
HEADER = """# Benchmark results

Regenerate: `make bench` (PGD), `.venv/bin/python bench/run.py --notebooks --no-pgd` (notebooks),
`.venv/bin/python bench/run.py --fresh-setup --no-pgd` (setup). Each section says when and on what it
was measured. Numbers belong to a machine and its load: compare ratios measured in the same run.
"""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def machine(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from labkit.runtime import physical_cores

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPU {cpu}, {physical_cores()} cores "
        f"({os.cpu_count()} logical); GPU {gpu}; torch {torch.__version__}, {threads} thread(s) pinned; "
        f"Python {platform.python_version()}; load average (1, 5, 15 min) at the end {load}"
    )


def write_section(name: str, title: str, body: list[str]) -> None:
    """Replace (or add) one section of RESULTS.md, keeping the others."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    block = f"<!-- {name} -->\n## {title}\n\n" + "\n".join(body).rstrip() + f"\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {name} -->.*?<!-- /{name} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    RESULTS.write_text(text.rstrip() + "\n", encoding="utf-8")


def publish(
    name: str, title: str, intro: str, note: list[str], rows: list[str], *, write: bool = True
) -> None:
    """Print one section (intro, optional note, table) and, with `write`, replace it in RESULTS.md."""
    body = [intro, "", *note, *rows]
    if write:
        write_section(name, title, body)
    print("\n".join(body))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pgd", action=argparse.BooleanOptionalAction, default=True, help="time PGD")
    parser.add_argument("--notebooks", action="store_true", help="time every solution notebook (slow)")
    parser.add_argument("--only", default="", metavar="TEXT", help="notebooks whose name contains TEXT")
    parser.add_argument("--fresh-setup", action="store_true", help="clone and time `make venv` (slow)")
    parser.add_argument("--before", metavar="REV", help="also time labkit's PGD as of git revision REV")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (at least 5)")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, pinned (default 1)")
    parser.add_argument("--timeout", type=int, default=900, help="per-cell timeout for notebooks (s)")
    parser.add_argument("--note", default="", help="a note for the tables, e.g. 'under load'")
    args = parser.parse_args(argv)
    if args.repeats < 5:
        parser.error("--repeats must be at least 5: a spread needs repeats")
    from labkit.runtime import configure_threads

    threads = configure_threads(args.threads).threads
    note = [f"_{args.note}_", ""] if args.note else []
    failed = False
    if args.pgd:
        devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
        results = []
        for device in devices:
            log(f"timing PGD on {device} ...")
            results.append(
                time_pgd(
                    device,
                    images=args.images,
                    steps=args.steps,
                    epsilon=0.1,
                    repeats=args.repeats,
                    before=args.before,
                    log=log,
                )
            )
        title = "PGD: labkit vs a hand-written loop and the libraries"
        publish("pgd", title, f"Measured {machine(threads)}.", note, pgd_table(results))
    if args.notebooks:
        paths = [p for p in sorted((ROOT / "solutions").glob("*.ipynb")) if args.only in p.name]
        timings = []
        for path in paths:
            log(f"running {path.name} ...")
            timings.append(time_notebook(path, timeout=args.timeout, threads=threads))
            log(f"  {timings[-1].seconds:.1f} s, {timings[-1].status}")
        failed = any(t.status != "ok" for t in timings)
        intro = (
            f"Measured {machine(threads)}. Fresh kernel each, LABKIT_HOME in a temporary directory, "
            "strict checks on, full (not quick) mode."
        )
        title = "Solution notebooks (wall time, fresh kernel)"
        whole = not args.only  # a subset is printed, not written: the course map's times come from the table
        publish("notebooks", title, intro, note, notebook_table(timings), write=whole)
        intro = (
            "Measured in the same run as the notebooks above. A cell counts as showing a progress bar when "
            "it opened at least one progress-bar widget while it ran."
        )
        publish(
            "cells", "Long cells and their progress bars", intro, note, long_cell_table(timings), write=whole
        )
    if args.fresh_setup:
        log("cloning and running `make venv` in a temporary directory ...")
        seconds, status = time_fresh_setup()
        rows = [
            "| step | wall time (s) | status |",
            "|---|---:|---|",
            f"| `git clone` + `make venv` (a new venv, deleted after) | {seconds:.0f} | {status} |",
        ]
        publish("setup", "Fresh setup", f"Measured {machine(threads)}.", note, rows)
        failed = failed or status != "ok"
    log(
        f"results in {RESULTS.relative_to(ROOT)}"
        + (" (--only: notebook tables printed, not written)" if args.only else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
