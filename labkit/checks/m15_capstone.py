"""Hidden tests for module 15 (capstone: red team against blue team)."""

from __future__ import annotations

from typing import Any

from labkit.checks.framework import CheckFailed, exercise


class _FakeService:
    """A stand-in for the prediction API behind a Client: answers batches, spends a budget and
    refuses a whole request that the remaining budget does not cover, as labkit.service does."""

    def __init__(self, *, budget: int | None, policy: str) -> None:
        self.budget, self.policy, self.used, self.requests = budget, policy, 0, 0

    def predict(self, x: Any, *, batch_size: int | None = None) -> Any:  # noqa: ANN401
        from labkit.service.client import BudgetExceeded, Prediction

        self.requests += 1
        n = len(x)
        if self.budget is not None and self.used + n > self.budget:
            raise BudgetExceeded(
                429, f"query budget spent: {self.budget - self.used} left.", kind="budget_exceeded"
            )
        self.used += n
        scores = x.flatten(1)[:, :10].double() + 0.01
        probabilities = (scores / scores.sum(dim=1, keepdim=True)).float()
        labels = probabilities.argmax(dim=1)
        return Prediction(
            labels=labels,
            probabilities=None if self.policy == "label" else probabilities,
            remaining=None if self.budget is None else self.budget - self.used,
            policy=self.policy,
        )


def _queries(n: int, seed: int) -> Any:  # noqa: ANN401
    import torch

    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@exercise(
    "15.steal",
    title="the red team's extraction loop",
    hint="Send the queries batch by batch, keep each batch together with what the service released "
    "for it, and stop quietly when the key's budget is spent. Keep the richest answer the policy gives.",
)
def _check_steal(steal: Any) -> str:
    import torch

    from labkit.service.client import BudgetExceeded

    for n, batch, budget, policy in (
        (100, 20, 70, "probabilities"),
        (45, 20, None, "rounded"),
        (90, 16, 50, "label"),
    ):
        queries = _queries(n, seed=n + batch)
        given = queries.clone()
        service = _FakeService(budget=budget, policy=policy)
        try:
            result = steal(service, queries, batch_size=batch)
        except BudgetExceeded:
            raise CheckFailed(
                "it stops with an error when the budget runs out, losing everything it stole."
            ) from None
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise CheckFailed(f"it should return (queries answered, answers), got {type(result).__name__}.")
        x, answers = (torch.as_tensor(r) for r in result)
        if not torch.equal(queries, given):
            raise CheckFailed("it changed the queries it was given.")
        answered = n if budget is None else budget // batch * batch
        if len(x) != len(answers):
            raise CheckFailed(
                f"it returned {len(x)} queries but {len(answers)} answers: "
                "it kept queries the service never answered."
            )
        if len(x) < answered:
            raise CheckFailed(
                f"it kept {len(x)} of the {answered} answered queries: only part of what was answered."
            )
        if len(x) > answered:
            raise CheckFailed(f"it kept {len(x)} queries but only {answered} were answered.")
        if not torch.equal(x, queries[:answered]):
            raise CheckFailed("the queries it returns are not the ones that were answered, in order.")
        reference = _FakeService(budget=None, policy=policy).predict(queries[:answered])
        if policy == "label":
            if answers.is_floating_point() or not torch.equal(answers.long(), reference.labels):
                raise CheckFailed(
                    "under the label policy the answers should be the labels the service released."
                )
        else:
            if not answers.is_floating_point():
                raise CheckFailed(
                    f"under the {policy} policy it threw away the probabilities and kept only labels: "
                    "soft answers teach a surrogate much more per query."
                )
            if not torch.allclose(answers.float(), reference.probabilities):
                raise CheckFailed("the answers are not the probabilities the service released, in order.")
    return "It keeps every answered query with its richest answer and stops cleanly at the budget."


def _honest_log(seed: int) -> list[dict[str, Any]]:
    """Two tellers' day: 8 cheques a request, distinct cheques, ink like real digits."""
    import random

    rng = random.Random(seed)
    records = []
    for i in range(44):
        client = f"teller-{1 + i % 2}"
        records.append(
            {
                "client": client,
                "request_id": f"h-{i}",
                "time": f"2026-12-01T09:{i:02d}:00",
                "status": 200,
                "n": 8,
                "nearest_l2": [round(rng.uniform(5.4, 10.5), 3) for _ in range(8)],
                "summary": {"mean": round(rng.uniform(0.10, 0.17), 4)},
            }
        )
    return records


def _extraction_log(seed: int) -> list[dict[str, Any]]:
    """An extraction campaign: 30 requests of 50 synthetic look-alike digits, many near-duplicates."""
    import random

    rng = random.Random(seed)
    return [
        {
            "client": "mallory",
            "request_id": f"x-{i}",
            "time": f"2026-12-01T10:{i:02d}:00",
            "status": 200,
            "n": 50,
            "nearest_l2": [round(rng.uniform(2.0, 5.5), 3) for _ in range(50)],
            "summary": {"mean": round(rng.uniform(0.13, 0.16), 4)},
        }
        for i in range(30)
    ]


@exercise(
    "15.blue",
    title="the blue team's deployment",
    hint="Think of the honest tellers first (how many cheques a day, how many per request), then of "
    "what an extraction campaign looks like in the audit log that a teller's traffic never does.",
)
def _check_blue(config: Any) -> str:
    from labkit.response.capstone import check_blue
    from labkit.response.rules import run_rules

    if callable(config):
        config = config()
    try:
        blue = check_blue(config)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"the configuration is not valid: {error}") from None
    if blue["budget"] is None and blue["rate_limit"] is None and not blue["rules"]:
        raise CheckFailed("nothing limits or flags a client: no budget, no rate limit and no detection rule.")
    if blue["budget"] is not None and blue["budget"] < 200:
        raise CheckFailed(
            f"a budget of {blue['budget']} images per key would refuse honest tellers on a busy day "
            "(a teller scans up to 200 cheques)."
        )
    if blue["max_batch"] < 8:
        raise CheckFailed(f"max_batch {blue['max_batch']} refuses the tellers' requests of 8 cheques.")
    if blue["watermark"] > 0.05:
        raise CheckFailed(
            f"a watermark on {blue['watermark']:.0%} of answers costs the honest tellers "
            "that share of wrong readings."
        )
    for seed in (1, 2):
        honest = run_rules(blue["rules"], _honest_log(seed))
        if honest:
            raise CheckFailed(
                f"rule {honest[0].rule!r} fires on an honest teller's ordinary day: a false alarm every day."
            )
        caught = run_rules(blue["rules"], _extraction_log(seed))
        if not caught:
            raise CheckFailed("no rule fires on a hidden extraction campaign of 1,500 look-alike digits.")
    return "Honest tellers are served without alarms, and a hidden extraction campaign is flagged."
