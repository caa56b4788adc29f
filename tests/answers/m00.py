"""Correct, stub and plausible-wrong answers for module 00's checks.

Each wrong answer comes with a word its failure message must contain: the message names the mistake.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch


def is_untampered(path, expected):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() == expected


def hashes_the_name(path, expected):
    return hashlib.sha256(str(path).encode()).hexdigest() == expected


def reads_first_chunk_only(path, expected):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read(1 << 20)).hexdigest() == expected


def always_true(path, expected):
    return True


def triage(logits, threshold):
    confidence, digits = torch.softmax(logits, dim=1).max(dim=1)
    return digits, confidence < threshold


def triage_on_raw_logits(logits, threshold):
    top, digits = logits.max(dim=1)
    return digits, top < threshold


def triage_inverted(logits, threshold):
    confidence, digits = torch.softmax(logits, dim=1).max(dim=1)
    return digits, confidence >= threshold


def triage_softmax_over_batch(logits, threshold):
    confidence, digits = torch.softmax(logits, dim=0).max(dim=1)
    return digits, confidence < threshold


def triage_at_or_below(logits, threshold):
    confidence, digits = torch.softmax(logits, dim=1).max(dim=1)
    return digits, confidence <= threshold


ANSWERS = {
    "00.integrity": (
        is_untampered,
        [(hashes_the_name, "name"), (reads_first_chunk_only, "first"), (always_true, "altered")],
    ),
    "00.review_queue": (
        triage,
        [
            (triage_on_raw_logits, "raw logit"),
            (triage_inverted, "inverted"),
            (triage_softmax_over_batch, "over the batch"),
            (triage_at_or_below, "exactly"),
        ],
    ),
}
