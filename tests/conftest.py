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
