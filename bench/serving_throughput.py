"""Loopback throughput of the prediction service (labkit.service): requests and images per second.

Run: .venv/bin/python bench/serving_throughput.py [--seconds 3]
Writes a markdown table to bench/results/serving.md (and prints it).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from labkit.data import load_digits
from labkit.service.client import Client
from labkit.service.lifecycle import serve


def _run(url: str, x: torch.Tensor, *, batch: int, clients: int, seconds: float) -> tuple[int, int, float]:
    counts = [0] * clients
    stop = time.perf_counter() + seconds

    def work(index: int) -> None:
        with Client(url, "demo-key") as client:
            client.predict(x[:batch])  # warm the connection
            while time.perf_counter() < stop:
                client.predict(x[:batch])
                counts[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return sum(counts), sum(counts) * batch, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each measurement")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "serving.md")
    args = parser.parse_args()
    x, _ = load_digits("test")
    rows = [
        "| audit fsync | clients | images/request | requests/s | images/s | median server latency (ms) |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for fsync in (True, False):
            log = Path(tmp) / f"audit-{fsync}.jsonl"
            with serve("digits_cnn", log_path=log, fsync=fsync) as service:
                for clients, batch in ((1, 1), (4, 1), (1, 16), (1, 256)):
                    before = len(service.audit_log())
                    requests, images, elapsed = _run(
                        service.url, x, batch=batch, clients=clients, seconds=args.seconds
                    )
                    latencies = sorted(r["latency_ms"] for r in service.audit_log()[before:])
                    median = latencies[len(latencies) // 2] if latencies else float("nan")
                    rows.append(
                        f"| {'on' if fsync else 'off'} | {clients} | {batch} | "
                        f"{requests / elapsed:.1f} | {images / elapsed:.0f} | {median:.1f} |"
                    )
                    print(rows[-1], flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = "\n".join(
        [
            "# Prediction service throughput (loopback)",
            "",
            f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
            f"{os.cpu_count()} CPUs, torch {torch.__version__}, 1-minute load average {load:.1f} at the end "
            "(other work on the machine inflates these times).",
            f"Model digits_cnn, policy probabilities, {args.seconds:g} s per row, "
            "`.venv/bin/python bench/serving_throughput.py`.",
            "",
            *rows,
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
