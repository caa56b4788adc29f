"""Latency of GET /health while the prediction service (labkit.service) is busy: does a cheap request
wait behind model work and body parsing?

Two loads: three clients sending batches of 256 digits back to back, and one client sending an
invalid 4.7 MB body (2900 images as JSON lists: over the batch limit of 256,
within the body limit) over and over.
A probe asks /health every 20 ms on its own connection and records each round trip.

Run: .venv/bin/python bench/serving_latency.py [--seconds 5] [--label after] [--append]
Writes a markdown table (min / median / p99 / max in ms) to bench/results/serving_latency.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

from labkit.data import load_digits
from labkit.service.client import Client
from labkit.service.lifecycle import serve

HEADER = [
    "| label | load | /health probes | min (ms) | median (ms) | p99 (ms) | max (ms) |",
    "|---|---|---|---|---|---|---|",
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _probe(url: str, seconds: float, load: Callable[[threading.Event], None], workers: int) -> list[float]:
    """/health round trips (ms) while `workers` threads run `load` until told to stop."""
    stop = threading.Event()
    threads = [threading.Thread(target=load, args=(stop,)) for _ in range(workers)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # let the load reach a steady state
    times: list[float] = []
    with Client(url, "demo-key") as probe:
        probe.health()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            probe.health()
            times.append(1000 * (time.perf_counter() - started))
            time.sleep(0.02)
    stop.set()
    for thread in threads:
        thread.join()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement")
    parser.add_argument("--label", default="", help="a name for this run (e.g. before, after)")
    parser.add_argument("--append", action="store_true", help="add rows to an existing table")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "serving_latency.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, _ = load_digits("test")
    batch = x[:256]
    invalid = json.dumps({"inputs": [[[0] * 28] * 28] * 2900}, separators=(",", ":")).encode()
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, serve("digits_cnn", log_path=Path(tmp) / "a.jsonl") as service:

        def batches(stop: threading.Event) -> None:
            with Client(service.url, "demo-key") as client:
                while not stop.is_set():
                    client.predict(batch)

        def invalid_bodies(stop: threading.Event) -> None:
            with Client(service.url, "demo-key") as client:
                while not stop.is_set():
                    client.post(invalid)

        idle = _probe(service.url, min(args.seconds, 2.0), lambda stop: None, 0)
        loads = [("idle", idle)]
        loads.append(("3 clients, 256 images/request", _probe(service.url, args.seconds, batches, 3)))
        loads.append(
            (
                f"1 client, invalid {len(invalid) / 1e6:.1f} MB body",
                _probe(service.url, args.seconds, invalid_bodies, 1),
            )
        )
        for name, times in loads:
            rows.append(
                f"| {args.label} | {name} | {len(times)} | {min(times):.1f} | {statistics.median(times):.1f} "
                f"| {_percentile(times, 0.99):.1f} | {max(times):.1f} |"
            )
            print(rows[-1], flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    note = (
        f"- {args.label or 'run'}: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__} on 1 thread, {args.seconds:g} s per load, "
        f"1-minute load average {load:.1f} at the end."
    )
    if args.append and args.out.is_file():
        text = args.out.read_text(encoding="utf-8").rstrip("\n").split("\n")
        table_end = max(i for i, line in enumerate(text) if line.startswith("|")) + 1
        text = [*text[:table_end], *rows, *text[table_end:], note]
    else:
        text = [
            "# /health latency while the prediction service is busy (loopback)",
            "",
            "`.venv/bin/python bench/serving_latency.py --label LABEL [--append]`; model digits_cnn, "
            "policy probabilities, audit fsync on. Other work on the machine inflates these times.",
            "",
            *HEADER,
            *rows,
            "",
            note,
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
