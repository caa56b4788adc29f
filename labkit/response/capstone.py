"""The capstone round: red against blue on the real cheque-reader service (loopback HTTP).

Blue configures the deployment as data (output policy, rate limit, budget per key, batch size,
detection rules, an optional API watermark); red brings a plan (data) and a steal loop (code). A round
serves the production reader under blue's settings, lets two honest tellers and red use it, then
scores both sides:

- red: +3 if its surrogate agrees with the served model on `FIDELITY_GOAL` of held-out cheques,
  +1 for each chosen cheque the service misread within the round's epsilon;
- blue: +3 if a rule fired on red, +2 more if it fired within red's first quarter of images,
  +3 if the watermark proves the theft (and no innocent model is accused: -3 if one is),
  -2 for each honest teller alerted, -3 if the tellers got under `TELLER_GOAL` of their cheques right.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from labkit import validate as v
from labkit.attacks.surrogate import agreement, train_surrogate
from labkit.data import load_digits
from labkit.policy import POLICIES, check_policy
from labkit.response import red as red_side
from labkit.response.rules import Alert, check_rules, run_rules
from labkit.response.watermark import TheftEvidence, WatermarkedModel, theft_evidence
from labkit.service.lifecycle import serve
from labkit.training import predict_logits
from labkit.zoo.registry import load_model

FIDELITY_GOAL = 0.8
TELLER_GOAL = 0.9
TELLERS = ("teller-1", "teller-2")
EVADE_COUNT = 8
BLUE_DEFAULTS: dict[str, Any] = {
    "policy": "probabilities",
    "decimals": 2,
    "top_k": 3,
    "rate_limit": None,
    "budget": None,
    "max_batch": 64,
    "rules": [],
    "watermark": 0.0,
}
Steal = Callable[..., tuple[torch.Tensor, torch.Tensor]]


def check_blue(config: Mapping[str, Any]) -> dict[str, Any]:
    """A validated copy of a blue configuration, defaults filled in."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict of blue settings, not {config!r:.60}.")
    unknown = sorted(set(config) - set(BLUE_DEFAULTS))
    if unknown:
        raise ValueError(
            f"config has no setting {unknown[0]!r}; the settings are {', '.join(BLUE_DEFAULTS)}."
        )
    blue = {**BLUE_DEFAULTS, **config}
    v.choice("config['policy']", blue["policy"], POLICIES)
    check_policy(blue["policy"], decimals=blue["decimals"], top_k=blue["top_k"])
    if blue["rate_limit"] is not None:
        blue["rate_limit"] = v.integer("config['rate_limit']", blue["rate_limit"], low=1)
    if blue["budget"] is not None:
        blue["budget"] = v.integer("config['budget']", blue["budget"], low=1)
    blue["max_batch"] = v.integer("config['max_batch']", blue["max_batch"], low=1, high=256)
    try:
        blue["rules"] = check_rules(blue["rules"])
    except (TypeError, ValueError) as error:
        raise type(error)(f"config['rules']: {error}") from None
    blue["watermark"] = v.finite_float("config['watermark']", blue["watermark"], low=0.0, high=0.2)
    return blue


@dataclass(frozen=True)
class RoundResult:
    """What each side achieved in one round, and the points it scored."""

    name: str
    fidelity: float
    evaded: int
    red_images: int
    alerts: list[Alert]
    detected_after: int | None  # red's answered images when the first rule fired on red
    false_alerts: list[str]
    teller_quality: float  # share of the tellers' cheques answered with the right digit
    theft: TheftEvidence | None
    innocent: TheftEvidence | None
    seconds: float
    blue: dict[str, Any] = field(repr=False)
    red: dict[str, Any] = field(repr=False)

    @property
    def red_points(self) -> int:
        return 3 * (self.fidelity >= FIDELITY_GOAL) + self.evaded

    @property
    def blue_points(self) -> int:
        points = 0
        if self.detected_after is not None:
            points += 3 + 2 * (self.detected_after <= max(1, self.red_images) / 4)
        if self.theft is not None and self.theft.proven():
            points += 3
        if self.innocent is not None and self.innocent.proven():
            points -= 3
        points -= 2 * len(self.false_alerts)
        points -= 3 * (self.teller_quality < TELLER_GOAL)
        return points


def _teller_traffic(service: Any, x: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:  # noqa: ANN401
    """Each teller sends its cheques 8 at a time; (cheques read right, cheques sent)."""
    right = 0
    for name, images, labels in zip(TELLERS, x.chunk(2), y.chunk(2), strict=True):
        client = service.client(f"{name}-key", wait_on_rate_limit=True)
        for start in range(0, len(images), 8):
            try:
                got = client.predict(images[start : start + 8]).labels
            except Exception:  # noqa: BLE001 - a refused honest request is a cost to blue, not a crash
                continue
            right += int((got == labels[start : start + 8]).sum())
    return right, len(y)


def _chosen_cheques(victim: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The first EVADE_COUNT cheques of the pool that the victim reads correctly."""
    right = predict_logits(victim, x).argmax(dim=1) == y
    return torch.nonzero(right).flatten()[:EVADE_COUNT]


def run_round(
    blue: Mapping[str, Any],
    red: Mapping[str, Any],
    *,
    steal: Steal | None = None,
    name: str = "round",
    red_key: str = "red-key",
    tellers: int = 160,
    seed: int = 0,
    log_path: str | Path | None = None,
    progress: bool = True,
) -> RoundResult:
    """Serve the production reader under `blue`'s settings, run the tellers and `red`'s plan with
    `steal` (default: the reference loop) through red's key, then score the round."""
    blue_cfg, red_cfg = check_blue(blue), red_side.check_red(red)
    steal_fn = v.function("steal", steal) if steal is not None else red_side.steal
    name = v.text("name", name)
    red_key = v.text("red_key", red_key)
    tellers = v.integer("tellers", tellers, low=2, high=360) // 2 * 2
    seed = v.integer("seed", seed)
    started = time.perf_counter()
    x_test, y_test = load_digits("test")
    x_eval, y_pool, x_pool = x_test[:500], y_test[500:600], x_test[500:600]
    x_tell, y_tell = x_test[600 : 600 + tellers], y_test[600 : 600 + tellers]
    victim = load_model("digits_cnn")  # the best device here
    served: torch.nn.Module = victim
    if blue_cfg["watermark"] > 0:
        served = WatermarkedModel(victim, key=secrets.token_bytes(32), rate=blue_cfg["watermark"]).eval()
    keys = {red_key: "red", **{f"{t}-key": t for t in TELLERS}}
    chosen = _chosen_cheques(victim, x_pool, y_pool)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(log_path) if log_path is not None else Path(tmp) / "audit.jsonl"
        with serve(
            served,
            input_shape=(1, 28, 28),
            policy=blue_cfg["policy"],
            decimals=blue_cfg["decimals"],
            top_k=blue_cfg["top_k"],
            api_keys=keys,
            rate_limit=blue_cfg["rate_limit"],
            budget=blue_cfg["budget"],
            max_batch=blue_cfg["max_batch"],
            log_path=path,
            fsync=False,
        ) as service:
            half = tellers // 2
            right_a, _ = _teller_traffic(service, x_tell[:half], y_tell[:half])
            client = service.client(red_key, wait_on_rate_limit=True)
            queries = red_side.red_queries(red_cfg, seed=seed)
            batch = min(red_cfg["batch_size"], blue_cfg["max_batch"])
            x_got, answers = steal_fn(client, queries, batch_size=batch)
            surrogate = None
            if len(x_got) >= 10:
                surrogate = train_surrogate(
                    x_got,
                    answers,
                    epochs=red_cfg["epochs"],
                    seed=seed,
                    progress=progress,
                )
                fooled = red_side.evade(
                    client,
                    surrogate,
                    x_pool[chosen],
                    y_pool[chosen],
                    epsilon=red_cfg["epsilon"],
                    tries=red_cfg["tries"],
                    seed=seed,
                )
            right_b, _ = _teller_traffic(service, x_tell[half:], y_tell[half:])
            usage = service.usage()
            records = service.audit_log()
    alerts = run_rules(blue_cfg["rules"], records)
    on_red = [a for a in alerts if a.client == "red"]
    theft = innocent = None
    if isinstance(served, WatermarkedModel) and surrogate is not None:
        theft = theft_evidence(surrogate, *served.marked)
        innocent = theft_evidence(load_model("digits_cnn_robust"), *served.marked)
    return RoundResult(
        name=name,
        fidelity=agreement(surrogate, victim, x_eval) if surrogate is not None else 0.0,
        evaded=int(fooled.sum()) if surrogate is not None else 0,
        red_images=usage.get("red", 0),
        alerts=alerts,
        detected_after=min(a.images for a in on_red) if on_red else None,
        false_alerts=sorted({a.client for a in alerts if a.client != "red"}),
        teller_quality=(right_a + right_b) / tellers,
        theft=theft,
        innocent=innocent,
        seconds=time.perf_counter() - started,
        blue=blue_cfg,
        red=red_cfg,
    )
