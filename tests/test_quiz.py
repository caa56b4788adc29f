"""The catalogue quiz: questions from the catalogue, graded headless, rendered with ipywidgets."""

from __future__ import annotations

import pytest

from labkit.threats.catalogue import CATALOGUE
from labkit.widgets.quiz import ASPECTS, catalogue_quiz, grade, quiz


def test_questions_are_seeded_and_answerable():
    first, again = catalogue_quiz(n=8, seed=3), catalogue_quiz(n=8, seed=3)
    assert first == again and first != catalogue_quiz(n=8, seed=4)
    for question in first:
        assert len(set(question.options)) == len(question.options) >= 3
        assert 0 <= question.answer < len(question.options)
        ok, text = grade(question, question.answer)
        assert ok and text.startswith("✔")
        wrong = (question.answer + 1) % len(question.options)
        ok, text = grade(question, wrong)
        assert not ok and text.startswith("✘") and question.options[wrong] in text


def test_every_question_of_the_catalogue_has_the_catalogue_answer():
    questions = catalogue_quiz(n=len(CATALOGUE) * len(ASPECTS), seed=0)
    properties = [q for q in questions if "property" in q.prompt]
    assert len(properties) == len(CATALOGUE)
    for q in properties:
        attack = next(a for a in CATALOGUE if a.name.lower() in q.prompt)
        assert q.options[q.answer] == attack.violates


def test_the_widget_scores_clicks():
    questions = catalogue_quiz(n=2, seed=0)
    box = quiz(questions)
    first = box.children[0]
    buttons, check, feedback = first.children[1], first.children[2], first.children[3]
    check.click()
    assert "Choose" in feedback.value
    buttons.index = questions[0].answer
    check.click()
    assert feedback.value.startswith("✔") and box.children[-1].value == "Score: 1 / 2"
    with pytest.raises(TypeError, match="questions"):
        quiz([])
