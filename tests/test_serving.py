"""The prediction service: policies, validation, limits, a complete audit log under concurrency."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from labkit.data import load_clinic, load_digits
from labkit.policy import apply_policy
from labkit.service.audit import AuditLog, QueryMemory, read_audit_log, summarise_inputs
from labkit.service.client import BudgetExceeded, Client, RateLimited, ServiceError, encode_array
from labkit.service.lifecycle import serve
from labkit.training import predict_logits
from labkit.zoo.registry import load_model

KEYS = {"key-a": "alice", "key-b": "bob", "key-c": "carol", "key-d": "dave"}


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits("test")
    return x[:64], y[:64]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    log = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with serve("digits_cnn", api_keys=KEYS, max_batch=32, log_path=log, fsync=False) as running:
        yield running


def test_apply_policy_releases_only_what_the_policy_allows():
    p = torch.softmax(torch.randn(5, 10, generator=torch.Generator().manual_seed(0)) * 3, dim=1)
    assert torch.equal(apply_policy(p, "probabilities"), p)
    rounded = apply_policy(p, "rounded", decimals=1)
    assert torch.allclose(rounded * 10, (rounded * 10).round(), atol=1e-5)
    top = apply_policy(p, "top-k", top_k=2)
    assert torch.equal((top > 0).sum(dim=1), torch.full((5,), 2))
    assert torch.equal(top.argmax(dim=1), p.argmax(dim=1))
    assert apply_policy(p, "label") is None
    with pytest.raises(ValueError, match="policy must be one of"):
        apply_policy(p, "logits")


def test_predictions_match_the_model_and_are_audited(service, digits):
    x, _ = digits
    client = service.client("key-a")
    prediction = client.predict(x, batch_size=32)
    expected = torch.softmax(predict_logits(load_model("digits_cnn"), x), dim=1)
    assert torch.equal(prediction.labels, expected.argmax(dim=1))
    assert torch.allclose(prediction.probabilities, expected, atol=1e-5)
    assert prediction.remaining is None and client.queries == 64
    mine = [r for r in service.audit_log() if r["client"] == "alice" and r["status"] == 200]
    assert [r["n"] for r in mine[-2:]] == [32, 32]
    last = mine[-1]
    assert last["output"]["labels"] == prediction.labels[32:].tolist()
    assert set(last["summary"]) == {"mean", "std", "min", "max", "saturated"}
    assert last["nearest_l2"][0] is not None and len(last["nearest_l2"]) == 32
    assert "key-a" not in json.dumps(last)  # the secret itself is never logged


def test_concurrent_clients_are_all_answered_and_logged_exactly_once(service, digits):
    x, _ = digits
    before = len(service.audit_log())
    answered: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(key: str, seed: int) -> None:
        try:
            with Client(service.url, key) as client:
                for i in range(8):
                    n = 1 + (seed * 7 + i) % 8
                    client.predict(x[i : i + n])
                    with lock:
                        answered.append((KEYS[key], n))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(key, s)) for s, key in enumerate(KEYS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(answered) == 32
    records = service.audit_log()[before:]
    assert len(records) == 32 and all(r["status"] == 200 for r in records)
    assert len({r["request_id"] for r in records}) == 32
    assert Counter((r["client"], r["n"]) for r in records) == Counter(answered)
    lines = service.log_path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])


def _body(array: np.ndarray) -> bytes:
    return json.dumps(encode_array(array)).encode()


BAD_BODIES = {
    "not json": (b"{nope", 400, "bad_request"),
    "wrong keys": (b'{"images": []}', 400, "bad_request"),
    "ragged": (json.dumps({"inputs": [[0.1, 0.2], [0.3]]}).encode(), 422, "invalid_input"),
    "wrong shape": (_body(np.zeros((2, 27, 27), np.float32)), 422, "invalid_input"),
    "out of range": (_body(np.full((1, 28, 28), 3.0, np.float32)), 422, "invalid_input"),
    "NaN": (_body(np.full((1, 28, 28), np.nan, np.float32)), 422, "invalid_input"),
    "batch too big": (_body(np.zeros((33, 28, 28), np.uint8)), 422, "invalid_input"),
    "bad dtype": (
        json.dumps({"array": {"dtype": "int64", "shape": [1, 28, 28], "data": ""}}).encode(),
        422,
        "invalid_input",
    ),
    "bytes do not fit shape": (
        json.dumps({"array": {"dtype": "uint8", "shape": [1, 28, 28], "data": "AAAA"}}).encode(),
        422,
        "invalid_input",
    ),
    "bad base64": (
        json.dumps({"array": {"dtype": "uint8", "shape": [1], "data": "!!"}}).encode(),
        400,
        "bad_request",
    ),
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_malformed_requests_get_a_clear_4xx_and_the_service_keeps_serving(service, digits, name):
    body, status, kind = BAD_BODIES[name]
    client = service.client("key-b")
    response = client.post(body)
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["error"] == kind and len(payload["message"]) > 10
    assert client.predict(digits[0][:2]).labels.shape == (2,)
    record = [r for r in service.audit_log() if r["client"] == "bob"][-2]
    assert record["status"] == status and record["error"] == kind


def test_oversized_body_missing_key_and_unknown_paths_are_refused(service, digits):
    client = service.client("key-c")
    huge = b'{"inputs": [' + b"0.5," * (service.config.max_body_bytes // 4) + b"0.5]}"
    assert client.post(huge).status_code == 413
    assert Client(service.url, "").post({"inputs": [[0.0]]}).status_code == 401
    assert Client(service.url, "stolen?").post({"inputs": [[0.0]]}).status_code == 401
    assert client.post({"inputs": []}, path="/admin").status_code == 404
    with pytest.raises(ServiceError) as info:
        client.predict(np.ones((1, 28, 28), dtype=np.float64) * 2)
    assert info.value.status == 422 and "[0, 1]" in info.value.message
    assert client.predict(digits[0][:1]).labels.shape == (1,)
    records = service.audit_log()[-6:]
    assert [r["status"] for r in records] == [413, 401, 401, 404, 422, 200]
    assert records[3]["path"] == "/admin" and records[1]["client"] is None


def test_rate_limit_and_budget_answer_429_per_client(tmp_path, digits):
    x, _ = digits
    with serve(
        "digits_cnn", api_keys=KEYS, rate_limit=3, budget=10, log_path=tmp_path / "a.jsonl", policy="label"
    ) as running:
        alice = running.client("key-a")
        with pytest.raises(RateLimited) as info:
            for _ in range(6):
                alice.predict(x[:1])
        assert info.value.status == 429 and info.value.retry_after is not None
        assert not isinstance(info.value, BudgetExceeded)
        bob = running.client("key-b", wait_on_rate_limit=True)
        prediction = bob.predict(x[:9], batch_size=2)  # 5 requests at 3/s: waits, then succeeds
        assert prediction.probabilities is None and prediction.remaining == 1 and bob.waited > 0
        with pytest.raises(BudgetExceeded, match="1 of 10 images left"):
            bob.predict(x[:2])
        assert bob.predict(x[:1]).remaining == 0
        records = running.audit_log()
        assert Counter(r["error"] for r in records)["rate_limited"] >= 1
        assert any(r["error"] == "budget_exceeded" for r in records)
        assert running.usage()["bob"] == 10


def test_any_module_with_an_input_shape_can_be_served(tmp_path):
    x, y = load_clinic("test")
    with pytest.raises(ValueError, match="input_shape"):
        with serve(load_model("clinic_mlp"), log_path=tmp_path / "x.jsonl"):
            pass
    with serve(
        load_model("clinic_mlp"), input_shape=(30,), policy="top-k", top_k=1, log_path=tmp_path / "c.jsonl"
    ) as running:
        port = int(running.url.rsplit(":", 1)[1])
        prediction = running.client().predict(x, batch_size=100)
        assert (prediction.labels == y).float().mean() > 0.85
        assert torch.equal((prediction.probabilities > 0).sum(dim=1), torch.ones(len(x), dtype=torch.long))
        assert running.client().post({"inputs": [[0.0] * 29]}).status_code == 422
    with pytest.raises(OSError):  # the server is gone once the block ends
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_bad_arguments_are_refused_before_starting():
    with pytest.raises(ValueError, match="policy"):
        with serve("digits_cnn", policy="everything"):
            pass
    with pytest.raises(KeyError, match="No zoo model"):
        with serve("resnet"):
            pass


def test_audit_log_lines_stay_whole_with_many_writer_threads(tmp_path):
    log = AuditLog(tmp_path / "log.jsonl", fsync=False)
    payload = "x" * 5000  # longer than a pipe buffer: interleaving would show

    def write(worker: int) -> None:
        for i in range(50):
            log.append({"worker": worker, "i": i, "pad": payload})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    records = read_audit_log(tmp_path / "log.jsonl")
    assert Counter(r["worker"] for r in records) == Counter({w: 50 for w in range(8)})
    with pytest.raises(ValueError, match="closed"):
        log.append({})


_WRITER = """
import sys, time
from labkit.service.audit import AuditLog
log = AuditLog(sys.argv[1])
i = 0
while True:
    log.append({"i": i, "pad": "y" * 2000})
    i += 1
    if i == 20:
        print("ready", flush=True)
"""


def test_the_log_survives_a_crash_mid_run(tmp_path):
    path = tmp_path / "crash.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        env={**os.environ, "GIT_PYTHON_REFRESH": "quiet"},
    )
    try:
        assert process.stdout.readline().strip() == b"ready"
        time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    with path.open("ab") as handle:  # simulate the worst case: a torn last line
        handle.write(b'{"i": 99999, "pad": "yy')
    with pytest.warns(UserWarning, match="torn"):
        records = read_audit_log(path)
    assert len(records) >= 20 and [r["i"] for r in records] == list(range(len(records)))
    reopened = AuditLog(path)  # a restarted service starts on a fresh line
    reopened.append({"i": "after restart"})
    reopened.close()
    with pytest.warns(UserWarning):
        assert read_audit_log(path)[-1] == {"i": "after restart"}


def test_summaries_and_nearest_previous_query():
    x = torch.zeros(3, 1, 28, 28)
    x[1] = 1.0
    x[2, 0, 0, 0] = 0.5
    summary = summarise_inputs(x)
    assert summary["min"] == 0.0 and summary["max"] == 1.0
    assert summary["saturated"] == pytest.approx(1 - 1 / (3 * 784), abs=1e-4)
    memory = QueryMemory(size=4)
    first = memory.nearest("eve", x)
    assert first[0] is None and first[1] == pytest.approx(28.0) and first[2] == pytest.approx(0.5)
    again = memory.nearest("eve", x[:1])
    assert again == [0.0]
    assert memory.nearest("mallory", x[:1]) == [None]


def test_read_audit_log_explains_a_missing_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no audit log"):
        read_audit_log(tmp_path / "none.jsonl")
