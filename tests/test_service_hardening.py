"""The prediction service under hostile or careless use (issue 10): every request logged once and never
charged when it fails, configuration checked at start, bounded logging for unauthenticated traffic,
decoding faults answered 4xx, the event loop kept free, request ids unique across restarts."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import labkit.service.audit as audit_module
from labkit.service.audit import AuditLog, read_audit_log
from labkit.service.client import Client
from labkit.service.lifecycle import serve

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def _lines(path: Path) -> list[dict]:
    """Every line of the log, parsed strictly (a line that does not parse fails the test)."""
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _vector_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(4, 3)


# --- 1. every answered or refused request is logged once; a failed request spends no budget ---------


def test_huge_finite_inputs_are_answered_as_json_logged_once_and_not_charged_if_refused(tmp_path):
    log = tmp_path / "a.jsonl"
    with serve(_vector_model(), input_shape=(4,), budget=10, log_path=log) as service:
        response = service.client().post({"inputs": [[3e38, 3e38, -3e38, 3e38], [1.0, 2.0, 3.0, 4.0]]})
        assert response.headers["content-type"] == "application/json", response.text
        status = response.status_code
        assert status in (200, 422), response.text
        assert service.usage().get("demo", 0) == (2 if status == 200 else 0)
    records = [r for r in _lines(log) if r.get("path") == "/predict"]
    assert len(records) == 1 and records[0]["status"] == status
    assert records[0]["summary"] is not None and math.isfinite(records[0]["summary"]["std"])


def test_the_audit_log_writes_non_finite_numbers_as_strings(tmp_path):
    log = AuditLog(tmp_path / "b.jsonl", fsync=False)
    log.append({"mean": float("inf"), "values": [float("nan"), -float("inf"), 1.5], "t": (1, 2)})
    log.close()
    assert read_audit_log(tmp_path / "b.jsonl") == [
        {"mean": "inf", "values": ["nan", "-inf", 1.5], "t": [1, 2]}
    ]


def test_a_request_that_cannot_be_logged_is_not_answered_or_charged(tmp_path, digits):
    with serve("digits_cnn", budget=10, log_path=tmp_path / "c.jsonl") as service:
        client = service.client()
        assert client.predict(digits[0][:1]).remaining == 9
        service._state.log.close()  # the disk is gone: no line can be written
        response = client.post(json.dumps({"inputs": digits[0][:2].tolist()}).encode())
        assert response.status_code == 500 and response.json()["error"] == "internal"
        assert service.usage()["demo"] == 1


class _Broken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("the model failed")


def test_a_model_failure_is_logged_once_and_refunded(tmp_path):
    log = tmp_path / "d.jsonl"
    with serve(_Broken(), input_shape=(4,), budget=10, log_path=log) as service:
        response = service.client().post({"inputs": [[0.0, 1.0, 2.0, 3.0]]})
        assert response.status_code == 500 and response.json()["error"] == "internal"
        assert service.usage()["demo"] == 0
    assert [r["status"] for r in _lines(log)] == [500]


# --- 2. configuration is checked at start --------------------------------------------------------

BAD_CONFIG = [
    ("budget", float("nan")),
    ("budget", 1.5),
    ("budget", -1),
    ("budget", True),
    ("rate_limit", float("nan")),
    ("rate_limit", 0.5),
    ("rate_limit", -2),
    ("rate_limit", True),
    ("rate_limit", float("inf")),
    ("max_batch", 0),
    ("max_batch", 2.5),
    ("max_body_bytes", -1),
    ("max_body_bytes", float("nan")),
    ("body_timeout", 0),
    ("body_timeout", float("nan")),
    ("startup_timeout", float("inf")),
    ("value_range", (1.0, 0.0)),
    ("value_range", (float("nan"), 1.0)),
    ("value_range", "0..1"),
    ("input_shape", (0,)),
    ("input_shape", (2.5,)),
    ("fsync", "yes"),
    ("api_keys", {}),
    ("api_keys", {"": "nobody"}),
    ("api_keys", {"key": 3}),
]


@pytest.mark.parametrize(("name", "value"), BAD_CONFIG, ids=[f"{n}={v!r}" for n, v in BAD_CONFIG])
def test_every_bad_configuration_value_is_refused_at_start(tmp_path, name, value):
    with pytest.raises(ValueError) as info:
        with serve(_vector_model(), **{"input_shape": (4,), "log_path": tmp_path / "e.jsonl", name: value}):
            pass
    message = str(info.value)
    shown = repr(value)[:10] if name != "api_keys" else repr(value)[1:-1][:10]  # the bad entry
    assert message.startswith(name) and shown in message and ("must be" in message or "must map" in message)
    assert not (tmp_path / "e.jsonl").exists()  # refused before anything started


def test_a_directory_is_not_a_log_path(tmp_path):
    with pytest.raises(ValueError, match="log_path must be a file"):
        with serve(_vector_model(), input_shape=(4,), log_path=tmp_path):
            pass


# --- 3. what an unauthenticated request can write is bounded -------------------------------------


def test_long_paths_and_messages_are_clipped_in_the_log(tmp_path):
    log = tmp_path / "f.jsonl"
    with serve(_vector_model(), input_shape=(4,), log_path=log, fsync=False) as service:
        stranger = Client(service.url, "")
        assert stranger.post({"inputs": []}, path="/" + "a" * 60_000).status_code == 404
        body = {"array": {"dtype": "x" * 20_000, "shape": [1], "data": ""}}
        response = service.client().post(body)
        assert response.status_code == 422 and len(response.text) < 1000
        stranger.close()
    lines = log.read_bytes().splitlines()
    assert len(lines) == 2 and all(len(line) < 2000 for line in lines)


def test_an_unauthenticated_flood_is_throttled_and_counted(tmp_path):
    log = tmp_path / "g.jsonl"
    sent = 300
    with serve(_vector_model(), input_shape=(4,), log_path=log, fsync=False) as service:
        with Client(service.url, "") as stranger:
            started = time.monotonic()
            statuses = [stranger.post(b"{}", path=f"/probe{i}").status_code for i in range(sent)]
            elapsed = time.monotonic() - started
    assert statuses == [404] * sent
    records = _lines(log)
    logged = [r for r in records if r["status"] == 404]
    suppressed = sum(r["suppressed"] for r in records if r["error"] == "suppressed")
    assert len(logged) <= 20 + 10 * elapsed + 1  # burst 20, then 10 lines per second per source
    assert len(logged) + suppressed == sent  # nothing silently lost


def test_only_answered_predictions_are_fsynced(tmp_path, monkeypatch, digits):
    synced: list[int] = []
    real_fsync = audit_module.os.fsync
    monkeypatch.setattr(audit_module.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    with serve("digits_cnn", log_path=tmp_path / "h.jsonl", fsync=True) as service:
        with Client(service.url, "") as stranger:
            for _ in range(5):
                assert stranger.post(b"{}", path="/nothing").status_code == 404
                assert stranger.post(b"{}").status_code == 401
        client = service.client()
        assert client.post(b"{nope").status_code == 400
        client.predict(digits[0][:2])
    assert len(synced) == 1


# --- 4. decoding faults are the client's: 4xx with a clear message -------------------------------


def _deep(depth: int) -> bytes:
    return b'{"inputs": ' + b"[" * depth + b"0.5" + b"]" * depth + b"}"


DECODING_FAULTS = {
    "deeply nested lists": (_deep(100_000), 400, "nested too deeply"),
    "huge integers": (
        json.dumps({"inputs": [[[10**400] * 28] * 28]}).encode(),
        422,
        "too large",
    ),
    "dtype of the wrong type": (
        json.dumps({"array": {"dtype": ["uint8"], "shape": [1, 28, 28], "data": ""}}).encode(),
        422,
        "dtype",
    ),
    "data of the wrong type": (
        json.dumps({"array": {"dtype": "uint8", "shape": [1, 28, 28], "data": [1, 2]}}).encode(),
        422,
        "base64",
    ),
    "booleans as pixels": (json.dumps({"inputs": [[[True] * 28] * 28]}).encode(), 422, "booleans"),
    "booleans among pixels": (
        json.dumps({"inputs": [[[0.5] * 27 + [False]] * 28]}).encode(),
        422,
        "booleans",
    ),
}


@pytest.mark.parametrize("name", list(DECODING_FAULTS))
def test_decoding_faults_are_4xx_with_a_clear_message(tmp_path, name):
    body, status, words = DECODING_FAULTS[name]
    with serve("digits_cnn", log_path=tmp_path / "i.jsonl", fsync=False) as service:
        response = service.client().post(body)
        assert response.status_code == status, response.text
        assert words in response.json()["message"]
        assert [r["status"] for r in service.audit_log()] == [status]


def test_booleans_among_vector_inputs_are_refused(tmp_path):
    with serve(_vector_model(), input_shape=(4,), log_path=tmp_path / "j.jsonl", fsync=False) as service:
        response = service.client().post({"inputs": [[0.5, True, 0.0, 1.0]]})
        assert response.status_code == 422 and "booleans" in response.json()["message"]


# --- 5. the event loop stays free; stalled bodies time out ---------------------------------------


class _Slow(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(1.0)
        return self.linear(x)


def test_health_answers_while_a_slow_model_call_runs(tmp_path):
    with serve(_Slow(), input_shape=(2,), log_path=tmp_path / "k.jsonl", fsync=False) as service:
        statuses: list[int] = []
        caller = threading.Thread(
            target=lambda: statuses.append(service.client().post({"inputs": [[0.1, 0.2]]}).status_code)
        )
        caller.start()
        time.sleep(0.25)  # the model call is now sleeping
        with Client(service.url, "demo-key") as probe:
            started = time.perf_counter()
            probe.health()
            waited = time.perf_counter() - started
        caller.join(10)
    assert statuses == [200]
    assert waited < 0.5, f"/health waited {waited:.2f} s behind the model"


def test_a_stalled_body_gets_408(tmp_path):
    with serve(_vector_model(), input_shape=(4,), log_path=tmp_path / "l.jsonl", body_timeout=0.5) as service:
        port = int(service.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                b"POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-key\r\n"
                b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"inp'
            )
            started = time.monotonic()
            reply = sock.recv(4096)
            waited = time.monotonic() - started
        assert reply.startswith(b"HTTP/1.1 408") and waited < 3
        assert [r["status"] for r in service.audit_log()] == [408]


# --- 6. request ids are unique across restarts; the reader refuses foreign lines ------------------


def test_request_ids_are_unique_across_restarts(tmp_path):
    log = tmp_path / "m.jsonl"
    ids = []
    for _ in range(2):
        with serve(_vector_model(), input_shape=(4,), log_path=log, fsync=False) as service:
            answer = service.client().post({"inputs": [[0.0, 1.0, 2.0, 3.0]]}).json()
            ids.append(answer["request_id"])
    records = read_audit_log(log)
    assert [r["request_id"] for r in records] == ids and len(set(ids)) == 2
    assert records[0]["run"] != records[1]["run"]


@pytest.mark.parametrize("line", [b"[1, 2]", b"42", b'"text"', b"null"])
def test_read_audit_log_rejects_lines_that_are_not_objects(tmp_path, line):
    path = tmp_path / "n.jsonl"
    path.write_bytes(b'{"status": 200}\n' + line + b"\n")
    with pytest.raises(ValueError, match=r"n\.jsonl, line 2: an audit line must be a JSON object"):
        read_audit_log(path)


def test_validation_refuses_values_too_large_for_a_float():
    from labkit.service.validation import InputValidationError, validate_vectors

    with pytest.raises(InputValidationError, match="too large"):
        validate_vectors([[10**400, 0, 0, 0]], (4,), max_batch=4, value_range=None)
    assert validate_vectors(np.ones((2, 4)), (4,), max_batch=4, value_range=None).shape == (2, 4)


def test_a_body_with_far_too_many_numbers_is_refused_before_parsing(tmp_path):
    body = json.dumps({"inputs": [[[0] * 28] * 28] * 2900}, separators=(",", ":")).encode()  # 4.7 MB
    with serve("digits_cnn", log_path=tmp_path / "o.jsonl", fsync=False) as service:
        assert len(body) < service.config.max_body_bytes  # within the byte limit: only the count refuses it
        response = service.client().post(body)
        assert response.status_code == 422 and "far more than" in response.json()["message"]
        assert service.audit_log()[-1]["status"] == 422
