"""Fixtures shared by several test files (the root conftest.py sets the environment)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models: one thread is as fast, and avoids thread contention on a busy CI machine.

    Use it per file with `pytestmark = pytest.mark.usefixtures("one_thread")`.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    """The zoo's standard cheque reader, on the CPU."""
    from labkit.zoo.registry import load_model

    return load_model("digits_cnn", device="cpu")


@pytest.fixture(scope="module")
def digits_count():
    """How many test digits the `digits` fixture gives; a test file overrides it to ask for fewer."""
    return 64


@pytest.fixture(scope="module")
def digits(digits_count):
    """Copies of the first `digits_count` test digits and their labels."""
    from labkit.data import load_digits

    x, y = load_digits("test")
    return x[:digits_count].clone(), y[:digits_count].clone()
