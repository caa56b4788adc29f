"""A multiple-choice quiz on the attack catalogue (module 01): questions generated from the catalogue's
data, graded headless (`grade`), with an ipywidgets front end (`quiz`) for a live JupyterLab session."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from labkit import validate as v
from labkit.threats.catalogue import CATALOGUE, PROPERTIES, STAGES

ASPECTS = ("property", "stage", "module", "access")


@dataclass(frozen=True)
class QuizQuestion:
    """One question: a prompt, the options, the index of the right one and why it is right."""

    prompt: str
    options: tuple[str, ...]
    answer: int
    explanation: str


def _question(attack: Any, aspect: str, rng: random.Random) -> QuizQuestion:
    others = [a for a in CATALOGUE if a.key != attack.key]
    if aspect == "property":
        options, right = list(PROPERTIES), attack.violates
        prompt = f"Which security property does {attack.name.lower()} violate first?"
        why = f"{attack.name}: {attack.scenario}"
    elif aspect == "stage":
        options, right = list(STAGES), attack.stage
        prompt = f"At which SDL stage must a team address {attack.name.lower()}?"
        why = f"Defences: {'; '.join(attack.defences)}."
    elif aspect == "module":
        right = attack.modules[0]
        wrong = sorted({m for a in others for m in a.modules} - set(attack.modules))
        options = sorted([right, *rng.sample(wrong, 3)])
        prompt = f"Which course module practises {attack.name.lower()}?"
        why = f"{attack.name} is practised in module(s) {', '.join(attack.modules)}."
    else:
        right = attack.access
        options = [right, *(a.access for a in rng.sample(others, 3))]
        rng.shuffle(options)
        prompt = f"What does an attacker need for {attack.name.lower()}?"
        why = f"{attack.name}: {attack.scenario}"
    return QuizQuestion(prompt, tuple(options), options.index(right), why)


def catalogue_quiz(*, n: int = 6, seed: int = 0) -> list[QuizQuestion]:
    """n questions on the catalogue (property, stage, module, access), drawn with a seeded generator."""
    v.positive_int("n", n, high=len(CATALOGUE) * len(ASPECTS))
    v.integer("seed", seed)
    rng = random.Random(seed)
    pairs = [(attack, aspect) for attack in CATALOGUE for aspect in ASPECTS]
    return [_question(attack, aspect, rng) for attack, aspect in rng.sample(pairs, n)]


def grade(question: QuizQuestion, choice: int) -> tuple[bool, str]:
    """(right?, feedback) for the option index a learner chose."""
    if not isinstance(question, QuizQuestion):
        raise TypeError(f"question must be a QuizQuestion, not {type(question).__name__}.")
    v.integer("choice", choice, low=0, high=len(question.options) - 1)
    if choice == question.answer:
        return True, f"✔ Right. {question.explanation}"
    return False, f"✘ Not {question.options[choice]!r}. {question.explanation}"


def quiz(questions: list[QuizQuestion]) -> Any:
    """An ipywidgets quiz: one set of radio buttons and a Check button per question, and a score."""
    import ipywidgets as widgets

    if (
        not isinstance(questions, list)
        or not questions
        or not all(isinstance(q, QuizQuestion) for q in questions)
    ):
        raise TypeError(f"questions must be a non-empty list of QuizQuestion, not {questions!r}.")
    score = widgets.HTML(f"Score: 0 / {len(questions)}")
    right: set[int] = set()
    rows = []
    for number, question in enumerate(questions):
        buttons = widgets.RadioButtons(options=list(question.options), value=None, layout={"width": "auto"})
        feedback = widgets.HTML()
        button = widgets.Button(description="Check")

        def on_click(
            _: Any, q: QuizQuestion = question, b: Any = buttons, f: Any = feedback, i: int = number
        ) -> None:
            if b.index is None:
                f.value = "Choose an answer first."
                return
            ok, text = grade(q, b.index)
            f.value = text
            right.discard(i)
            if ok:
                right.add(i)
            score.value = f"Score: {len(right)} / {len(questions)}"

        button.on_click(on_click)
        rows.append(
            widgets.VBox([widgets.HTML(f"<b>{number + 1}. {question.prompt}</b>"), buttons, button, feedback])
        )
    return widgets.VBox([*rows, score])
