"""Correct, stub and plausible-wrong answers for module 15's checks."""

from __future__ import annotations

import torch

from labkit.service.client import BudgetExceeded


def steal(client, queries, batch_size):
    sent, answers = [], []
    for start in range(0, len(queries), batch_size):
        batch = queries[start : start + batch_size]
        try:
            prediction = client.predict(batch)
        except BudgetExceeded:
            break
        sent.append(batch)
        answers.append(prediction.labels if prediction.probabilities is None else prediction.probabilities)
    return torch.cat(sent), torch.cat(answers)


def steal_keeps_unanswered(client, queries, batch_size):
    sent, answers = [], []
    for start in range(0, len(queries), batch_size):
        batch = queries[start : start + batch_size]
        sent.append(batch)
        try:
            prediction = client.predict(batch)
        except BudgetExceeded:
            break
        answers.append(prediction.labels if prediction.probabilities is None else prediction.probabilities)
    return torch.cat(sent), torch.cat(answers)


def steal_crashes_at_budget(client, queries, batch_size):
    sent, answers = [], []
    for start in range(0, len(queries), batch_size):
        batch = queries[start : start + batch_size]
        prediction = client.predict(batch)
        sent.append(batch)
        answers.append(prediction.labels if prediction.probabilities is None else prediction.probabilities)
    return torch.cat(sent), torch.cat(answers)


def steal_labels_only(client, queries, batch_size):
    sent, answers = [], []
    for start in range(0, len(queries), batch_size):
        batch = queries[start : start + batch_size]
        try:
            prediction = client.predict(batch)
        except BudgetExceeded:
            break
        sent.append(batch)
        answers.append(prediction.labels)
    return torch.cat(sent), torch.cat(answers)


def steal_keeps_last_batch(client, queries, batch_size):
    x = answers = None
    for start in range(0, len(queries), batch_size):
        batch = queries[start : start + batch_size]
        try:
            prediction = client.predict(batch)
        except BudgetExceeded:
            break
        x = batch
        answers = prediction.labels if prediction.probabilities is None else prediction.probabilities
    return x, answers


RULES = [
    {"kind": "volume", "max_images": 600},
    {"kind": "near_duplicates", "max_l2": 4.0, "min_count": 40},
    {"kind": "off_distribution", "low": 0.05, "high": 0.3, "min_count": 5},
]


def blue():
    return {"policy": "label", "budget": 1000, "rate_limit": 20, "rules": RULES, "watermark": 0.05}


def blue_wide_open():
    return {}


def blue_starves_tellers():
    return {"policy": "label", "budget": 100, "rules": RULES}


def blue_volume_rule_too_tight():
    return {"policy": "label", "rules": [{"kind": "volume", "max_images": 50}]}


def blue_duplicates_rule_too_loose():
    return {
        "policy": "label",
        "budget": 1000,
        "rules": [{"kind": "near_duplicates", "max_l2": 8.0, "min_count": 20}],
    }


def blue_limits_but_no_detection():
    return {"policy": "label", "budget": 1000, "rate_limit": 10}


def blue_heavy_watermark():
    return {"policy": "label", "budget": 1000, "rules": RULES, "watermark": 0.2}


def blue_unknown_policy():
    return {"policy": "nothing", "budget": 1000, "rules": RULES}


ANSWERS = {
    "15.steal": (
        steal,
        [
            (steal_keeps_unanswered, "never answered"),
            (steal_crashes_at_budget, "budget runs out"),
            (steal_labels_only, "threw away the probabilities"),
            (steal_keeps_last_batch, "only part"),
        ],
    ),
    "15.blue": (
        blue,
        [
            (blue_wide_open, "nothing limits"),
            (blue_starves_tellers, "honest tellers"),
            (blue_volume_rule_too_tight, "false alarm"),
            (blue_duplicates_rule_too_loose, "false alarm"),
            (blue_limits_but_no_detection, "no rule fires"),
            (blue_heavy_watermark, "wrong readings"),
            (blue_unknown_policy, "policy"),
        ],
    ),
}
