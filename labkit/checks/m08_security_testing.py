"""Hidden tests for module 08 (security testing as code)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labkit.checks.framework import CheckFailed, exercise


def _gate_outcome(render: Callable[[Any], Any], requirement: Any) -> bool:
    """Render a requirement with the learner's function, run its test functions in-process as pytest
    would (plain test_* functions), and return True if they pass, False if an assertion fails."""
    import torch

    source = render(requirement)
    if not isinstance(source, str):
        raise CheckFailed(f"it should return the test file's source as a str, got {type(source).__name__}.")
    try:
        code = compile(source, f"<gate for {requirement.id}>", "exec")
    except SyntaxError as error:
        raise CheckFailed(f"the source it returns is not valid Python: {error}.") from None
    namespace: dict[str, Any] = {"__name__": "gate_under_check"}
    exec(code, namespace)  # noqa: S102 - the learner's own generated test file
    tests = [f for name, f in namespace.items() if name.startswith("test") and callable(f)]
    if not tests:
        raise CheckFailed(
            "the file defines no function whose name starts with test_: pytest would collect nothing "
            "(exit code 5) and the gate would test nothing."
        )
    torch.manual_seed(0)
    for test in tests:
        try:
            test()
        except AssertionError:
            return False
    return True


@exercise(
    "08.gate",
    title="a robustness requirement as a pytest gate",
    hint="The test must measure what the requirement says: the named zoo model, the first n test "
    "digits, accuracy *under the attack* with its steps at its epsilon, compared with min_accuracy "
    "using >=. Fill every number in from the requirement object, and name the function test_...",
)
def _check_gate(render: Any) -> str:
    from labkit.release.gates import RobustnessRequirement

    n, steps = 24, 10
    cases = [
        (
            RobustnessRequirement("H1", "digits_cnn", epsilon=0.3, min_accuracy=0.5, steps=steps, n=n),
            False,
            "passed the standard cheque reader at epsilon 0.3, where PGD breaks nearly every digit: does "
            "it measure accuracy under the attack, not clean accuracy?",
        ),
        (
            RobustnessRequirement("H2", "digits_cnn_robust", epsilon=0.3, min_accuracy=0.5, steps=steps, n=n),
            True,
            "failed the adversarially trained model on a requirement it meets: check the model name "
            "and the direction of the comparison (accuracy >= min_accuracy).",
        ),
        (
            RobustnessRequirement("H3", "digits_cnn", epsilon=0.02, min_accuracy=0.8, steps=steps, n=n),
            True,
            "failed the standard model at a tiny epsilon (0.02), which it survives: use the requirement's "
            "epsilon, not a fixed one.",
        ),
        (
            RobustnessRequirement(
                "H4", "digits_cnn_robust", epsilon=0.3, min_accuracy=0.98, steps=steps, n=n
            ),
            False,
            "passed the robust model against a 98% bar it does not reach: the number it compares is not "
            "the accuracy under attack held to min_accuracy with >= (an attack success rate, compared "
            "the other way?).",
        ),
    ]
    for requirement, should_pass, problem in cases:
        if _gate_outcome(render, requirement) is not should_pass:
            source = render(requirement)
            if requirement.attack not in source.lower():
                raise CheckFailed(
                    f"the gate for {requirement.text()!r} never runs the requirement's attack "
                    f"({requirement.attack}): it measures accuracy without an attacker."
                )
            for field in ("min_accuracy", "epsilon"):
                value = getattr(requirement, field)
                if repr(value) not in source and f"{value:.0%}" not in source:
                    raise CheckFailed(
                        f"the gate for {requirement.text()!r} never uses the requirement's {field} "
                        f"({value}): a fixed {'bar' if field == 'min_accuracy' else 'epsilon'} is written "
                        f"into the test."
                    )
            raise CheckFailed(f"the gate for {requirement.text()!r} {problem}")
    return "Your gate fails the standard model, passes the robust one, and honours every number."


def _masking_zoo() -> list[tuple[str, Any, bool]]:
    from labkit.defenses.transforms import SharpenedLogits, Transformed, bit_depth
    from labkit.zoo.registry import load_model

    standard = load_model("digits_cnn")
    return [
        ("the standard model", standard, False),
        ("the adversarially trained model", load_model("digits_cnn_robust"), False),
        ("SharpenedLogits(standard)", SharpenedLogits(standard, factor=1000.0), True),
        ("the standard model behind 3-bit squeezing", Transformed(standard, bit_depth), True),
    ]


@exercise(
    "08.masking",
    title="flag gradient masking with the evaluation checklist",
    hint="Two checklist items need no second model: what should an attack with an unlimited budget "
    "(epsilon = 1, every image reachable) leave of an honest model's accuracy, and what do the input "
    "gradients of the loss look like when they are masked? High robust accuracy alone is not a red flag.",
)
def _check_masking(red_flags: Any) -> str:
    import torch

    from labkit.data import load_digits

    x, y = load_digits("test")
    x, y = x[300:340], y[300:340]
    for name, model, masked in _masking_zoo():
        torch.manual_seed(0)
        flags = red_flags(model, x.clone(), y.clone())  # a fresh copy: learner code may mutate it
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise CheckFailed(f"it should return a list of strings (one per red flag), got {flags!r}.")
        if masked and not flags:
            raise CheckFailed(
                f"it raised no red flag for {name}, a defence that only masks gradients (its decisions "
                f"are the standard model's)."
            )
        if not masked and flags:
            raise CheckFailed(f"it flagged {name}, whose robustness is honest: {flags[0]}")
    return "Both masking defences are flagged; the standard and the adversarially trained model are not."


def reference_gate_source(req: Any) -> str:
    """The reference for 08.gate: a pytest file whose one test measures the requirement."""
    import re

    name = "test_" + re.sub(r"\W", "_", req.id.lower())
    return (
        "import torch\n\n"
        "from labkit.attacks.evasion import make_attack\n"
        "from labkit.attacks.robustness import robust_accuracy\n"
        "from labkit.data import load_digits\n"
        "from labkit.zoo.registry import load_model\n\n\n"
        f"def {name}():\n"
        "    torch.manual_seed(0)\n"
        '    x, y = load_digits("test")\n'
        f"    x, y = x[:{req.n}], y[:{req.n}]\n"
        f"    model = load_model({req.model!r})\n"
        f"    attack = make_attack({req.attack!r}, steps={req.steps})\n"
        f"    measured = robust_accuracy(model, x, y, attack, epsilon={req.epsilon!r}, progress=False)\n"
        f"    assert measured >= {req.min_accuracy!r}, f'{req.id}: {{measured:.1%}}'\n"
    )


def reference_red_flags(model: Any, x: Any, y: Any) -> list[str]:
    """The reference for 08.masking: unbounded PGD must break an honest model; gradients must live."""
    import torch

    from labkit.attacks.evasion import make_attack
    from labkit.attacks.robustness import robust_accuracy

    flags = []
    unbounded = robust_accuracy(model, x, y, make_attack("pgd", steps=20), epsilon=1.0, progress=False)
    if unbounded > 0.05:
        flags.append(f"unbounded PGD (epsilon 1.0) leaves {unbounded:.0%} accuracy")
    device = next(model.parameters()).device
    xg = x.to(device).clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(xg), y.to(device), reduction="sum")
    (grad,) = torch.autograd.grad(loss, xg)
    per_input = grad.flatten(1).abs().sum(dim=1)
    dead = float(((per_input == 0) | ~torch.isfinite(per_input)).float().mean())
    if dead > 0.5:
        flags.append(f"the input gradient is zero or not finite for {dead:.0%} of inputs")
    return flags
