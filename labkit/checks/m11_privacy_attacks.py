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
    hint="The false-positive rate is a promise about non-members, and the threshold must keep it, "
    "ties and small sets included; only then count the members.",
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


@exercise(
    "11.calibrated",
    title="calibrate each record against reference models",
    hint="Each record has its own difficulty: compare how well the target fits it with how well "
    "models that never saw it fit it, record by record, on the log-odds scale the reference "
    "implementation uses.",
)
def _check_calibrated(calibrated_scores: Any) -> str:  # noqa: ANN401
    import torch

    from labkit.attacks.membership import calibrated_scores as reference
    from labkit.attacks.membership import log_odds

    generator = torch.Generator().manual_seed(1111)
    n, classes = 40, 10
    labels = torch.randint(0, classes, (n,), generator=generator)
    target = torch.randn(n, classes, generator=generator) * 3
    target[0, labels[0]] = 40.0  # a record the target fits almost perfectly: probabilities saturate
    target[1, labels[1]] = 38.0
    references = [torch.randn(n, classes, generator=generator) * 3 for _ in range(3)]
    references[1][1, labels[1]] = 30.0
    for name, refs in (("three reference models", references), ("one reference model", references[:1])):
        expected = reference(target, refs, labels)
        answer = calibrated_scores(target.clone(), [r.clone() for r in refs], labels.clone())
        if answer is None:
            raise CheckFailed("it returned None: is a `return` missing?")
        got = as_values(answer, n, expected=f"one score per record ({n} here)", returns="a tensor of scores")
        if not torch.isfinite(got).all():
            raise CheckFailed(f"[{name}] some scores are NaN or infinite.")
        if torch.allclose(got, expected, atol=1e-6):
            continue
        own = log_odds(target, labels)
        each = [log_odds(r, labels) for r in refs]
        p_t = torch.softmax(target.double(), dim=1)[torch.arange(n), labels]
        p_r = torch.stack([torch.softmax(r.double(), dim=1)[torch.arange(n), labels] for r in refs]).mean(0)
        loss_t = torch.nn.functional.cross_entropy(target.double(), labels, reduction="none")
        loss_r = torch.stack(
            [torch.nn.functional.cross_entropy(r.double(), labels, reduction="none") for r in refs]
        ).mean(0)
        diagnoses = [
            (own, "the scores ignore the reference models: that is the uncalibrated attack again."),
            (
                -expected,
                "the sign is reversed: a record the target fits *better* than the references "
                "should score *higher*.",
            ),
            (
                own - torch.stack(each).sum(dim=0),
                "the reference models' log-odds are added up, not "
                "averaged: the score then depends on how many reference models there are.",
            ),
            (
                p_t - p_r,
                "it compares probabilities, which saturate near 1: a record fitted at 0.999999 "
                "and one at 0.9 look almost alike. Work on the log-odds scale.",
            ),
            (
                loss_r - loss_t,
                "it compares losses; the exercise asks for the log-odds of the true label, "
                "which keeps the other classes' share in view and does not flatten near zero.",
            ),
        ]
        if len(refs) > 1:
            diagnoses += [
                (own - each[0], "only the first reference model is used: average over all of them."),
                (
                    own - each[-1],
                    "only the last reference model counts: the average is overwritten "
                    "inside the loop instead of accumulated.",
                ),
            ]
        for value, message in diagnoses:
            if torch.allclose(got, value.double(), atol=1e-6):
                raise CheckFailed(f"[{name}] {message}")
        if torch.allclose(got - got.mean(), expected - expected.mean(), atol=1e-6):
            raise CheckFailed(
                f"[{name}] the scores are off by a constant: subtract each record's own "
                "reference average, nothing else."
            )
        raise CheckFailed(
            f"[{name}] the scores differ from a record-by-record comparison with the reference models "
            f"(largest difference {float((got - expected).abs().max()):.3g})."
        )
    return "Each record is judged against how hard it is for models that never saw it."


def _shadow_case(seed: int, *, members_first: bool) -> dict[str, Any]:
    """Shadows and a target whose outputs are fixed tables (float64 logits, looked up by record id).

    Four classes with different typical confidence (so the label matters), members fitted better than
    non-members, a third of the non-members confidently *wrong* (high top probability, low on their
    label), and a random constant added to each record's logits (the probabilities do not change)."""
    import torch
    from torch import nn

    class Table(nn.Module):
        def __init__(self, logits: torch.Tensor) -> None:
            super().__init__()
            self.table: torch.Tensor
            self.register_buffer("table", logits)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.table[x[:, 0].long()]

    generator = torch.Generator().manual_seed(seed)
    classes, n = 4, 60
    typical = torch.tensor([-1.0, 2.0, 5.0, 8.0], dtype=torch.float64)

    def logits_for(labels: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(len(labels))
        margin = typical[labels] + 2.5 * member + torch.randn(len(labels), generator=generator).double()
        wrong = ~member & (torch.rand(len(labels), generator=generator) < 0.35)
        margin[wrong] = -6.0 + torch.randn(int(wrong.sum()), generator=generator).double()
        z = torch.randn(len(labels), classes, generator=generator).double()
        z[rows[wrong], (labels[wrong] + 1) % classes] += 9.0  # the class it is confidently wrong about
        z[rows, labels] = -torch.inf
        z[rows, labels] = margin + torch.logsumexp(z, dim=1)  # log-odds of the true label = margin
        return z + 10 * torch.randn(len(labels), 1, generator=generator).double()

    def ids(count: int) -> torch.Tensor:
        return torch.arange(count, dtype=torch.float64).unsqueeze(1)

    shadows, splits = [], []
    for _ in range(3):
        labels = torch.randint(0, classes, (2 * n,), generator=generator)
        member = torch.arange(2 * n) < n
        shadows.append(Table(logits_for(labels, member)))
        splits.append((ids(2 * n)[:n], labels[:n], ids(2 * n)[n:], labels[n:]))
    labels = torch.randint(0, classes, (2 * n,), generator=generator)
    member = torch.arange(2 * n) < n if members_first else torch.randperm(2 * n, generator=generator) < n
    target_logits = logits_for(labels, member)
    return dict(shadows=shadows, splits=splits, target_logits=target_logits, labels=labels, member=member)


def _spread_others(logits: Any, labels: Any) -> Any:  # noqa: ANN401
    """The same logits with the other classes' probability spread differently (their total unchanged)."""
    import torch

    rows = torch.arange(len(labels))
    others = logits.clone()
    others[rows, labels] = -torch.inf
    total = torch.logsumexp(others, dim=1, keepdim=True)
    noise = 3 * torch.randn(logits.shape, generator=torch.Generator().manual_seed(5), dtype=logits.dtype)
    noise[rows, labels] = -torch.inf
    spread = total + torch.log_softmax(noise, dim=1)
    spread[rows, labels] = logits[rows, labels]
    return spread


def _auc(scores: Any, member: Any) -> float:  # noqa: ANN401
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(member.numpy(), scores.numpy()))


def _shadow_variants(case: dict[str, Any]) -> list[tuple[Any, str]]:
    """Scores of known mistakes on `case`, each with the diagnosis it gets."""
    import numpy as np
    import torch

    from labkit.attacks.membership import log_odds
    from labkit.attacks.shadow import attack_classifier

    def fit(features: Any, shadows: list, splits: list, target: Any, labels: Any) -> Any:  # noqa: ANN401
        rows, answers = [], []
        with torch.no_grad():
            for model, (x_in, y_in, x_out, y_out) in zip(shadows, splits, strict=True):
                rows += [features(model(x_in), y_in), features(model(x_out), y_out)]
                answers += [np.ones(len(y_in)), np.zeros(len(y_out))]
        classifier = attack_classifier().fit(np.concatenate(rows), np.concatenate(answers))
        return torch.from_numpy(classifier.predict_proba(features(target, labels))[:, 1])

    def with_label(values: Any, labels: Any) -> Any:  # noqa: ANN401
        return np.c_[values.double().numpy(), labels.numpy().astype(float)]

    args = (case["shadows"], case["splits"], case["target_logits"], case["labels"])
    return [
        (
            fit(lambda z, y: with_label(log_odds(z, z.argmax(dim=1)), y), *args),
            "it reads the model's confidence in its *predicted* class, so a record the model is "
            "confidently wrong about looks like a member. Membership shows in how well the model "
            "fits the record's own label.",
        ),
        (
            fit(lambda z, y: log_odds(z, y).numpy()[:, None], *args),
            "the attack sees the confidence but not the label: a digit every model finds easy then "
            "looks like a member, one every model finds hard like a non-member. The classifier "
            "needs to know which class each record belongs to.",
        ),
        (
            fit(
                lambda z, y: with_label(log_odds(z, y), y),
                case["shadows"][-1:],
                case["splits"][-1:],
                *args[2:],
            ),
            "only the last shadow's records reach the attack classifier: the training set is "
            "replaced in the loop instead of collected over every shadow.",
        ),
        (
            fit(
                lambda z, y: with_label(log_odds(z, y), y), case["shadows"][:1], case["splits"][:1], *args[2:]
            ),
            "only the first shadow's records reach the attack classifier: collect them over every shadow.",
        ),
    ]


@exercise(
    "11.shadow",
    title="the shadow-model attack",
    hint="The attack classifier can only learn what membership looks like from models whose training "
    "set the attacker knows; then it judges the target, record by record, from the same view of "
    "each output that it was trained on.",
)
def _check_shadow(shadow_attack: Any) -> str:  # noqa: ANN401
    import torch

    from labkit.attacks.shadow import shadow_attack_scores as reference

    def run(case: dict[str, Any], name: str) -> Any:  # noqa: ANN401
        answer = shadow_attack(
            list(case["shadows"]),
            [tuple(t.clone() for t in split) for split in case["splits"]],
            case["target_logits"].clone(),
            case["labels"].clone(),
        )
        if answer is None:
            raise CheckFailed("it returned None: is a `return` missing?")
        n = len(case["labels"])
        got = as_values(
            answer, n, expected=f"one score per target record ({n} here)", returns="a tensor of scores"
        )
        if not torch.isfinite(got).all():
            raise CheckFailed(f"[{name}] some scores are NaN or infinite.")
        return got

    for name, case in (
        ("members listed first", _shadow_case(11, members_first=True)),
        ("members in random places", _shadow_case(12, members_first=False)),
    ):
        got = run(case, name)
        expected = reference(case["shadows"], case["splits"], case["target_logits"], case["labels"])
        if torch.allclose(got, expected, atol=1e-6):
            continue
        if len(torch.unique(got)) <= 2:
            raise CheckFailed(
                f"[{name}] the scores take only one or two values: a yes/no verdict per record "
                "cannot be thresholded at a chosen false-positive rate. Return how likely each "
                "record is a member."
            )
        flipped = dict(
            case, splits=[(x_out, y_out, x_in, y_in) for x_in, y_in, x_out, y_out in case["splits"]]
        )
        if torch.allclose(run(flipped, name), got, atol=1e-6):
            raise CheckFailed(
                f"[{name}] the scores stay the same when every shadow's training and held-out records "
                "trade places: the attack does not learn from the shadows. The target's membership "
                "is what the attack must find; the attacker never knows it, and the order of the "
                "records says nothing."
            )
        shift = 7 * torch.randn(len(case["labels"]), 1, generator=torch.Generator().manual_seed(3)).double()
        shifted = dict(case, target_logits=case["target_logits"] + shift)
        if (run(shifted, name) - got).abs().max() > 1e-3:
            raise CheckFailed(
                f"[{name}] adding the same constant to all of a record's logits changes its score, "
                "though the model's probabilities stay exactly the same: the attack reads raw "
                "logits, not what the model says about the record's label."
            )
        auc, best = _auc(got, case["member"]), _auc(expected, case["member"])
        if auc < 0.5:
            raise CheckFailed(
                f"[{name}] the target's non-members score higher than its members (AUC {auc:.2f}, "
                "below chance): check which of each shadow's records the classifier learns to call "
                "'member'."
            )
        for value, message in _shadow_variants(case):
            if torch.allclose(got, value, atol=1e-6):
                raise CheckFailed(f"[{name}] {message}")
        spread = dict(case, target_logits=_spread_others(case["target_logits"], case["labels"]))
        if (run(spread, name) - got).abs().max() > 1e-3:
            raise CheckFailed(
                f"[{name}] moving probability between the *other* classes, with the probability of the "
                "record's own label unchanged, changes its score: the attack reads more of the output "
                "vector than the exercise describes (Shokri's attack models do; this one does not)."
            )
        if abs(auc - best) > 0.01:
            raise CheckFailed(
                f"[{name}] your attack reaches AUC {auc:.3f} where the attack described in the "
                f"exercise reaches {best:.3f}: compare what the classifier sees per record with "
                "the exercise's description."
            )
    return "The attack learns membership from the shadows and ranks the target's members first."
