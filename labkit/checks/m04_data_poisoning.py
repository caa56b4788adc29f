"""Hidden tests for module 04 (data poisoning and provenance)."""

from __future__ import annotations

import hashlib
from typing import Any

from labkit.checks.framework import CheckFailed, as_values, exercise


def _labels(n: int, seed: int) -> Any:
    import torch

    return torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(seed))


def _one_flip_case(flip: Any, labels: Any, source: int, target: int, rate: float, seed: int) -> int:
    import torch

    original = labels.clone()
    out = flip(labels, source, target, rate, seed)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise CheckFailed("it should return a pair: (new_labels, touched_indices).")
    new, touched = (torch.as_tensor(v) for v in out)
    if not torch.equal(labels, original):
        raise CheckFailed(
            "it changed the labels it was given: work on a copy (the original labels are the "
            "ground truth you will score defences against)."
        )
    if new.shape != labels.shape or new.dtype != torch.int64:
        raise CheckFailed(
            f"new_labels should be int64 with one label per record (shape {tuple(labels.shape)}), "
            f"got dtype {new.dtype} and shape {tuple(new.shape)}."
        )
    if touched.ndim != 1 or (touched.numel() and touched.dtype in (torch.float32, torch.float64, torch.bool)):
        raise CheckFailed("touched should be a 1-D tensor of integer record indices.")
    touched = touched.long()
    members = int((labels == source).sum())
    expected_count = round(rate * members)
    if len(touched) != expected_count:
        said = (
            f"with {members} records of class {source} and rate {rate}, {len(touched)} indices were "
            f"returned where {rate} * {members} = {rate * members:g} asks for {expected_count}"
        )
        if len(touched) == int(rate * members):
            raise CheckFailed(f"{said}: int() truncates {rate * members:g} down instead of rounding it.")
        if len(touched) == min(members, round(rate * len(labels))):
            raise CheckFailed(f"{said}: the rate was taken of the whole dataset, not of the source class.")
        raise CheckFailed(f"{said}.")
    if len(set(touched.tolist())) != len(touched):
        raise CheckFailed("touched contains the same index more than once.")
    if touched.numel() and not torch.equal(touched, touched.sort().values):
        raise CheckFailed("return the touched indices sorted in ascending order.")
    if touched.numel() and (int(touched.min()) < 0 or int(touched.max()) >= len(labels)):
        raise CheckFailed("some touched indices are outside the dataset.")
    if not bool((labels[touched] == source).all()):
        if touched.numel() and int(touched.max()) < members:
            raise CheckFailed(
                f"the touched indices are positions within the list of class-{source} records, not "
                f"positions in the whole dataset."
            )
        raise CheckFailed(
            f"some touched indices point at records that were not of class {source}: flip only records "
            f"of the source class, and give their positions in the whole dataset (not within the class)."
        )
    if not bool((new[touched] == target).all()):
        raise CheckFailed(f"some touched records are not labelled {target} in new_labels.")
    untouched = torch.ones(len(labels), dtype=torch.bool)
    untouched[touched] = False
    if not torch.equal(new[untouched], labels[untouched]):
        raise CheckFailed("labels changed on records that are not listed in touched.")
    return expected_count


@exercise(
    "04.flip",
    title="class-targeted label flipping that records what it touched",
    hint="The touched indices are your ground truth for scoring defences later, so they must be exact: "
    "which records (of the source class, as dataset positions), how many (a share of that class, "
    "rounded to the nearest whole record), and reproducible from the seed alone. The labels you "
    "were given must not change.",
)
def _check_flip(flip: Any) -> str:
    import torch

    labels = _labels(400, 404)
    counts = [_one_flip_case(flip, labels, 1, 7, 0.4, 0)]
    counts.append(_one_flip_case(flip, labels, 3, 8, 1.0, 1))
    counts.append(_one_flip_case(flip, labels, 5, 2, 0.0, 2))
    counts.append(_one_flip_case(flip, _labels(97, 7), 9, 4, 0.25, 3))
    first, again = flip(labels.clone(), 1, 7, 0.4, 11)[1], flip(labels.clone(), 1, 7, 0.4, 11)[1]
    if not torch.equal(torch.as_tensor(first), torch.as_tensor(again)):
        raise CheckFailed(
            "two calls with the same seed flipped different records: the choice does not come from "
            "the seed argument (is it drawn from the global random state?)."
        )
    if torch.equal(torch.as_tensor(first), torch.as_tensor(flip(labels.clone(), 1, 7, 0.4, 12)[1])):
        raise CheckFailed("seeds 11 and 12 flipped the same records: the seed argument is not used.")
    return f"flipped {counts[0]} ones to sevens and left every other record alone; ground truth recorded."


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _diff_case(diff: Any, reference: dict, current: dict, expected: tuple, case: str) -> None:
    out = diff(dict(reference), dict(current))
    if not (isinstance(out, (tuple, list)) and len(out) == 3):
        raise CheckFailed("it should return three lists: (altered, injected, removed).")
    got_lists = [[str(v) for v in lst] for lst in out]
    if (
        expected[1] != expected[2]
        and sorted(got_lists[1]) == sorted(expected[2])
        and sorted(got_lists[2]) == sorted(expected[1])
    ):
        raise CheckFailed(f"{case}: injected and removed are swapped.")
    if not any(expected) and got_lists[0]:
        raise CheckFailed(
            f"{case}: it reports {len(got_lists[0])} altered records although no record changed: it pairs "
            f"records by their position in the manifest, not by their id."
        )
    if "chq-0100" in expected[1] and "chq-0100" not in got_lists[1]:
        raise CheckFailed(
            f"{case}: a new record that is an exact copy of an existing one (a new id, a known hash) "
            f"was not reported as injected: it matches records by content, not by id."
        )
    for name, got, want in zip(("altered", "injected", "removed"), got_lists, expected, strict=True):
        if len(set(got)) != len(got):
            raise CheckFailed(f"{case}: the {name} list repeats a record id.")
        if sorted(got) != sorted(want):
            missing = len(set(want) - set(got))
            extra = len(set(got) - set(want))
            raise CheckFailed(
                f"{case}: {name} is wrong ({missing} record(s) missing, {extra} listed that should not "
                f"be). Compare records by their id, and think about what a change looks like from each "
                f"side."
            )
        if got != sorted(got):
            raise CheckFailed(f"{case}: return each list sorted.")


@exercise(
    "04.provenance_diff",
    title="diff two per-record manifests",
    hint="A manifest is keyed by record id and the order of its records means nothing; two records "
    "can share a hash. The message above says which of the three lists is off.",
)
def _check_diff(diff: Any) -> str:
    ids = [f"chq-{i:04d}" for i in range(30)]
    reference = {rid: _digest(f"record {rid}") for rid in ids}
    if diff(dict(reference), dict(reference)) is None:
        raise CheckFailed("it returned None; return (altered, injected, removed).")
    _diff_case(diff, reference, reference, ([], [], []), "an untouched dataset")
    shuffled = dict(sorted(reference.items(), key=lambda item: item[1]))  # same records, other order
    _diff_case(diff, reference, shuffled, ([], [], []), "the same records in another order")

    current = dict(reference)
    current["chq-0003"] = _digest("relabelled 3")  # altered
    current["chq-0017"] = reference["chq-0021"]  # altered to a copy of another record
    del current["chq-0008"], current["chq-0025"]  # removed
    current["chq-0100"] = reference["chq-0001"]  # injected: an exact duplicate of an existing record
    current["chq-0101"] = _digest("brand new")  # injected
    current = dict(sorted(current.items(), key=lambda item: item[1]))
    expected = (["chq-0003", "chq-0017"], ["chq-0100", "chq-0101"], ["chq-0008", "chq-0025"])
    _diff_case(diff, reference, current, expected, "a tampered, reordered dataset")
    return "altered, injected (even exact copies) and removed records found, whatever the order."


def _reference_disagreement(features: Any, labels: Any, k: int) -> Any:
    import torch

    distances = torch.cdist(features, features)
    distances.fill_diagonal_(float("inf"))
    nearest = distances.topk(k, largest=False).indices
    return (labels[nearest] != labels[:, None]).float().mean(dim=1)


@exercise(
    "04.filter",
    title="neighbour label-consistency score",
    hint="The score answers: of the k records most like this one, what share carry another label? "
    "Think about who counts as a neighbour (and who should not), and what kind of number comes out.",
)
def _check_filter(score: Any) -> str:
    import torch

    generator = torch.Generator().manual_seed(2024)
    for n, dims, k in ((60, 5, 4), (41, 3, 1), (80, 8, 9)):
        features = torch.randn(n, dims, generator=generator)
        labels = torch.randint(0, 3, (n,), generator=generator)
        out = score(features.clone(), labels.clone(), k)
        if out is None:
            raise CheckFailed("it returned None; return one score per record.")
        out = as_values(out, n, expected=f"one score per record (shape ({n},))", dtype=torch.float32)
        expected = _reference_disagreement(features, labels, k)
        if torch.allclose(out, expected, atol=1e-5):
            continue
        if torch.allclose(out, 1 - expected, atol=1e-5):
            raise CheckFailed("the scores are inverted: return the fraction of neighbours that *disagree*.")
        if float(out.min()) < 0 or float(out.max()) > 1:
            raise CheckFailed("scores should be fractions between 0 and 1.")
        if (
            k > 1
            and bool(((out == 0) | (out == 1)).all())
            and not bool(((expected == 0) | (expected == 1)).all())
        ):
            raise CheckFailed(
                f"with k={k} every score is 0 or 1: a yes/no vote per record, not the fraction of its "
                f"neighbours that disagree."
            )
        far = torch.cdist(features, features).topk(k, largest=True).indices
        if torch.allclose(out, (labels[far] != labels[:, None]).float().mean(dim=1), atol=1e-5):
            raise CheckFailed("it uses each record's k *farthest* records, not its nearest.")
        distances = torch.cdist(features, features)
        with_self = distances.topk(k, largest=False).indices
        if torch.allclose(out, (labels[with_self] != labels[:, None]).float().mean(dim=1), atol=1e-5):
            raise CheckFailed(
                "every record is counted as one of its own neighbours (its distance to itself is 0)."
            )
        wrong = int((~torch.isclose(out, expected, atol=1e-5)).sum())
        raise CheckFailed(f"with k={k}, {wrong} of {n} scores differ from the fraction expected.")
    return "scores match on hidden data: high score = the neighbours disagree with the label."


def reference_flip(labels: Any, source: int, target: int, rate: float, seed: int = 0) -> tuple[Any, Any]:
    """The reference for 04.flip (labkit's flip_labels_targeted with the exercise's signature)."""
    from labkit.attacks.poisoning import flip_labels_targeted

    return flip_labels_targeted(labels, source=source, target=target, rate=rate, seed=seed)


def reference_diff(reference: dict, current: dict) -> tuple[list[str], list[str], list[str]]:
    """The reference for 04.provenance_diff: (altered, injected, removed), each sorted."""
    from labkit.release.provenance import diff_manifests

    found = diff_manifests(reference, current)
    return list(found.altered), list(found.injected), list(found.removed)


def reference_disagreement(features: Any, labels: Any, k: int) -> Any:
    """The reference for 04.filter: per record, the share of its k nearest neighbours that disagree."""
    from labkit.defenses.poison_filters import neighbour_disagreement

    return neighbour_disagreement(features, labels, k=k)
