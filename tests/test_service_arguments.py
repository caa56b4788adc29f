"""Every public function of labkit.service refuses bad arguments with a labkit error that names the
argument (the issue 10 sweep; `serve()` itself is covered in tests/test_service_hardening.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from labkit.service.audit import AuditLog, QueryMemory, read_audit_log, summarise_inputs
from labkit.service.client import Client, encode_array
from labkit.service.limits import Limits, LogThrottle
from labkit.service.validation import validate_digit_batch, validate_vectors

NAN = float("nan")
IMAGE = np.zeros((1, 28, 28), np.float32)

BAD: dict[str, tuple[Callable[..., Any], str]] = {
    "Client url": (lambda tmp: Client("127.0.0.1:80", "k"), "url must be"),
    "Client api_key": (lambda tmp: Client("http://127.0.0.1:1", None), "api_key must be"),
    "Client timeout nan": (lambda tmp: Client("http://127.0.0.1:1", "k", timeout=NAN), "timeout must be"),
    "Client timeout 0": (lambda tmp: Client("http://127.0.0.1:1", "k", timeout=0), "timeout must be"),
    "Client wait flag": (
        lambda tmp: Client("http://127.0.0.1:1", "k", wait_on_rate_limit="yes"),
        "wait_on_rate_limit must be",
    ),
    "predict batch_size 0": (
        lambda tmp: Client("http://127.0.0.1:1", "k").predict(IMAGE, batch_size=0),
        "batch_size must be",
    ),
    "predict batch_size -1": (
        lambda tmp: Client("http://127.0.0.1:1", "k").predict(IMAGE, batch_size=-1),
        "batch_size must be",
    ),
    "predict a string": (lambda tmp: Client("http://127.0.0.1:1", "k").predict("pixels"), "x must be"),
    "encode_array ragged": (lambda tmp: encode_array([[0.0, 1.0], [0.0]]), "x must be"),
    "encode_array strings": (lambda tmp: encode_array(["a", "b"]), "x must hold numbers"),
    "encode_array booleans": (lambda tmp: encode_array(np.ones((28, 28), bool)), "x must hold numbers"),
    "validate_digit_batch max_batch": (
        lambda tmp: validate_digit_batch(IMAGE, max_batch=0),
        "max_batch must be",
    ),
    "validate_vectors shape": (
        lambda tmp: validate_vectors([[0.0]], (0,), max_batch=1, value_range=None),
        "shape must be",
    ),
    "validate_vectors max_batch": (
        lambda tmp: validate_vectors([[0.0]], (1,), max_batch=1.5, value_range=None),
        "max_batch must be",
    ),
    "validate_vectors value_range": (
        lambda tmp: validate_vectors([[0.0]], (1,), max_batch=1, value_range=(1, 0)),
        "value_range must be",
    ),
    "AuditLog directory": (lambda tmp: AuditLog(tmp), "path must be a file"),
    "AuditLog fsync": (lambda tmp: AuditLog(tmp / "a.jsonl", fsync="no"), "fsync must be"),
    "AuditLog max_field": (lambda tmp: AuditLog(tmp / "a.jsonl", max_field=0), "max_field must be"),
    "read_audit_log type": (lambda tmp: read_audit_log(3), "path must be"),
    "summarise_inputs empty": (lambda tmp: summarise_inputs(torch.empty(0)), "x must be a non-empty tensor"),
    "summarise_inputs list": (lambda tmp: summarise_inputs([0.5]), "x must be a non-empty tensor"),
    "summarise_inputs range": (
        lambda tmp: summarise_inputs(torch.zeros(2, 3), value_range=(NAN, 1.0)),
        "value_range must be",
    ),
    "QueryMemory size": (lambda tmp: QueryMemory(size=0), "size must be"),
    "QueryMemory nearest": (lambda tmp: QueryMemory().nearest("eve", torch.zeros(3)), "x must be"),
    "Limits rate_limit": (lambda tmp: Limits(rate_limit=NAN, budget=None), "rate_limit must be"),
    "Limits budget": (lambda tmp: Limits(rate_limit=None, budget=NAN), "budget must be"),
    "LogThrottle rate": (lambda tmp: LogThrottle(rate=-1.0), "rate must be"),
    "LogThrottle burst": (lambda tmp: LogThrottle(burst=0), "burst must be"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_arguments_get_a_labkit_error_naming_them(tmp_path, name):
    call, words = BAD[name]
    with pytest.raises(ValueError) as info:
        call(tmp_path)
    assert words in str(info.value)


def test_good_arguments_still_work(tmp_path):
    assert Client("http://127.0.0.1:1", "k", timeout=2).url == "http://127.0.0.1:1"
    assert encode_array(np.zeros((1, 2), np.float64))["array"]["dtype"] == "float32"
    assert Limits(rate_limit=5.0, budget=3).rate_limit == 5
    throttle = LogThrottle(rate=1.0, burst=1)
    assert throttle.allow("a") == (True, 0) and throttle.allow("a") == (False, 0)
    assert throttle.drain() == {"a": 1}
