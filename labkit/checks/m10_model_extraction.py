"""Hidden tests for module 10 (model extraction against the served API)."""

from __future__ import annotations

from typing import Any

from labkit.checks.framework import CheckFailed, as_number, exercise


def _hidden_models() -> tuple[Any, Any, Any, Any]:
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(1010)
    x = torch.randn(300, 12, generator=generator)
    target = nn.Linear(12, 10)
    surrogate = nn.Linear(12, 10)
    with torch.no_grad():
        target.weight.copy_(torch.randn(10, 12, generator=generator))
        target.bias.zero_()
        surrogate.weight.copy_(target.weight + 0.5 * torch.randn(10, 12, generator=generator))
        surrogate.bias.zero_()
        y = target(x).argmax(dim=1)
    noisy = torch.rand(300, generator=generator) < 0.45  # the target itself is often wrong
    y[noisy] = (y[noisy] + torch.randint(1, 10, (int(noisy.sum()),), generator=generator)) % 10
    return surrogate.eval(), target.eval(), x, y


@exercise(
    "10.fidelity",
    title="fidelity versus accuracy of a stolen model",
    hint="Fidelity asks 'does the copy say what the target says?', accuracy asks 'does the copy say "
    "what is true?'. Both compare one label per image.",
)
def _check_fidelity(fidelity_and_accuracy: Any) -> str:  # noqa: ANN401
    import torch

    surrogate, target, x, y = _hidden_models()
    with torch.no_grad():
        s_labels, t_labels = surrogate(x).argmax(dim=1), target(x).argmax(dim=1)
    fidelity = float((s_labels == t_labels).float().mean())
    accuracy = float((s_labels == y).float().mean())
    target_accuracy = float((t_labels == y).float().mean())
    out = fidelity_and_accuracy(surrogate, target, x, y)
    if not (isinstance(out, tuple | list) and len(out) == 2):
        raise CheckFailed("it should return a pair: (fidelity, accuracy).")
    got_f, got_a = as_number(out[0], "fidelity"), as_number(out[1], "accuracy")
    if not (0.0 <= got_f <= 1.0 and 0.0 <= got_a <= 1.0):
        raise CheckFailed(f"both numbers are fractions in [0, 1]; got {got_f:.3f} and {got_a:.3f}.")
    close = lambda a, b: abs(a - b) < 1e-4  # noqa: E731
    if close(got_f, fidelity) and close(got_a, accuracy):
        return (
            f"on hidden data the copy agrees with the target {fidelity:.0%} of the time but is right "
            f"only {accuracy:.0%} of the time (the target itself: {target_accuracy:.0%})."
        )
    if close(got_f, accuracy) and close(got_a, fidelity):
        raise CheckFailed("the two numbers are swapped: return (fidelity, accuracy).")
    if close(got_f, accuracy) or close(got_f, target_accuracy):
        raise CheckFailed(
            "your fidelity compares with the true labels. Fidelity measures agreement with "
            "the target's own predictions, mistakes included."
        )
    if close(got_f, fidelity):
        raise CheckFailed("fidelity is right but accuracy is not: compare the copy's labels with y.")
    with torch.no_grad():
        across_batch = float((surrogate(x).argmax(dim=0) == target(x).argmax(dim=0)).float().mean())
    if close(got_f, across_batch):
        raise CheckFailed(
            "the fidelity compares an arg-max taken over the batch (one 'label' per class, dim=0), "
            "not one predicted label per image."
        )
    raise CheckFailed(f"the fidelity {got_f:.3f} is not the agreement rate of the two models' labels.")


def _reference_loss(logits: Any, teacher: Any) -> tuple[float, float, Any]:  # noqa: ANN401
    import torch

    logits = logits.detach().clone().requires_grad_(True)
    loss = -(teacher * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss.backward()
    entropy = -(torch.special.xlogy(teacher, teacher)).sum(dim=1).mean()
    return loss.item(), loss.item() - entropy.item(), logits.grad


def _student_loss(distillation_loss: Any, logits: Any, teacher: Any) -> tuple[float, Any]:  # noqa: ANN401
    import torch

    student = logits.detach().clone().requires_grad_(True)
    value = distillation_loss(student, teacher.clone())
    if not isinstance(value, torch.Tensor):
        raise CheckFailed(
            f"return a torch tensor (so training can call .backward()), got {type(value).__name__}."
        )
    if value.numel() != 1:
        raise CheckFailed(
            f"return one number for the whole batch, got a tensor of shape {tuple(value.shape)}."
        )
    if not torch.isfinite(value):
        raise CheckFailed(
            "the loss is NaN or infinite when the released probabilities contain exact zeros "
            "(as the top-k and rounded policies release). Take the log of the student's "
            "probabilities, computed stably from its logits, not of the teacher's."
        )
    if not value.requires_grad:
        raise CheckFailed(
            "the loss does not depend on the student's logits in a differentiable way "
            "(no gradient flows back): keep everything in torch, no .argmax or .item()."
        )
    value.reshape(()).backward()
    return value.item(), student.grad


@exercise(
    "10.distill_loss",
    title="a soft-label loss for distillation",
    hint="The teacher answers with a distribution, not a label: the loss should reward the student "
    "for putting probability where the teacher does, one number for the batch, and stay finite for "
    "very confident logits.",
)
def _check_distill_loss(distillation_loss: Any) -> str:  # noqa: ANN401
    import torch

    generator = torch.Generator().manual_seed(1011)
    logits = torch.randn(32, 10, generator=generator) * 2
    teacher = torch.softmax(torch.randn(32, 10, generator=generator) * 2, dim=1)
    top = teacher.topk(3, dim=1)
    sparse = torch.zeros_like(teacher).scatter_(1, top.indices, top.values)  # a top-k release
    for name, targets in (("full probabilities", teacher), ("top-3 probabilities", sparse)):
        ce, kl, grad = _reference_loss(logits, targets)
        value, student_grad = _student_loss(distillation_loss, logits, targets)
        if student_grad is None or not torch.allclose(student_grad, grad, atol=1e-5, rtol=1e-4):
            hard = torch.nn.functional.cross_entropy(logits, targets.argmax(dim=1))
            if abs(value - float(hard)) < 1e-4:
                raise CheckFailed(
                    "your loss only uses the teacher's top class (a hard label). The "
                    "released probabilities carry more: use all of them."
                )
            if abs(value - ce * len(logits)) < 1e-3 or abs(value - kl * len(logits)) < 1e-3:
                raise CheckFailed(
                    "the loss is summed over the batch: average it over the rows so the "
                    "learning rate does not depend on the batch size."
                )
            raise CheckFailed(
                f"with {name} as targets, its gradient differs from the soft-label "
                "cross-entropy's: compare the teacher's probabilities with the student's "
                "log-probabilities, class by class."
            )
        if abs(value - ce) > 1e-4 and abs(value - kl) > 1e-4:
            raise CheckFailed(
                f"with {name} as targets it returned {value:.4f}; the soft-label "
                "cross-entropy (or the KL divergence) has a different value."
            )
    return "gradients match soft-label cross-entropy, also on a top-k release full of zeros."


def reference_fidelity(surrogate: Any, target: Any, x: Any, y: Any) -> tuple[float, float]:  # noqa: ANN401
    """The reference for 10.fidelity: (agreement of the two models' labels, the copy's accuracy)."""
    import torch

    with torch.no_grad():
        copy, original = surrogate(x).argmax(dim=1), target(x).argmax(dim=1)
    return float((copy == original).float().mean()), float((copy == y).float().mean())


def reference_train_copy(
    model: Any,  # noqa: ANN401
    queries: Any,  # noqa: ANN401
    answers: Any,  # noqa: ANN401
    loss_fn: Any,  # noqa: ANN401
    *,
    epochs: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
) -> Any:  # noqa: ANN401
    """labkit's version of exercise 10.train_copy: train_model's loop on the CPU (the fallback)."""
    import torch

    from labkit.training import loss_objective, train_model

    train_model(
        model,
        queries,
        answers,
        objective=loss_objective(loss_fn),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=torch.device("cpu"),
        progress=False,
    )
    return model.eval()


def _variant(kind: str) -> Any:  # noqa: ANN401
    """A training loop with one known mistake, to recognise it in a learner's result."""
    import torch

    from labkit.training import shuffled_batches

    def train(
        model: Any,
        queries: Any,
        answers: Any,
        loss_fn: Any,
        *,
        epochs: int,
        batch_size: int,
        lr: float,
        seed: int,
    ) -> Any:  # noqa: ANN401, E501
        generator = torch.Generator().manual_seed(seed)
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        if kind != "no train mode":
            model.train()
        for _ in range(1 if kind == "one epoch" else epochs):
            if kind == "same order":
                generator = torch.Generator().manual_seed(seed)
            for xb, yb in shuffled_batches(queries, answers, batch_size=batch_size, generator=generator):
                if kind == "drops last" and len(xb) < batch_size:
                    continue
                if kind != "no zero_grad":
                    optimiser.zero_grad()
                loss_fn(model(xb), yb).backward()
                optimiser.step()
        return model.eval()

    return train


@exercise(
    "10.train_copy",
    title="the extraction training loop",
    hint="Compare your loop with the description above it, one line at a time: what happens to the "
    "gradients between batches, to the order of the batches between epochs, to a last batch that is "
    "smaller, and to the model's mode before and after.",
)
def _check_train_copy(train_copy: Any) -> str:  # noqa: ANN401
    import torch
    from torch import nn

    from labkit.attacks.surrogate import soft_cross_entropy

    generator = torch.Generator().manual_seed(2020)
    queries = torch.rand(10, 1, 2, 2, generator=generator)
    answers = torch.softmax(3 * torch.randn(10, 3, generator=generator), dim=1)
    settings = dict(epochs=3, batch_size=4, lr=0.05, seed=7)  # 10 rows: the last batch holds 2

    def fresh() -> Any:  # noqa: ANN401
        torch.manual_seed(11)
        return nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 3)).eval()

    def weights(model: Any) -> torch.Tensor:  # noqa: ANN401
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    def run(fn: Any) -> tuple[Any, torch.Tensor]:  # noqa: ANN401
        model = fresh()
        torch.manual_seed(3)  # dropout draws from the global generator
        result = fn(model, queries.clone(), answers.clone(), soft_cross_entropy, **settings)
        return result, weights(model)

    result, got = run(train_copy)
    if result is None:
        raise CheckFailed("it returned None: is a `return` missing?")
    if not isinstance(result, nn.Module):
        raise CheckFailed(f"it should return the trained model, got {type(result).__name__}.")
    _, expected = run(reference_train_copy)
    if torch.equal(got, weights(fresh())):
        raise CheckFailed("the weights did not change: is the optimiser stepping on the model's parameters?")
    if not torch.allclose(got, expected, atol=1e-5):
        diagnoses = {
            "no zero_grad": "gradients pile up from batch to batch: each step uses the sum of all earlier "
            "batches' gradients.",
            "one epoch": "it trains for one epoch only; `epochs` is ignored.",
            "same order": "every epoch sees the batches in the same order: the generator is created "
            "again each epoch instead of once.",
            "drops last": "the last, smaller batch of each epoch is skipped.",
            "no train mode": "the model is trained in evaluation mode (dropout off): put it in training "
            "mode first.",
        }
        for kind, message in diagnoses.items():
            if torch.allclose(got, run(_variant(kind))[1], atol=1e-5):
                raise CheckFailed(message)
        raise CheckFailed(
            "the trained weights differ from the described loop's (same seed, same batches): check the "
            "optimiser, its learning rate and the loss you call."
        )
    if result.training:
        raise CheckFailed("the returned model is still in training mode: a copy is used in eval mode.")
    return "Your loop trains exactly like labkit's: same batches, same steps, same weights."
