"""05.cleanse accepts any honest parametrisation and reads the learner's search as it ran."""

from __future__ import annotations

import pytest

from labkit.checks import run_check
from tests.answers import m05

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_papers_tanh_parametrisation_passes_too():
    result = run_check("05.cleanse", m05.cleanse_tanh_parametrised)
    assert result.passed, result.message


def test_a_search_that_ignores_batch_size_is_told_so():
    def whole_set_each_step(model, x, target, *, steps=100, lr=0.1, cost=3e-2, batch_size=16, seed=0):
        return m05.reverse_engineer_trigger(
            model, x, target, steps=steps, lr=lr, cost=cost, batch_size=len(x)
        )

    result = run_check("05.cleanse", whole_set_each_step)
    assert result.status == "failed" and "batches of 10" in result.message


def test_a_mask_with_a_channel_axis_is_read_as_one_mask():
    def channel_mask(model, x, target, **options):
        mask, pattern = m05.reverse_engineer_trigger(model, x, target, **options)
        return mask[None], pattern

    assert run_check("05.cleanse", channel_mask).passed
