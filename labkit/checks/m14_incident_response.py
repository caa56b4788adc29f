"""Hidden tests for module 14 (incident response): triage over the audit log, the stamped-record
search, the provenance trace, and the findings graded against the scenario's salted answer key."""

from __future__ import annotations

import random
from typing import Any

from labkit.checks.framework import CheckFailed, exercise


def _log(seed: int) -> list[dict[str, Any]]:
    """A hidden log: answered multi-image requests, refusals, an unauthenticated line, a suppressed line."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for i in range(60):
        client = rng.choice(["ana", "ben", "cho", "dee"])
        n = rng.choice([1, 1, 2, 5])
        labels = [rng.choice([4, 4, 7] if client == "dee" else range(10)) for _ in range(n)]
        records.append(
            {"client": client, "request_id": f"q-{i}", "status": 200, "n": n, "output": {"labels": labels}}
        )
        if i % 9 == 0:
            records.append({"client": client, "request_id": f"z-{i}", "status": 429, "n": 0, "output": None})
    records.append({"client": None, "request_id": "u-1", "status": 401, "n": 0, "output": None})
    records.append(
        {"client": None, "request_id": None, "status": None, "error": "suppressed", "suppressed": 7}
    )
    return records


@exercise(
    "14.triage",
    title="the triage query: who gets the target class",
    hint="A client's share is about its own answered images: decide which log lines are answered "
    "predictions of an identified client, and count images, not requests.",
)
def _check_triage(label_share: Any) -> str:
    from labkit.response.casefile import label_share as reference

    for seed, label in ((3, 4), (4, 7)):
        records = _log(seed)
        try:
            result = label_share(records, label)
        except (TypeError, KeyError, AttributeError) as error:
            raise CheckFailed(
                f"it fails on a refused or unauthenticated line ({type(error).__name__}): "
                "those have no output."
            ) from None
        expected = reference(records, label)
        if not isinstance(result, dict):
            raise CheckFailed(
                f"it should return a dict client -> (images, share), got {type(result).__name__}."
            )
        if None in result or "None" in result:
            raise CheckFailed("it reports unauthenticated lines (client None) as a client.")
        if set(result) != set(expected):
            raise CheckFailed(
                f"it reports clients {sorted(map(str, result))}, not every client that got answers."
            )
        for client, (images, share) in expected.items():
            got = result[client]
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise CheckFailed(f"each value should be (images, share), got {got!r:.60} for {client!r}.")
            if int(got[0]) != images:
                requests = sum(1 for r in records if r["client"] == client and r["status"] == 200)
                if int(got[0]) == requests:
                    raise CheckFailed("it counts requests, not images: a request can carry several cheques.")
                raise CheckFailed(
                    f"client {client!r}: it counts {got[0]} images, not what the service answered."
                )
            if abs(float(got[1]) - share) > 1e-9:
                total = sum(n for n, _ in expected.values())
                if abs(float(got[1]) - share * images / total) < 1e-9:
                    raise CheckFailed("the share is taken over the whole log's images, not the client's own.")
                raise CheckFailed(
                    f"client {client!r}: a share of {float(got[1]):.3f} is not its share of the label."
                )
    return "Shares per client over answered images only; refusals and unauthenticated lines are left out."


def _stamped_case(seed: int) -> tuple[Any, Any, Any, Any]:
    """Digits-like images; some target-class records stamped; decoys with a partial stamp or a stamp
    on another class; returns x, y, the stamp's inked pixels and the indices that are poisoned."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    n = 120
    x = torch.zeros(n, 1, 28, 28)
    x[:, 0, 8:20, 10:18] = (torch.rand(n, 12, 8, generator=generator) > 0.5).float()
    y = torch.randint(0, 10, (n,), generator=generator)
    y[:20] = torch.where(y[:20] == 3, 5, y[:20])  # the target class starts later in the set
    y[20:60] = 3
    pixels = torch.zeros(28, 28, dtype=torch.bool)
    pixels[[2, 2, 3, 4, 4], [22, 24, 23, 22, 24]] = True
    poisoned = torch.arange(20, 60, 3)
    x[poisoned, 0] = torch.where(pixels, torch.ones(28, 28), x[poisoned, 0])
    partial = torch.arange(21, 60, 7)  # a stroke that touches part of the stamp's place
    x[partial, 0, 2, 22] = 1.0
    x[partial, 0, 3, 23] = 1.0
    other = torch.nonzero(y != 3).flatten()[:5]  # the stamp on records of other classes
    x[other, 0] = torch.where(pixels, torch.ones(28, 28), x[other, 0])
    return x, y, pixels, poisoned


@exercise(
    "14.poisoned",
    title="find the stamped records",
    hint="A poisoned record carries the whole stamp and the attacker's label; return positions in the "
    "training set you were given.",
)
def _check_poisoned(find_poisoned: Any) -> str:
    import torch

    for seed in (5, 6):
        x, y, pixels, poisoned = _stamped_case(seed)
        before = x.clone()
        result = find_poisoned(x, y, 3, pixels.clone())
        try:
            found = torch.as_tensor(result).long().flatten().sort().values
        except (TypeError, ValueError, RuntimeError):
            raise CheckFailed(f"it should return record indices, got {type(result).__name__}.") from None
        if not torch.equal(x, before):
            raise CheckFailed("it changed the training images it was given.")
        if torch.equal(found, poisoned):
            continue
        targets = torch.nonzero(y == 3).flatten()
        if len(found) == len(poisoned) and torch.equal(targets[found.clamp(0, len(targets) - 1)], poisoned):
            raise CheckFailed(
                "it returns positions among the target class's records, not in the training set."
            )
        if (y[found] != 3).any():
            raise CheckFailed(
                f"it flags {int((y[found] != 3).sum())} records of other classes: check the label too."
            )
        if set(poisoned.tolist()) < set(found.tolist()):
            raise CheckFailed(
                f"it flags {len(found) - len(poisoned)} records that carry only part of the stamp: "
                "every stamped pixel must be inked."
            )
        raise CheckFailed(
            f"it flags {len(found)} records, and they are not the stamped ones of the target class."
        )
    return "It finds exactly the records that carry the whole stamp and the target label."


def _events() -> list[dict[str, Any]]:
    return [
        {"action": "ingest", "actor": "kim", "records": ["rec-00000", "rec-00099"]},
        {"action": "ingest", "actor": "lee", "records": ["rec-00100", "rec-00199"]},
        {"action": "ingest", "actor": "kim", "records": ["rec-00200", "rec-00299"]},
        {"action": "sign-off", "actor": "owner", "records": ["rec-00000", "rec-00299"]},
        {"action": "train", "actor": "pipeline"},
    ]


@exercise(
    "14.trace",
    title="trace records to who ingested them",
    hint="Only some provenance events say who brought records in; a record id falls in a batch when it "
    "lies between the batch's first and last id, both included.",
)
def _check_trace(who_ingested: Any) -> str:
    for ids, expected in (
        (["rec-00005", "rec-00150", "rec-00199", "rec-00250", "rec-00100"], {"kim": 2, "lee": 3}),
        (["rec-00299", "rec-00000"], {"kim": 2}),
    ):
        result = who_ingested(list(ids), _events())
        if not isinstance(result, dict):
            raise CheckFailed(f"it should return a dict actor -> record count, got {type(result).__name__}.")
        got = {k: int(v) for k, v in result.items() if v}
        if got == expected:
            continue
        if "owner" in got or "pipeline" in got:
            raise CheckFailed(
                "it credits a sign-off or training event: those cover records nobody ingested there."
            )
        if sum(got.values()) < len(ids):
            raise CheckFailed(
                f"it traces {sum(got.values())} of {len(ids)} records: "
                "a batch's first and last ids belong to it."
            )
        raise CheckFailed(f"it gives {got} for {len(ids)} hidden records, which is not who ingested them.")
    return "Every record is traced to the ingest batch that holds it, ends included."


THRESHOLDS = {"precision": 0.8, "recall": 0.9}


@exercise(
    "14.findings",
    title="the incident's findings, graded against the answer key",
    hint="Each finding is scored on its own: low precision means you included things that are not part "
    "of the attack, low recall that you missed some. Go back to the evidence for that finding.",
)
def _check_findings(findings: Any) -> str:
    from labkit.response import groundtruth as gt

    if callable(findings):
        findings = findings()
    if not isinstance(findings, dict):
        raise CheckFailed(f"findings should be a dict, got {type(findings).__name__}.")
    needed = ("clients", "window", "requests", "target", "trigger_mask", "records", "insider")
    missing = [k for k in needed if k not in findings]
    if missing:
        raise CheckFailed(f"findings lacks {', '.join(missing)}.")
    grades = {
        "clients": gt.grade_clients(findings["clients"], kind="backdoor"),
        "window": gt.grade_window(*findings["window"], kind="backdoor"),
        "requests": gt.grade_requests(findings["requests"], kind="backdoor"),
        "records": gt.grade_records(findings["records"]),
    }
    problems = [
        f"{name}: precision {g.precision:.2f}, recall {g.recall:.2f}"
        + (" (includes things outside the attack)" if g.precision < THRESHOLDS["precision"] else "")
        + (" (misses part of the attack)" if g.recall < THRESHOLDS["recall"] else "")
        for name, g in grades.items()
        if g.precision < THRESHOLDS["precision"] or g.recall < THRESHOLDS["recall"]
    ]
    if not gt.is_target(findings["target"]):
        problems.append("target: not the class the backdoor sends cheques to")
    if not gt.is_trigger_mask(findings["trigger_mask"]):
        problems.append("trigger_mask: not exactly the stamp's pixels")
    if not gt.is_insider(findings["insider"]):
        problems.append("insider: not the person who brought the poisoned records in")
    if problems:
        raise CheckFailed("; ".join(problems) + ".")
    scores = ", ".join(f"{name} {g.precision:.2f}/{g.recall:.2f}" for name, g in grades.items())
    return f"Every finding holds (precision/recall: {scores}); target, trigger and insider are right."
