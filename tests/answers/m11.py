"""Correct, stub and plausible-wrong answers for module 11's checks."""

from __future__ import annotations

import numpy as np
import torch

from labkit.attacks.membership import log_odds
from labkit.attacks.shadow import attack_classifier


def membership_score(logits, labels):
    return -torch.nn.functional.cross_entropy(logits.double(), labels, reduction="none")


def returns_the_loss(logits, labels):
    return torch.nn.functional.cross_entropy(logits, labels, reduction="none")


def scores_by_correctness(logits, labels):
    return (logits.argmax(dim=1) == labels).float()


def ignores_the_label(logits, labels):
    return torch.softmax(logits, dim=1).max(dim=1).values


def forgets_to_return(logits, labels):
    -torch.nn.functional.cross_entropy(logits.double(), labels, reduction="none")


def tpr_at_fpr(member_scores, nonmember_scores, max_fpr):
    ranked = np.sort(np.asarray(nonmember_scores))[::-1]
    allowed = int(np.floor(max_fpr * len(ranked) + 1e-9))
    if allowed >= len(ranked):
        return 1.0
    threshold = ranked[allowed]
    return float(np.mean(np.asarray(member_scores) > threshold))


def threshold_from_members(member_scores, nonmember_scores, max_fpr):
    threshold = np.quantile(member_scores, 1 - max_fpr)
    return float(np.mean(np.asarray(member_scores) > threshold))


def overshoots_the_fpr(member_scores, nonmember_scores, max_fpr):
    ranked = np.sort(np.asarray(nonmember_scores))[::-1]
    allowed = int(np.ceil(max_fpr * len(ranked)))
    threshold = ranked[min(allowed, len(ranked) - 1)]
    return float(np.mean(np.asarray(member_scores) >= threshold))


def flags_low_scores(member_scores, nonmember_scores, max_fpr):
    ranked = np.sort(np.asarray(nonmember_scores))
    threshold = ranked[int(np.floor(max_fpr * len(ranked)))]
    return float(np.mean(np.asarray(member_scores) < threshold))


def calibrated_scores(target_logits, reference_logits, labels):
    total = torch.zeros(len(labels), dtype=torch.float64)
    for logits in reference_logits:
        total += log_odds(logits, labels)
    return log_odds(target_logits, labels) - total / len(reference_logits)


def ignores_the_references(target_logits, reference_logits, labels):
    return log_odds(target_logits, labels)


def reference_minus_target(target_logits, reference_logits, labels):
    mean = sum(log_odds(logits, labels) for logits in reference_logits) / len(reference_logits)
    return mean - log_odds(target_logits, labels)


def sums_the_references(target_logits, reference_logits, labels):
    return log_odds(target_logits, labels) - sum(log_odds(logits, labels) for logits in reference_logits)


def compares_probabilities(target_logits, reference_logits, labels):
    rows = torch.arange(len(labels))
    own = torch.softmax(target_logits.double(), dim=1)[rows, labels]
    others = [torch.softmax(r.double(), dim=1)[rows, labels] for r in reference_logits]
    return own - sum(others) / len(others)


def overwrites_in_the_loop(target_logits, reference_logits, labels):
    for logits in reference_logits:
        mean = log_odds(logits, labels)
    return log_odds(target_logits, labels) - mean


def _features(logits, labels):
    return np.c_[log_odds(logits, labels).numpy(), labels.numpy()]


def shadow_attack(shadows, splits, target_logits, labels):
    features, answers = [], []
    with torch.no_grad():
        for model, (x_in, y_in, x_out, y_out) in zip(shadows, splits, strict=True):
            features += [_features(model(x_in), y_in), _features(model(x_out), y_out)]
            answers += [np.ones(len(y_in)), np.zeros(len(y_out))]
    classifier = attack_classifier()
    classifier.fit(np.concatenate(features), np.concatenate(answers))
    return torch.from_numpy(classifier.predict_proba(_features(target_logits, labels))[:, 1])


def shadow_attack_in_probabilities(shadows, splits, target_logits, labels):
    """Also right: the probability of the true label carries what its log-odds do (same order)."""

    def features(logits, labels):
        p = torch.softmax(logits.double(), dim=1)[torch.arange(len(labels)), labels]
        return np.c_[p.numpy(), labels.numpy()]

    rows, answers = [], []
    with torch.no_grad():
        for model, (x_in, y_in, x_out, y_out) in zip(shadows, splits, strict=True):
            rows += [features(model(x_in), y_in), features(model(x_out), y_out)]
            answers += [np.ones(len(y_in)), np.zeros(len(y_out))]
    classifier = attack_classifier().fit(np.concatenate(rows), np.concatenate(answers))
    return torch.from_numpy(classifier.predict_proba(features(target_logits, labels))[:, 1])


def swaps_in_and_out(shadows, splits, target_logits, labels):
    features, answers = [], []
    with torch.no_grad():
        for model, (x_in, y_in, x_out, y_out) in zip(shadows, splits, strict=True):
            features += [_features(model(x_in), y_in), _features(model(x_out), y_out)]
            answers += [np.zeros(len(y_in)), np.ones(len(y_out))]
    classifier = attack_classifier().fit(np.concatenate(features), np.concatenate(answers))
    return torch.from_numpy(classifier.predict_proba(_features(target_logits, labels))[:, 1])


def trains_on_the_target(shadows, splits, target_logits, labels):
    # "the candidates are the members, then as many non-members": the target's ground truth, leaked
    half = len(labels) // 2
    answers = np.r_[np.ones(half), np.zeros(len(labels) - half)]
    features = _features(target_logits, labels)
    classifier = attack_classifier().fit(features, answers)
    return torch.from_numpy(classifier.predict_proba(features)[:, 1])


def reads_raw_logits(shadows, splits, target_logits, labels):
    def features(logits, labels):
        return np.c_[logits[torch.arange(len(labels)), labels].double().numpy(), labels.numpy()]

    rows, answers = [], []
    with torch.no_grad():
        for model, (x_in, y_in, x_out, y_out) in zip(shadows, splits, strict=True):
            rows += [features(model(x_in), y_in), features(model(x_out), y_out)]
            answers += [np.ones(len(y_in)), np.zeros(len(y_out))]
    classifier = attack_classifier().fit(np.concatenate(rows), np.concatenate(answers))
    return torch.from_numpy(classifier.predict_proba(features(target_logits, labels))[:, 1])


def uses_the_predicted_class(shadows, splits, target_logits, labels):
    def features(logits, labels):
        return np.c_[log_odds(logits, logits.argmax(dim=1)).numpy(), labels.numpy()]

    rows, answers = [], []
    with torch.no_grad():
        for model, (x_in, y_in, x_out, y_out) in zip(shadows, splits, strict=True):
            rows += [features(model(x_in), y_in), features(model(x_out), y_out)]
            answers += [np.ones(len(y_in)), np.zeros(len(y_out))]
    classifier = attack_classifier().fit(np.concatenate(rows), np.concatenate(answers))
    return torch.from_numpy(classifier.predict_proba(features(target_logits, labels))[:, 1])


def uses_the_whole_vector(shadows, splits, target_logits, labels):
    # Shokri's attack models read the sorted probability vector
    def features(logits, labels):
        return np.c_[torch.softmax(logits, dim=1).sort(dim=1, descending=True).values.numpy(), labels.numpy()]

    rows, answers = [], []
    with torch.no_grad():
        for model, (x_in, y_in, x_out, y_out) in zip(shadows, splits, strict=True):
            rows += [features(model(x_in), y_in), features(model(x_out), y_out)]
            answers += [np.ones(len(y_in)), np.zeros(len(y_out))]
    classifier = attack_classifier().fit(np.concatenate(rows), np.concatenate(answers))
    return torch.from_numpy(classifier.predict_proba(features(target_logits, labels))[:, 1])


def drops_the_label(shadows, splits, target_logits, labels):
    rows, answers = [], []
    with torch.no_grad():
        for model, (x_in, y_in, x_out, y_out) in zip(shadows, splits, strict=True):
            rows += [log_odds(model(x_in), y_in).numpy(), log_odds(model(x_out), y_out).numpy()]
            answers += [np.ones(len(y_in)), np.zeros(len(y_out))]
    classifier = attack_classifier().fit(np.concatenate(rows)[:, None], np.concatenate(answers))
    return torch.from_numpy(classifier.predict_proba(log_odds(target_logits, labels).numpy()[:, None])[:, 1])


def keeps_only_the_last_shadow(shadows, splits, target_logits, labels):
    with torch.no_grad():
        for model, (x_in, y_in, x_out, y_out) in zip(shadows, splits, strict=True):
            features = np.r_[_features(model(x_in), y_in), _features(model(x_out), y_out)]
            answers = np.r_[np.ones(len(y_in)), np.zeros(len(y_out))]
    classifier = attack_classifier().fit(features, answers)
    return torch.from_numpy(classifier.predict_proba(_features(target_logits, labels))[:, 1])


def returns_verdicts(shadows, splits, target_logits, labels):
    features, answers = [], []
    with torch.no_grad():
        for model, (x_in, y_in, x_out, y_out) in zip(shadows, splits, strict=True):
            features += [_features(model(x_in), y_in), _features(model(x_out), y_out)]
            answers += [np.ones(len(y_in)), np.zeros(len(y_out))]
    classifier = attack_classifier().fit(np.concatenate(features), np.concatenate(answers))
    return torch.from_numpy(classifier.predict(_features(target_logits, labels)))


def forgets_to_return_the_scores(shadows, splits, target_logits, labels):
    features, answers = [], []
    with torch.no_grad():
        for model, (x_in, y_in, x_out, y_out) in zip(shadows, splits, strict=True):
            features += [_features(model(x_in), y_in), _features(model(x_out), y_out)]
            answers += [np.ones(len(y_in)), np.zeros(len(y_out))]
    attack_classifier().fit(np.concatenate(features), np.concatenate(answers))


ANSWERS = {
    "11.shadow": (
        shadow_attack,
        [
            (swaps_in_and_out, "below chance"),
            (trains_on_the_target, "does not learn from the shadows"),
            (reads_raw_logits, "raw logits"),
            (uses_the_predicted_class, "*predicted* class"),
            (drops_the_label, "not the label"),
            (uses_the_whole_vector, "*other* classes"),
            (keeps_only_the_last_shadow, "only the last shadow"),
            (returns_verdicts, "one or two values"),
            (forgets_to_return_the_scores, "None"),
        ],
    ),
    "11.calibrated": (
        calibrated_scores,
        [
            (ignores_the_references, "uncalibrated"),
            (reference_minus_target, "reversed"),
            (sums_the_references, "added up"),
            (compares_probabilities, "saturate"),
            (overwrites_in_the_loop, "last reference"),
        ],
    ),
    "11.loss_threshold": (
        membership_score,
        [
            (returns_the_loss, "reversed"),
            (scores_by_correctness, "one or two values"),
            (ignores_the_label, "true label"),
            (forgets_to_return, "None"),
        ],
    ),
    "11.tpr_at_fpr": (
        tpr_at_fpr,
        [
            (threshold_from_members, "members' scores"),
            (overshoots_the_fpr, "more than"),
            (flags_low_scores, "low"),
        ],
    ),
}


# ---- 11.invert: white-box model inversion (labkit/checks/m11_inversion.py) ----------------------------


def invert_classes(model, classes, *, steps, lr, tv_weight, start):
    from labkit.attacks.inversion import total_variation
    from labkit.runtime import borrowed

    x = start.expand(len(classes), *start.shape).clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    with borrowed(model):
        for _ in range(steps):
            log_p = model(x).log_softmax(dim=1).gather(1, classes.view(-1, 1)).squeeze(1)
            loss = -(log_p - tv_weight * total_variation(x)).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                x.clamp_(0, 1)
    return x.detach()


def invert_with_cross_entropy(model, classes, *, steps, lr, tv_weight, start):
    """Also right: the mean cross-entropy to each class is minus the mean log-probability."""
    from labkit.attacks.inversion import total_variation

    was = model.training
    model.eval()
    images = []
    for c in classes.tolist():  # one class at a time, its own optimiser
        x = start.clone().unsqueeze(0).requires_grad_(True)
        optimiser = torch.optim.Adam([x], lr=lr)
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([c]))
            loss = loss + tv_weight * total_variation(x).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                x.clamp_(0, 1)
        images.append(x.detach())
    model.train(was)
    return torch.cat(images)


def _inversion_loop(model, classes, x, *, steps, lr, tv_weight, sign=-1.0, clamp=True, tv=True, params=()):
    from labkit.attacks.inversion import total_variation

    optimiser = torch.optim.Adam([x, *params], lr=lr)
    for _ in range(steps):
        log_p = model(x).log_softmax(dim=1).gather(1, classes.view(-1, 1)).squeeze(1)
        objective = log_p - (tv_weight * total_variation(x) if tv else 0.0)
        optimiser.zero_grad()
        (sign * objective.sum()).backward()
        optimiser.step()
        if clamp:
            with torch.no_grad():
                x.clamp_(0, 1)
    return x.detach()


def _fresh(start, classes):
    return start.expand(len(classes), *start.shape).clone().requires_grad_(True)


def descends_instead(model, classes, *, steps, lr, tv_weight, start):
    was = model.training
    model.eval()
    out = _inversion_loop(
        model, classes, _fresh(start, classes), steps=steps, lr=lr, tv_weight=tv_weight, sign=1.0
    )
    model.train(was)
    return out


def forgets_the_clamp(model, classes, *, steps, lr, tv_weight, start):
    was = model.training
    model.eval()
    out = _inversion_loop(
        model, classes, _fresh(start, classes), steps=steps, lr=lr, tv_weight=tv_weight, clamp=False
    )
    model.train(was)
    return out


def forgets_the_smoothness_term(model, classes, *, steps, lr, tv_weight, start):
    was = model.training
    model.eval()
    out = _inversion_loop(
        model, classes, _fresh(start, classes), steps=steps, lr=lr, tv_weight=tv_weight, tv=False
    )
    model.train(was)
    return out


def leaves_train_mode(model, classes, *, steps, lr, tv_weight, start):
    return _inversion_loop(model, classes, _fresh(start, classes), steps=steps, lr=lr, tv_weight=tv_weight)


def leaves_the_model_in_eval_mode(model, classes, *, steps, lr, tv_weight, start):
    model.eval()
    return _inversion_loop(model, classes, _fresh(start, classes), steps=steps, lr=lr, tv_weight=tv_weight)


def optimises_the_weights_too(model, classes, *, steps, lr, tv_weight, start):
    was = model.training
    model.eval()
    x = _fresh(start, classes)
    out = _inversion_loop(
        model, classes, x, steps=steps, lr=lr, tv_weight=tv_weight, params=model.parameters()
    )
    model.train(was)
    return out


def ignores_the_start(model, classes, *, steps, lr, tv_weight, start):
    was = model.training
    model.eval()
    x = torch.zeros(len(classes), *start.shape, requires_grad=True)
    out = _inversion_loop(model, classes, x, steps=steps, lr=lr, tv_weight=tv_weight)
    model.train(was)
    return out


def scores_without_gradients(model, classes, *, steps, lr, tv_weight, start):
    from labkit.attacks.inversion import total_variation

    was = model.training
    model.eval()
    x = _fresh(start, classes)
    optimiser = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        with torch.no_grad():
            log_p = model(x).log_softmax(dim=1).gather(1, classes.view(-1, 1)).squeeze(1)
        loss = -(log_p - tv_weight * total_variation(x)).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    model.train(was)
    return x.detach()


def returns_the_starting_images(model, classes, *, steps, lr, tv_weight, start):
    was = model.training
    model.eval()
    images = start.expand(len(classes), *start.shape).clone()
    _inversion_loop(
        model, classes, images.clone().requires_grad_(True), steps=steps, lr=lr, tv_weight=tv_weight
    )
    model.train(was)
    return images


ANSWERS["11.invert"] = (
    invert_classes,
    [
        (descends_instead, "falls"),
        (forgets_the_clamp, "[0, 1]"),
        (forgets_the_smoothness_term, "tv_weight changes nothing"),
        (leaves_train_mode, "training mode"),
        (leaves_the_model_in_eval_mode, "as it was"),
        (optimises_the_weights_too, "weights"),
        (ignores_the_start, "start"),
        (scores_without_gradients, "through the model"),
        (returns_the_starting_images, "nothing moved"),
    ],
)
