"""Correct, stub and plausible-wrong answers for module 10's checks."""

from __future__ import annotations

import torch


@torch.no_grad()
def fidelity_and_accuracy(surrogate, target, x, y):
    copy, original = surrogate(x).argmax(dim=1), target(x).argmax(dim=1)
    return (copy == original).float().mean().item(), (copy == y).float().mean().item()


@torch.no_grad()
def fidelity_against_true_labels(surrogate, target, x, y):
    copy = surrogate(x).argmax(dim=1)
    return (copy == y).float().mean().item(), (copy == y).float().mean().item()


@torch.no_grad()
def fidelity_swapped(surrogate, target, x, y):
    fidelity, accuracy = fidelity_and_accuracy(surrogate, target, x, y)
    return accuracy, fidelity


@torch.no_grad()
def fidelity_argmax_wrong_dim(surrogate, target, x, y):
    copy, original = surrogate(x).argmax(dim=0), target(x).argmax(dim=0)
    return (copy == original).float().mean().item(), (surrogate(x).argmax(dim=1) == y).float().mean().item()


def distillation_loss(student_logits, teacher_probabilities):
    return -(teacher_probabilities * torch.log_softmax(student_logits, dim=1)).sum(dim=1).mean()


def distillation_kl(student_logits, teacher_probabilities):
    return torch.nn.functional.kl_div(
        torch.log_softmax(student_logits, dim=1), teacher_probabilities, reduction="batchmean"
    )


def distillation_hard_labels(student_logits, teacher_probabilities):
    return torch.nn.functional.cross_entropy(student_logits, teacher_probabilities.argmax(dim=1))


def distillation_summed(student_logits, teacher_probabilities):
    return -(teacher_probabilities * torch.log_softmax(student_logits, dim=1)).sum()


def distillation_log_of_teacher(student_logits, teacher_probabilities):
    student = torch.softmax(student_logits, dim=1)
    return (teacher_probabilities * (teacher_probabilities.log() - student.log())).sum(dim=1).mean()


def distillation_mse(student_logits, teacher_probabilities):
    return ((torch.softmax(student_logits, dim=1) - teacher_probabilities) ** 2).sum(dim=1).mean()


ANSWERS = {
    "10.fidelity": (
        fidelity_and_accuracy,
        [
            (fidelity_against_true_labels, "true labels"),
            (fidelity_swapped, "swapped"),
            (fidelity_argmax_wrong_dim, "over the batch"),
        ],
    ),
    "10.distill_loss": (
        distillation_loss,
        [
            (distillation_hard_labels, "hard label"),
            (distillation_summed, "summed"),
            (distillation_log_of_teacher, "NaN"),
            (distillation_mse, "gradient differs"),
        ],
    ),
}


from labkit.checks.m10_model_extraction import reference_train_copy  # noqa: E402
from labkit.training import shuffled_batches  # noqa: E402


def train_copy(model, queries, answers, loss_fn, *, epochs, batch_size=32, lr=3e-3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for xb, yb in shuffled_batches(queries, answers, batch_size=batch_size, generator=generator):
            optimiser.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimiser.step()
    return model.eval()


def train_copy_without_zero_grad(model, queries, answers, loss_fn, *, epochs, batch_size=32, lr=3e-3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for xb, yb in shuffled_batches(queries, answers, batch_size=batch_size, generator=generator):
            loss_fn(model(xb), yb).backward()
            optimiser.step()
    return model.eval()


def train_copy_new_generator_each_epoch(
    model, queries, answers, loss_fn, *, epochs, batch_size=32, lr=3e-3, seed=0
):
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        generator = torch.Generator().manual_seed(seed)
        for xb, yb in shuffled_batches(queries, answers, batch_size=batch_size, generator=generator):
            optimiser.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimiser.step()
    return model.eval()


def train_copy_in_eval_mode(model, queries, answers, loss_fn, *, epochs, batch_size=32, lr=3e-3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for xb, yb in shuffled_batches(queries, answers, batch_size=batch_size, generator=generator):
            optimiser.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimiser.step()
    return model.eval()


def train_copy_drops_last_batch(model, queries, answers, loss_fn, *, epochs, batch_size=32, lr=3e-3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for xb, yb in shuffled_batches(queries, answers, batch_size=batch_size, generator=generator):
            if len(xb) < batch_size:
                continue
            optimiser.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimiser.step()
    return model.eval()


def train_copy_returns_training_mode(
    model, queries, answers, loss_fn, *, epochs, batch_size=32, lr=3e-3, seed=0
):
    reference_train_copy(
        model, queries, answers, loss_fn, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed
    )
    return model.train()


ANSWERS["10.train_copy"] = (
    train_copy,
    [
        (train_copy_without_zero_grad, "pile up"),
        (train_copy_new_generator_each_epoch, "same order"),
        (train_copy_in_eval_mode, "evaluation mode"),
        (train_copy_drops_last_batch, "smaller batch"),
        (train_copy_returns_training_mode, "still in training mode"),
    ],
)


# 10.synthesise (labkit/checks/m10_query_synthesis.py): Jacobian-based dataset augmentation


def synthesise_queries(surrogate, x, *, step):
    x = x.detach().clone().requires_grad_(True)
    scores = surrogate(x)
    predicted = scores.argmax(dim=1)
    scores[torch.arange(len(x)), predicted].sum().backward()
    return (x + step * x.grad.sign()).clamp(0, 1).detach()


def synthesise_descending(surrogate, x, *, step):
    x = x.detach().clone().requires_grad_(True)
    scores = surrogate(x)
    scores[torch.arange(len(x)), scores.argmax(dim=1)].sum().backward()
    return (x - step * x.grad.sign()).clamp(0, 1).detach()


def synthesise_without_clipping(surrogate, x, *, step):
    x = x.detach().clone().requires_grad_(True)
    scores = surrogate(x)
    scores[torch.arange(len(x)), scores.argmax(dim=1)].sum().backward()
    return (x + step * x.grad.sign()).detach()


def synthesise_on_the_loss(surrogate, x, *, step):
    x = x.detach().clone().requires_grad_(True)
    scores = surrogate(x)
    torch.nn.functional.cross_entropy(scores, scores.argmax(dim=1)).backward()
    return (x + step * x.grad.sign()).clamp(0, 1).detach()


def synthesise_on_all_scores(surrogate, x, *, step):
    x = x.detach().clone().requires_grad_(True)
    surrogate(x).sum().backward()
    return (x + step * x.grad.sign()).clamp(0, 1).detach()


def synthesise_on_the_probability(surrogate, x, *, step):
    x = x.detach().clone().requires_grad_(True)
    probabilities = torch.softmax(surrogate(x), dim=1)
    probabilities.max(dim=1).values.sum().backward()
    return (x + step * x.grad.sign()).clamp(0, 1).detach()


def synthesise_with_the_raw_gradient(surrogate, x, *, step):
    x = x.detach().clone().requires_grad_(True)
    scores = surrogate(x)
    scores[torch.arange(len(x)), scores.argmax(dim=1)].sum().backward()
    return (x + step * x.grad).clamp(0, 1).detach()


def synthesise_still_attached(surrogate, x, *, step):
    x = x.detach().clone().requires_grad_(True)
    scores = surrogate(x)
    scores[torch.arange(len(x)), scores.argmax(dim=1)].sum().backward()
    return (x + step * x.grad.sign()).clamp(0, 1)


def synthesise_with_the_originals(surrogate, x, *, step):
    return torch.cat([x, synthesise_queries(surrogate, x, step=step)])


ANSWERS["10.synthesise"] = (
    synthesise_queries,
    [
        (synthesise_descending, "against the gradient"),
        (synthesise_without_clipping, "outside [0, 1]"),
        (synthesise_on_the_loss, "cross-entropy"),
        (synthesise_on_all_scores, "all ten classes"),
        (synthesise_on_the_probability, "probability"),
        (synthesise_with_the_raw_gradient, "gradient's size"),
        (synthesise_still_attached, "detach"),
        (synthesise_with_the_originals, "originals"),
    ],
)
