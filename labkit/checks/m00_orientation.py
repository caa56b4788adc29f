"""Hidden tests for module 00 (orientation)."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from labkit.checks.framework import CheckFailed, exercise


@exercise(
    "00.integrity",
    title="verify an artifact before you trust it",
    hint="A digest vouches for content: what exactly goes into the hash, and all of it? The answer "
    "is a yes/no.",
)
def _check_integrity(is_untampered: Any) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        payload = bytes(range(256)) * 9000  # ~2.3 MB: more than one read chunk
        path.write_bytes(payload)
        good = hashlib.sha256(payload).hexdigest()
        result = is_untampered(path, good)
        if not isinstance(result, bool):
            raise CheckFailed(f"it should return True or False, but returned {result!r}.")
        if result is not True:
            if is_untampered(path, hashlib.sha256(str(path).encode()).hexdigest()) is True:
                raise CheckFailed(
                    "it hashes the file's name (its path), not its bytes: anyone can swap the content "
                    "behind an unchanged name."
                )
            for size in (1 << 10, 1 << 12, 1 << 13, 1 << 16, 1 << 20):
                if is_untampered(path, hashlib.sha256(payload[:size]).hexdigest()) is True:
                    raise CheckFailed(
                        f"on a {len(payload) // 1000} kB file it hashes only the first {size} bytes: "
                        "a change past them goes unseen."
                    )
            raise CheckFailed("it returned False for an intact file and its correct hash.")
        if is_untampered(str(path), good) is not True:
            raise CheckFailed("it should accept the path as a string too (use Path or open()).")
        tampered = bytearray(payload)
        tampered[-1] ^= 0x01  # flip one bit at the very end of the file
        path.write_bytes(bytes(tampered))
        if is_untampered(path, good) is not False:
            raise CheckFailed(
                "it returned True for a file whose last byte was altered: it must hash every "
                "byte of the file."
            )
        path.write_bytes(payload)
        if is_untampered(path, "0" * 64) is not False:
            raise CheckFailed("it returned True for an intact file but a different expected hash.")
    return "A one-bit change anywhere in the file is caught."


@exercise(
    "00.review_queue",
    title="route low-confidence cheques to a person",
    hint="The threshold is a probability: a confidence the model gives each cheque, among that "
    "cheque's ten classes. A cheque goes to a person only when the model is less sure than that.",
)
def _check_review_queue(triage: Any) -> str:
    import torch

    generator = torch.Generator().manual_seed(1234)
    logits = torch.randn(64, 10, generator=generator) * 3
    logits[0] = torch.tensor([4.0, 3.9, 3.8, 0, 0, 0, 0, 0, 0, 0])  # big logit, low probability
    logits[1] = torch.tensor([20.0] + [0.0] * 9)  # certain
    threshold = 0.8
    out = triage(logits, threshold)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise CheckFailed("it should return a pair: (digits, needs_review).")
    digits, review = (torch.as_tensor(v) for v in out)
    probs = torch.softmax(logits, dim=1)
    if digits.shape != (64,) or review.shape != (64,):
        raise CheckFailed(
            f"expected one digit and one flag per row (shape (64,)), got {tuple(digits.shape)} "
            f"and {tuple(review.shape)}."
        )
    if not torch.equal(digits.long(), probs.argmax(dim=1)):
        if torch.equal(digits.long(), torch.softmax(logits, dim=0).argmax(dim=1)):
            raise CheckFailed(
                "the probabilities are normalised over the batch (each class's column sums to 1), not "
                "over each cheque's ten classes: the digits then depend on the other cheques."
            )
        raise CheckFailed("some digits differ from the class the model scores highest.")
    if review.dtype != torch.bool:
        raise CheckFailed(f"needs_review should be a bool tensor, got dtype {review.dtype}.")
    expected = probs.max(dim=1).values < threshold
    if not torch.equal(review, expected):
        if torch.equal(review, ~expected):
            raise CheckFailed("the review flags are inverted: flag the *uncertain* cheques.")
        if bool(review[0]) is False:
            raise CheckFailed(
                "a row with logits (4.0, 3.9, 3.8, ...) was not flagged: compare the "
                "probability, not the raw logit, with the threshold."
            )
        if torch.equal(review, probs.max(dim=1).values <= threshold):
            raise CheckFailed(
                "a cheque exactly at the threshold was flagged: only *less* sure goes to a person."
            )
        raise CheckFailed(f"{int((review != expected).sum())} of 64 review flags are wrong.")
    at = float(probs[5].max())  # a threshold equal to one cheque's confidence: it is not flagged
    _, flags = (torch.as_tensor(v) for v in triage(logits, at))
    if torch.equal(flags, probs.max(dim=1).values <= at) and bool(flags[5]):
        raise CheckFailed(
            "a cheque whose confidence equals the threshold exactly was flagged: only cheques the "
            "model is *less* sure about than the threshold go to a person."
        )
    return f"{int(expected.sum())} of 64 readings would go to a person at threshold {threshold}."


def reference_is_untampered(path: str | Path, expected_sha256: str) -> bool:
    """The reference for 00.integrity (a notebook's fallback while the exercise is a stub)."""
    from labkit.integrity import sha256_file

    return sha256_file(path) == expected_sha256.lower()


def reference_triage(logits: Any, threshold: float) -> tuple[Any, Any]:
    """The reference for 00.review_queue: (digit per row, True where top probability < threshold)."""
    import torch

    confidence, digits = torch.softmax(logits, dim=1).max(dim=1)
    return digits, confidence < threshold
