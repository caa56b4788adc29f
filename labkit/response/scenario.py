"""The incident scenario: one simulated day of traffic against the real served cheque reader, the
training set behind it, its provenance and the sealed ground truth. `labkit response build-scenario`
regenerates every file deterministically (same code, same seeds, same bytes on the same machine).

The simulation serves the deployed (backdoored) zoo model with `labkit.service.lifecycle.serve` on
loopback and drives every client through real HTTP requests, one at a time, in time order. The service
stamps records with an injected clock that jumps to each query's simulated time, so a day runs in
about a minute without sleeping.

Files written into datasets/incident/ (each pinned in MANIFEST.sha256):
- audit.jsonl: the service's JSONL audit log, one object per request, fields as labkit.service writes
  them: time (ISO 8601 UTC, ms), run, request_id, client (None if unauthenticated), key_id, source,
  method, path, policy, status, error, message (refusals), n (images), bytes, input_sha256,
  summary {mean, std, min, max, saturated}, nearest_l2 (per image: L2 distance to the nearest earlier
  input of the same client, None for its first), output {labels, confidence}, remaining, latency_ms.
- training_set.npz: the records the deployed model was trained on: images uint8 N x 28 x 28,
  labels int64 N, record_ids str N ("rec-00000", ...).
- provenance.jsonl: one JSON event per line: event, time, actor, action ("ingest", "sign-off",
  "train", "deploy"), and per action: records [first id, last id] + count + manifest_digest (of that
  batch, labkit.release.provenance.build_manifest); the sign-off's digest of the whole set and its
  HMAC signature (sign_manifest with DATA_OWNER_KEY); the model's name and weights SHA-256.
- scenario.json: the public description: day, service settings, clients, file list, seed.
- scenario_key.json: the ground truth as salted digests only (see labkit.response.groundtruth).
"""

from __future__ import annotations

import heapq
import io
import json
import random
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labkit import validate
from labkit.data import load_digits
from labkit.integrity import sha256_file, write_manifest_entry
from labkit.paths import datasets_dir
from labkit.response import actors
from labkit.response.groundtruth import ATTACKS, digest, minute_text, minutes_between, roles
from labkit.response.records import provenance_events, training_arrays, training_records
from labkit.service.client import encode_array
from labkit.service.lifecycle import serve

DAY = datetime(2026, 11, 16, tzinfo=timezone.utc)
MODEL = "digits_cnn_backdoored"
RUN_ID = "d1116"
SALT = "labkit-scenario-2026"
SEED = 1300
FILES = ("audit.jsonl", "training_set.npz", "provenance.jsonl", "scenario.json", "scenario_key.json")


class SimClock:
    """The simulated time: `set` jumps to a moment of the day; `__call__` gives the datetime the
    service stamps records with; `timer` a monotonic reading that advances a few ms per call."""

    def __init__(self, *, seed: int = 0) -> None:
        seed = validate.integer("seed", seed)
        self.seconds = 0.0
        self._offset = 0.0
        self._rng = random.Random(seed)

    def set(self, seconds: float) -> None:
        self.seconds = validate.finite_float("seconds", seconds, low=0.0)

    def __call__(self) -> datetime:
        return DAY + timedelta(seconds=self.seconds)

    def timer(self) -> float:
        self._offset += self._rng.uniform(0.002, 0.009)
        return self.seconds + self._offset


@dataclass
class Truth:
    """What the simulation knows and the log does not say: attack requests per kind, campaign spans."""

    requests: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in ("any", *ATTACKS)})
    spans: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: {k: [] for k in ATTACKS})


def _cast(seed: int) -> tuple[dict[str, actors.Actor], dict[str, str]]:
    """Every client of the day and its behaviour; and which attack each attacker runs."""
    plan = roles()
    pool, _ = load_digits("test")
    from labkit.zoo.incident import _plan

    trigger = _plan().trigger
    cast: dict[str, actors.Actor] = {}
    for i in range(1, 12):
        cast[f"branch-{i:02d}"] = actors.branch(pool, seed=seed + i, requests=36 + 3 * i)
    for i, name in enumerate(("mobile-1045", "mobile-3310", "mobile-4470", "mobile-6120")):
        cast[name] = actors.mobile(pool, seed=seed + 20 + i, requests=18 + 4 * i)
    cast["qa-monitor"] = actors.monitor(pool)
    cast["clearing-batch"] = actors.clearing(pool, seed=seed + 30)
    cast["partner-paycore"] = actors.partner(
        pool, seed=seed + 31, start=7 * actors.HOUR, end=21 * actors.HOUR, every=720.0, size=16
    )
    cast["branch-04-legacy"] = actors.buggy(pool, seed=seed + 32, at=9.3 * actors.HOUR)
    cast[plan["extraction"]] = actors.extraction(seed=seed + 40, start=10.2 * actors.HOUR, requests=220)
    h = actors.HOUR
    cast[plan["evasion"]] = actors.evasion(
        pool, seed=seed + 41, bursts=[19.1 * h, 19.7 * h, 20.5 * h, 21.3 * h], steps=45, benign=8
    )
    cast[plan["backdoor"]] = actors.fraud(
        pool, trigger, seed=seed + 42, start=15.1 * h, end=17.3 * h, requests=40
    )
    kinds = {plan[k]: k for k in ATTACKS}
    return cast, kinds


def _send(client: Any, query: actors.Query) -> dict[str, Any]:  # noqa: ANN401
    body = encode_array(query.x)
    response = client.post(body)
    reply = dict(response.json()) if response.headers.get("content-type") == "application/json" else {}
    reply["status"] = response.status_code
    return reply


def simulate_day(log_path: Path, *, seed: int = SEED) -> Truth:
    """Run the day against the real service, appending to `log_path`; the ground truth it produced."""
    log_path = validate.path("log_path", log_path)
    seed = validate.integer("seed", seed, low=0)
    cast, kinds = _cast(seed)
    keys = {f"key-{name}": name for name in cast}
    clock, truth = SimClock(seed=seed), Truth()
    heap: list[tuple[float, int, str, actors.Query]] = []
    order = 0
    for name, actor in cast.items():
        first = next(actor, None)
        if first is not None:
            heap.append((first.at, order, name, first))
            order += 1
    heapq.heapify(heap)
    revoked = [(8.6 * actors.HOUR + 30 * i, i) for i in range(4)]  # a branch's old, revoked key
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with serve(
            MODEL,
            api_keys=keys,
            log_path=log_path,
            fsync=False,
            clock=clock,
            timer=clock.timer,
            run_id=RUN_ID,
        ) as service:
            clients = {name: service.client(key) for key, name in keys.items()}
            stale = service.client("key-branch-03-2025")
            pool, _ = load_digits("test")
            while heap:
                at, _, name, query = heapq.heappop(heap)
                while revoked and revoked[0][0] <= at:
                    clock.set(revoked.pop(0)[0])
                    _send(stale, actors.Query(clock.seconds, pool[:1]))
                clock.set(at)
                reply = _send(clients[name], query)
                if query.tag:
                    kind, request = kinds[name], str(reply.get("request_id"))
                    truth.requests["any"].append(request)
                    truth.requests[kind].append(request)
                    spans = truth.spans[kind]
                    gap = 600.0 if kind == "evasion" else 3600.0
                    if spans and at - spans[-1][1] <= gap:
                        spans[-1] = (spans[-1][0], at)
                    else:
                        spans.append((at, at))
                    if kind == "backdoor" and query.tag != "trigger":
                        truth.requests["backdoor"].pop()  # backdoor requests: those with the trigger
                nxt = _advance(cast[name], reply)
                if nxt is not None:
                    heapq.heappush(heap, (nxt.at, order, name, nxt))
                    order += 1
    finally:
        torch.set_num_threads(threads)
    return truth


def _advance(actor: actors.Actor, reply: dict[str, Any]) -> actors.Query | None:
    try:
        return actor.send(reply)
    except StopIteration:
        return None


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz with fixed zip time stamps (numpy's own writer stamps the current time)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def _key(truth: Truth, poisoned: list[str], insider: str) -> dict[str, Any]:
    from labkit.attacks.backdoor import trigger_mask
    from labkit.zoo.incident import _mask_text, _plan

    plan, plain = _plan(), roles()
    items: dict[str, list[str]] = {
        "client:any": [plain[k] for k in ATTACKS],
        **{f"client:{k}": [plain[k]] for k in ATTACKS},
        **{f"request:{k}": v for k, v in truth.requests.items()},
        "record": poisoned,
        "actor": [insider],
        "target": [str(plan.target)],
        "trigger_mask": [_mask_text(trigger_mask(plan.trigger))],
    }
    every: set[str] = set()
    for kind in ATTACKS:
        minutes = {m for a, b in truth.spans[kind] for m in minutes_between(_at(a), _at(b))}
        items[f"minute:{kind}"] = sorted(minutes)
        every |= minutes
    items["minute:any"] = sorted(every)
    return {
        "format": "labkit-scenario-key/1",
        "salt": SALT,
        "digests": {
            kind: sorted(digest(SALT, kind, v) for v in set(values)) for kind, values in items.items()
        },
    }


def _at(seconds: float) -> str:
    return minute_text(DAY + timedelta(seconds=seconds))


def build_scenario(root: Path | None = None) -> dict[str, Any]:
    """Regenerate every scenario file into root/incident/ (default: datasets/) and pin them in the
    manifest; returns the public description (also written to scenario.json)."""
    root = datasets_dir() if root is None else validate.path("root", root, exists="dir")
    out = root / "incident"
    out.mkdir(parents=True, exist_ok=True)
    from labkit.zoo.registry import model_card

    started = time.perf_counter()
    insider = roles()["insider"]
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "audit.jsonl"
        truth = simulate_day(log)
        (out / "audit.jsonl").write_bytes(log.read_bytes())
    records = training_records(seed=SEED)
    _write_npz(out / "training_set.npz", training_arrays(records))
    card = model_card(MODEL)
    events = provenance_events(records, insider=insider, weights_sha256=card["weights_sha256"])
    (out / "provenance.jsonl").write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in events))
    key = _key(truth, records.poisoned, insider)
    (out / "scenario_key.json").write_text(json.dumps(key, indent=1) + "\n")
    lines = (out / "audit.jsonl").read_text().splitlines()
    clients = sorted({c for c in (json.loads(line).get("client") for line in lines) if c})
    description = {
        "format": "labkit-scenario/1",
        "day": DAY.date().isoformat(),
        "model": MODEL,
        "weights_sha256": card["weights_sha256"],
        "policy": "probabilities",
        "run_id": RUN_ID,
        "seed": SEED,
        "requests": len(lines),
        "clients": clients,
        "training_records": len(records.ids),
        "files": list(FILES),
        "command": "labkit response build-scenario",
    }
    (out / "scenario.json").write_text(json.dumps(description, indent=1) + "\n")
    for name in FILES:
        write_manifest_entry(f"incident/{name}", sha256_file(out / name), root)
    description["seconds"] = round(time.perf_counter() - started, 1)
    return description
