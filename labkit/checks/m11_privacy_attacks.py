"""Hidden tests for module 11 (membership inference and model inversion)."""

from __future__ import annotations

from typing import Any

from labkit.checks.framework import CheckFailed, as_number, as_values, exercise


@exercise(
    "11.loss_threshold",
    title="score each record by its loss",
    hint="Members are the records the model fits best, so the score must grow as the record's "
    "cross-entropy loss on its *true* label shrinks. Use the probabilities the model gives, not "
    "whether its guess was right.",
)
def _check_loss_threshold(membership_score: Any) -> str:  # noqa: ANN401
    import torch

    generator = torch.Generator().manual_seed(1111)
    logits = torch.randn(64, 2, generator=generator) * 4
    labels = torch.randint(0, 2, (64,), generator=generator)
    logits[0] = torch.tensor([3.0, -3.0])  # confidently wrong if its label is 1
    labels[0] = 1
    logits[1] = torch.tensor([0.2, 0.0])  # barely right
    labels[1] = 0
    scores = membership_score(logits.clone(), labels.clone())
    if scores is None:
        raise CheckFailed("it returned None: is a `return` missing?")
    scores = as_values(
        scores, 64, expected="one score per record (64 here)", returns="a tensor with one score per record"
    )
    if not torch.isfinite(scores).all():
        raise CheckFailed("some scores are NaN or infinite.")
    loss = torch.nn.functional.cross_entropy(logits.double(), labels, reduction="none")
    truth = -loss
    i, j = torch.triu_indices(64, 64, offset=1)
    distinct = (truth[i] - truth[j]).abs() > 1e-6
    agree = torch.sign(scores[i] - scores[j]) == torch.sign(truth[i] - truth[j])
    wrong_pairs = int((~agree & distinct).sum())
    if wrong_pairs:
        if bool((torch.sign(scores[i] - scores[j]) == -torch.sign(truth[i] - truth[j]))[distinct].all()):
            raise CheckFailed("the order is reversed: a *low* loss should give a *high* membership score.")
        if len(torch.unique(scores)) <= 2:
            raise CheckFailed(
                "the scores take only one or two values: right/wrong throws away how confident the "
                "model was, which is the signal."
            )
        top = torch.softmax(logits.double(), dim=1).max(dim=1).values
        if bool((torch.sign(scores[i] - scores[j]) == torch.sign(top[i] - top[j]))[distinct].all()):
            raise CheckFailed(
                "the scores follow the model's top probability whatever the record's label: a record "
                "the model is confidently *wrong* about scores as a member. Use its true label."
            )
        raise CheckFailed(
            f"{wrong_pairs} pairs of records are ranked differently from their losses: score each "
            f"record by how well the model fits its true label."
        )
    return "Records the model fits best score highest."


def _diagnose_tpr(name: str, got: float, members: Any, nonmembers: Any, max_fpr: float) -> None:
    """Raise CheckFailed naming the mistake if `got` is what a known mistake computes."""
    import numpy as np

    ranked = np.sort(nonmembers)[::-1]
    flagged_nonmembers = [float(np.mean(nonmembers > t)) for t in ranked]
    if any(abs(got - float(np.mean(members >= t))) < 1e-9 for t in ranked) and not any(
        abs(got - float(np.mean(members > t))) < 1e-9
        for t, fpr in zip(ranked, flagged_nonmembers, strict=True)
        if fpr <= max_fpr
    ):
        raise CheckFailed(
            f"[{name}] its threshold flags more than {max_fpr:.0%} of the non-members (a score equal to "
            "the threshold counts as flagged, or one false alarm too many is allowed)."
        )
    if abs(got - float(np.mean(members > np.quantile(members, 1 - max_fpr)))) < 1e-9:
        raise CheckFailed(
            f"[{name}] the threshold comes from the members' scores; the attacker must pick "
            "it from the non-members' (the false-positive rate is about non-members)."
        )
    if any(abs(got - float(np.mean(members < t))) < 1e-9 for t in np.sort(nonmembers)):
        raise CheckFailed(f"[{name}] it flags *low* scores; a higher score means 'more likely a member'.")


@exercise(
    "11.tpr_at_fpr",
    title="true-positive rate at a fixed false-positive rate",
    hint="Pick the threshold from the non-members' scores: flagging a record means score above the "
    "threshold, and no more than max_fpr of the non-members may be flagged. Then report the share "
    "of members above that threshold.",
)
def _check_tpr_at_fpr(tpr_at_fpr: Any) -> str:  # noqa: ANN401
    import numpy as np

    from labkit.attacks.membership import tpr_at_fpr as reference

    rng = np.random.default_rng(2024)
    cases = [
        ("200 non-members, 1% FPR", rng.normal(1.0, 1.0, 150), rng.normal(0.0, 1.0, 200), 0.01),
        (
            "50 non-members, 1% FPR (one false positive is already 2%)",
            rng.normal(1.5, 1.0, 80),
            rng.normal(0.0, 1.0, 50),
            0.01,
        ),
        (
            "tied scores",
            np.r_[np.full(10, 3.0), np.full(20, 1.0), rng.normal(0, 1, 20)],
            np.r_[np.full(1, 3.0), rng.normal(-1.0, 0.5, 99)],
            0.01,
        ),
        ("60 non-members, 5% FPR", rng.normal(0.5, 1.0, 60), rng.normal(0.0, 1.0, 60), 0.05),
        ("members all below non-members", rng.uniform(0, 1, 30), rng.uniform(2, 3, 40), 0.1),
    ]
    for name, members, nonmembers, max_fpr in cases:
        expected = reference(members, nonmembers, max_fpr=max_fpr)
        answer = tpr_at_fpr(members.copy(), nonmembers.copy(), max_fpr)
        if answer is None:
            raise CheckFailed("it returned None: is a `return` missing?")
        got = as_number(answer, "the result")
        if not 0 <= got <= 1:
            raise CheckFailed(f"[{name}] a rate lies between 0 and 1, got {got:.3f}.")
        if abs(got - expected) > 1e-9:
            _diagnose_tpr(name, got, members, nonmembers, max_fpr)
            raise CheckFailed(
                f"[{name}] got {got:.3f}, which is not the best true-positive rate at a false-positive "
                f"rate of at most {max_fpr:.0%}."
            )
    return "Correct on every hidden case, including ties and small non-member sets."
