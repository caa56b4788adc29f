"""Statistical detectors over the audit log, for what a rule cannot express: each reads the records in
log order, keeps per-client state and raises an `Alert` on the request that tips it over.

- prada: PRADA (Juuti et al., 2019). Benign clients' queries are natural images: the distance from each
  new query to the client's nearest earlier one is roughly normally distributed. An extraction client
  synthesising queries as small perturbations of earlier ones produces a skewed, bimodal set of
  distances. Alert when the Shapiro-Wilk statistic W of a client's distances drops below a threshold.
- near_duplicate_bursts: many queries within a short time, each very close to an earlier query of the
  same client: a decision-based attack walking along the decision boundary.
- output_skew: a client whose answers pile up on one class with high confidence (a backdoor's trigger
  turns every cheque into its target class), ignoring exact resubmissions.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from labkit import validate
from labkit.response.detection import Alert, Score, _time, score


def answered(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answered requests (status 200 with a client) in log order."""
    if isinstance(records, (str, bytes, dict)) or not isinstance(records, Iterable):
        raise TypeError(f"records must be a list of audit records (dicts), not {records!r:.60}.")
    out = []
    for record in records:
        if not isinstance(record, dict):
            raise TypeError(f"records must hold audit records (dicts), not {type(record).__name__}.")
        if record.get("status") == 200 and record.get("client") and record.get("output"):
            out.append(record)
    return out


REPEAT = 0.01  # an input this close to an earlier one is a resubmission (float32 noise, not a change)


def distances(record: dict[str, Any], *, skip_repeats: bool = True) -> list[float]:
    """The record's nearest-earlier-query distances (None dropped; resubmitted inputs, closer than
    REPEAT, dropped if `skip_repeats`: sending the same input again explores nothing)."""
    if not isinstance(record, dict):
        raise TypeError(f"record must be an audit record (a dict), not {type(record).__name__}.")
    values = [float(d) for d in record.get("nearest_l2") or [] if isinstance(d, (int, float))]
    return [d for d in values if d > REPEAT or not skip_repeats]


def shapiro_w(values: Sequence[float]) -> float:
    """The Shapiro-Wilk statistic W of `values` (1 = perfectly normal; needs 3 to 5,000 values)."""
    from scipy.stats import shapiro

    values = validate.numbers_list("values", values)
    if not 3 <= len(values) <= 5000:
        raise ValueError(f"values must hold 3 to 5,000 numbers for Shapiro-Wilk, got {len(values)}.")
    if max(values) == min(values):
        return 0.0  # all equal: as far from a normal spread as it gets
    return float(shapiro(values).statistic)


def prada_statistics(
    records: Iterable[dict[str, Any]], *, min_distances: int = 100
) -> list[tuple[dict[str, Any], float]]:
    """PRADA's statistic after each answered request: per client, the growing set of distances to the
    nearest earlier query (the last 5,000), and once it holds `min_distances`, its Shapiro-Wilk W."""
    min_distances = validate.integer("min_distances", min_distances, low=3, high=5000)
    seen: dict[str, list[float]] = defaultdict(list)
    out = []
    for record in answered(records):
        pool = seen[record["client"]]
        pool += distances(record)
        del pool[:-5000]
        if len(pool) >= min_distances:
            out.append((record, shapiro_w(pool)))
    return out


def prada(
    records: Iterable[dict[str, Any]], *, threshold: float = 0.9, min_distances: int = 100
) -> list[Alert]:
    """PRADA: an alert on every request after which the client's W (prada_statistics) is below
    `threshold`."""
    threshold = validate.finite_float("threshold", threshold, low=0.0, high=1.0)
    return [
        Alert("prada", r["client"], _time(r["time"]), r["request_id"])
        for r, w in prada_statistics(records, min_distances=min_distances)
        if w < threshold
    ]


def prada_flags(
    batches: Sequence[Sequence[float | None]], *, threshold: float = 0.9, min_distances: int = 100
) -> list[bool]:
    """PRADA for one client given the nearest_l2 list of each of its requests, in order: one flag per
    request, True when W of the growing set is below `threshold` (the reference for module 13)."""
    if isinstance(batches, (str, bytes)) or not isinstance(batches, Sequence):
        raise TypeError(f"batches must be a list of nearest_l2 lists, one per request, not {batches!r:.60}.")
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    records = []
    for i, batch in enumerate(batches):
        if isinstance(batch, (str, bytes)) or not isinstance(batch, Sequence):
            raise TypeError(f"batches[{i}] must be a list of distances (or None), not {batch!r:.60}.")
        near = list(batch)
        bad = next(
            (d for d in near if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float)))), 0
        )
        if bad != 0:
            raise TypeError(f"batches[{i}] must hold distances (numbers) or None, not {bad!r:.40}.")
        records.append(
            {
                "time": (start + timedelta(seconds=i)).isoformat(),
                "request_id": str(i),
                "client": "c",
                "status": 200,
                "nearest_l2": near,
                "output": {"labels": [0] * len(near), "confidence": [1.0] * len(near)},
            }
        )
    threshold = validate.finite_float("threshold", threshold, low=0.0, high=1.0)
    flagged = {
        r["request_id"] for r, w in prada_statistics(records, min_distances=min_distances) if w < threshold
    }
    return [r["request_id"] in flagged for r in records]


def near_duplicate_bursts(
    records: Iterable[dict[str, Any]], *, distance: float = 1.0, minutes: float = 5.0, count: int = 8
) -> list[Alert]:
    """An alert on every request after which the client sent at least `count` queries closer than
    `distance` to an earlier one within the last `minutes`."""
    distance = validate.positive_float("distance", distance)
    span = timedelta(minutes=validate.positive_float("minutes", minutes))
    count = validate.positive_int("count", count)
    recent: dict[str, deque[datetime]] = defaultdict(deque)
    alerts = []
    for record in answered(records):
        client, now = record["client"], _time(record["time"])
        window = recent[client]
        window.extend(now for d in distances(record, skip_repeats=False) if d < distance)
        while window and now - window[0] > span:
            window.popleft()
        if len(window) >= count:
            alerts.append(Alert("near_duplicate_bursts", client, now, record["request_id"]))
    return alerts


def output_skew(
    records: Iterable[dict[str, Any]], *, window: int = 20, share: float = 0.5, confidence: float = 0.95
) -> list[Alert]:
    """An alert on every request after which one label holds at least `share` of the client's last
    `window` answered (non-repeated) images, with mean confidence at least `confidence` on them."""
    window = validate.integer("window", window, low=2)
    share = validate.finite_float("share", share, low=0.0, high=1.0, low_open=True)
    confidence = validate.probability("confidence", confidence)
    recent: dict[str, deque[tuple[int, float]]] = defaultdict(lambda: deque(maxlen=window))
    alerts = []
    for record in answered(records):
        client, output = record["client"], record["output"]
        near = record.get("nearest_l2") or [None] * len(output["labels"])
        for label, conf, d in zip(output["labels"], output.get("confidence") or [], near, strict=False):
            if d is None or d > REPEAT:
                recent[client].append((int(label), float(conf)))
        answers = recent[client]
        if len(answers) < window // 2:
            continue
        labels = [label for label, _ in answers]
        top = max(set(labels), key=labels.count)
        on_top = [c for label, c in answers if label == top]
        if len(on_top) / len(answers) >= share and sum(on_top) / len(on_top) >= confidence:
            alerts.append(Alert("output_skew", client, _time(record["time"]), record["request_id"]))
    return alerts


def sweep(
    detector: Callable[..., list[Alert]],
    records: Sequence[dict[str, Any]],
    *,
    parameter: str,
    values: Sequence[float],
    kind: str | None = None,
) -> list[tuple[float, Score]]:
    """Run `detector` once per value of one of its keyword `parameter`s and score each run."""
    validate.function("detector", detector)
    import inspect

    options = [p for p in inspect.signature(detector).parameters if p != "records"]
    validate.choice("parameter", parameter, options)
    values = validate.numbers_list("values", values)
    results = []
    for value in values:
        value = (
            int(value)
            if float(value).is_integer() and parameter in ("count", "window", "min_distances")
            else value
        )
        results.append((value, score(detector(records, **{parameter: value}), records, kind=kind)))
    return results
