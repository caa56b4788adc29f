"""The cheque reader's prediction API: a real local HTTP service (FastAPI on uvicorn, loopback only)
with API keys, input validation, output policies, rate limits, query budgets and an audit log.

    with serve("digits_cnn", policy="label", budget=1000) as service:
        prediction = service.client("demo-key").predict(images)

The server runs in a daemon thread of the calling process, so it can never outlive the notebook's
kernel. Threat model it is built for: untrusted clients who hold a valid API key and may send
anything (malformed, oversized, adversarial or extraction queries).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from labkit.client import API_KEY_HEADER, BudgetExceeded, Client, Prediction, RateLimited, ServiceError
from labkit.serving_audit import AuditLog, QueryMemory, read_audit_log, summarise_inputs
from labkit.validation import InputValidationError, validate_digit_batch

POLICIES = ("probabilities", "rounded", "top-k", "label")
DIGIT_SHAPE = (1, 28, 28)
DEFAULT_KEYS = {"demo-key": "demo"}

__all__ = [
    "POLICIES", "BudgetExceeded", "Client", "Prediction", "RateLimited", "Service", "ServiceError",
    "apply_policy", "build_app", "read_audit_log", "serve",
]


# --------------------------------------------------------------------------- output policies


def apply_policy(probabilities: torch.Tensor, policy: str, *, decimals: int = 2, top_k: int = 3
                 ) -> torch.Tensor | None:
    """What a deployment releases from the full probabilities: all of them, rounded to `decimals`,
    only the `top_k` largest (zeros elsewhere), or nothing beyond the label (None)."""
    if policy == "probabilities":
        return probabilities
    if policy == "rounded":
        return torch.round(probabilities, decimals=decimals)
    if policy == "top-k":
        top = probabilities.topk(min(top_k, probabilities.shape[1]), dim=1)
        return torch.zeros_like(probabilities).scatter_(1, top.indices, top.values)
    if policy == "label":
        return None
    raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}.")


# --------------------------------------------------------------------------- input checks


class RequestError(Exception):
    """A request the service refuses: HTTP status, a machine-readable kind and a helpful message."""

    def __init__(self, status: int, kind: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.retry_after = status, kind, message, retry_after


_DTYPES = {"float32": np.float32, "float64": np.float64, "uint8": np.uint8}


def _decode_body(raw: bytes) -> Any:  # noqa: ANN401 - nested lists or an array
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, "bad_request", f"the body is not valid JSON ({error}).") from None
    if not isinstance(body, dict) or not ({"inputs", "array"} & set(body)):
        raise RequestError(400, "bad_request", 'send a JSON object with "inputs" (nested lists of '
                           'numbers) or "array" ({"dtype", "shape", "data": base64}).')
    if "inputs" in body:
        return body["inputs"]
    spec = body["array"]
    if not isinstance(spec, dict) or not {"dtype", "shape", "data"} <= set(spec):
        raise RequestError(400, "bad_request", '"array" needs "dtype", "shape" and "data" (base64).')
    if spec["dtype"] not in _DTYPES:
        raise RequestError(422, "invalid_input", f'array dtype {spec["dtype"]!r} is not accepted; '
                           f"use one of {', '.join(_DTYPES)}.")
    shape = spec["shape"]
    if (not isinstance(shape, list) or not 1 <= len(shape) <= 4
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
        raise RequestError(422, "invalid_input", f"array shape {shape!r} must be a list of 1 to 4 "
                           "non-negative integers.")
    try:
        data = base64.b64decode(str(spec["data"]), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "bad_request", "array data is not valid base64.") from None
    dtype = np.dtype(_DTYPES[spec["dtype"]])
    expected = math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise RequestError(422, "invalid_input", f"array data holds {len(data)} bytes but shape "
                           f"{shape} of {dtype} needs {expected}.")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _validate_vectors(data: Any, shape: tuple[int, ...], *, max_batch: int,
                      value_range: tuple[float, float] | None) -> torch.Tensor:
    """Generic check for non-image models: N x *shape (or one input) of finite numbers."""
    try:
        array = np.asarray(data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else data)
    except (ValueError, TypeError):
        raise InputValidationError("the input lists are ragged; every input needs the same shape.") from None
    if array.dtype == object or array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise InputValidationError(f"inputs have dtype {array.dtype}; send numbers (floats).")
    if tuple(array.shape) == shape:
        array = array[None]
    if tuple(array.shape[1:]) != shape:
        wanted = " x ".join(map(str, shape))
        raise InputValidationError(f"input has shape {tuple(array.shape)}; send N x {wanted}.")
    if len(array) == 0:
        raise InputValidationError("the batch is empty; send at least one input.")
    if len(array) > max_batch:
        raise InputValidationError(
            f"batch of {len(array)} inputs exceeds the limit of {max_batch}; split it up.")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InputValidationError("some values are NaN or infinite; every value must be a finite number.")
    if value_range is not None:
        low, high = float(array.min()), float(array.max())
        if low < value_range[0] or high > value_range[1]:
            raise InputValidationError(f"values range over [{low:g}, {high:g}]; they must lie in "
                                       f"[{value_range[0]:g}, {value_range[1]:g}].")
    return torch.from_numpy(np.ascontiguousarray(array))


# --------------------------------------------------------------------------- the service state


@dataclass
class _Usage:
    times: deque = field(default_factory=deque)  # request times within the last second
    images: int = 0


@dataclass
class ServiceConfig:
    """Everything a deployment decides: model, policy, keys, limits and where the log goes."""

    model: nn.Module
    model_name: str
    input_shape: tuple[int, ...]
    policy: str
    decimals: int
    top_k: int
    api_keys: dict[str, str]
    rate_limit: float | None
    budget: int | None
    max_batch: int
    max_body_bytes: int
    value_range: tuple[float, float] | None
    log_path: Path


class _State:
    """Mutable per-service state shared by request handlers (guarded by one lock)."""

    def __init__(self, config: ServiceConfig, log: AuditLog) -> None:
        self.config = config
        self.log = log
        self.lock = threading.Lock()
        self.model_lock = threading.Lock()
        self.usage: dict[str, _Usage] = {}
        self.memory = QueryMemory()
        self.ids = itertools.count(1)
        self.device = next(config.model.parameters()).device

    def validate(self, data: Any) -> torch.Tensor:  # noqa: ANN401
        cfg = self.config
        if cfg.input_shape == DIGIT_SHAPE:
            return validate_digit_batch(data, max_batch=cfg.max_batch)
        return _validate_vectors(data, cfg.input_shape, max_batch=cfg.max_batch, value_range=cfg.value_range)

    def admit(self, client: str) -> None:
        """Count one request against the client's rate limit (raise 429 when over it)."""
        limit = self.config.rate_limit
        with self.lock:
            usage = self.usage.setdefault(client, _Usage())
            if limit is None:
                return
            now = time.monotonic()
            while usage.times and now - usage.times[0] >= 1.0:
                usage.times.popleft()
            if len(usage.times) >= limit:
                wait = round(1.0 - (now - usage.times[0]), 3)
                raise RequestError(429, "rate_limited", f"client {client!r} is limited to {limit:g} "
                                   f"requests per second; retry after {wait:.3f} s.", retry_after=wait)
            usage.times.append(now)

    def spend(self, client: str, n: int) -> int | None:
        """Take n images from the client's budget (raise 429 if it does not cover them)."""
        budget = self.config.budget
        with self.lock:
            usage = self.usage.setdefault(client, _Usage())
            if budget is not None and usage.images + n > budget:
                left = budget - usage.images
                raise RequestError(429, "budget_exceeded", f"query budget spent: client {client!r} has "
                                   f"{left} of {budget} images left and this request asks for {n}.")
            usage.images += n
            return None if budget is None else budget - usage.images

    def refund(self, client: str, n: int) -> None:
        with self.lock:
            self.usage[client].images -= n

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        with self.model_lock, torch.no_grad():
            logits = self.config.model(x.to(self.device)).float().cpu()
        return torch.softmax(logits, dim=1)


def _client_of(state: _State, key: str | None) -> str:
    if not key:
        raise RequestError(401, "unauthorized", f"send your API key in the {API_KEY_HEADER} header.")
    client = state.config.api_keys.get(key)
    if client is None:
        raise RequestError(401, "unauthorized", "unknown API key.")
    return client


def _key_id(key: str | None) -> str | None:
    return hashlib.sha256(key.encode()).hexdigest()[:8] if key else None


async def _read_body(request: Any, limit: int) -> bytes:  # noqa: ANN401 - a starlette Request
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, "too_large", f"the body is {int(declared)} bytes; the limit is {limit} "
                           "(send fewer inputs per request).")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, "too_large", f"the body exceeds the limit of {limit} bytes "
                               "(send fewer inputs per request).")
        chunks.append(chunk)
    return b"".join(chunks)


def _new_record(state: _State, key: str | None, request: Any) -> dict[str, Any]:  # noqa: ANN401
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "request_id": next(state.ids), "client": state.config.api_keys.get(key or ""),
        "key_id": _key_id(key), "method": request.method, "path": request.url.path,
        "policy": state.config.policy, "status": 200, "error": None, "n": 0, "bytes": None,
        "input_sha256": None, "summary": None, "nearest_l2": None, "output": None, "remaining": None,
    }


def build_app(state: _State) -> Any:  # noqa: ANN401 - a FastAPI app
    """The FastAPI application: POST /predict, GET /health; every /predict request is audited."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    cfg = state.config
    app = FastAPI(title="cheque reader prediction API", docs_url=None, redoc_url=None, openapi_url=None)

    # plain (starlette-style) routes: the handlers read the raw body themselves, to limit its size
    async def health(request: Any) -> JSONResponse:  # noqa: ANN401
        return JSONResponse({"status": "ok", "model": cfg.model_name, "policy": cfg.policy,
                "input_shape": list(cfg.input_shape), "max_batch": cfg.max_batch,
                "max_body_bytes": cfg.max_body_bytes, "rate_limit": cfg.rate_limit, "budget": cfg.budget})

    async def anything(request: Any) -> JSONResponse:  # noqa: ANN401
        key = request.headers.get(API_KEY_HEADER)
        message = "the API is POST /predict and GET /health."
        state.log.append({**_new_record(state, key, request), "status": 404, "error": "not_found",
                          "message": message, "latency_ms": 0.0})
        return JSONResponse({"error": "not_found", "message": message, "status": 404}, status_code=404)

    async def predict(request: Any) -> JSONResponse:  # noqa: ANN401
        started = time.perf_counter()
        key = request.headers.get(API_KEY_HEADER)
        record = _new_record(state, key, request)
        client, spent = None, 0
        try:
            client = _client_of(state, key)
            state.admit(client)
            raw = await _read_body(request, cfg.max_body_bytes)
            record["bytes"] = len(raw)
            record["input_sha256"] = hashlib.sha256(raw).hexdigest()
            try:
                x = state.validate(_decode_body(raw))
            except InputValidationError as error:
                raise RequestError(422, "invalid_input", str(error)) from None
            n = len(x)
            record["n"] = n
            record["input_sha256"] = hashlib.sha256(x.numpy().tobytes()).hexdigest()
            record["summary"] = summarise_inputs(x, value_range=(0.0, 1.0) if cfg.input_shape == DIGIT_SHAPE
                                                 else cfg.value_range)
            remaining = state.spend(client, n)
            spent = n
            probabilities = state.predict(x)
            released = apply_policy(probabilities, cfg.policy, decimals=cfg.decimals, top_k=cfg.top_k)
            labels = probabilities.argmax(dim=1)
            with state.lock:
                record["nearest_l2"] = state.memory.nearest(client, x)
            confidence = None if released is None else released.max(dim=1).values.tolist()
            record["output"] = {"labels": labels.tolist(),
                                "confidence": confidence and [round(v, 4) for v in confidence]}
            record["remaining"] = remaining
            body = {"labels": labels.tolist(),
                    "probabilities": None if released is None else released.tolist(),
                    "policy": cfg.policy, "remaining": remaining, "request_id": record["request_id"]}
            response = JSONResponse(body)
        except RequestError as error:
            record.update(status=error.status, error=error.kind, message=error.message)
            payload = {"error": error.kind, "message": error.message, "status": error.status}
            headers = {}
            if error.retry_after is not None:
                payload["retry_after"] = error.retry_after
                headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
            response = JSONResponse(payload, status_code=error.status, headers=headers)
        except Exception as error:  # noqa: BLE001 - the service must keep serving
            if spent and client is not None:
                state.refund(client, spent)
            record.update(status=500, error="internal", message=f"{type(error).__name__}: {error}")
            response = JSONResponse({"error": "internal", "message": "the service failed on this request; "
                                     "it has been logged.", "status": 500}, status_code=500)
        record["latency_ms"] = round(1000 * (time.perf_counter() - started), 3)
        state.log.append(record)
        return response

    app.add_route("/health", health, methods=["GET"])
    app.add_route("/predict", predict, methods=["POST"])
    app.add_route("/{path:path}", anything, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    return app


# --------------------------------------------------------------------------- running it


class Service:
    """A running prediction service: its URL, audit log, clients and shutdown."""

    def __init__(self, state: _State, server: Any, thread: threading.Thread, port: int) -> None:  # noqa: ANN401
        self._state, self._server, self._thread = state, server, thread
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = state.config.log_path
        self.config = state.config
        self._clients: list[Client] = []

    def client(self, api_key: str = "demo-key", **kwargs: Any) -> Client:
        """A Client for this service holding `api_key` (closed when the service stops)."""
        client = Client(self.url, api_key, **kwargs)
        self._clients.append(client)
        return client

    def audit_log(self) -> list[dict[str, Any]]:
        """Every audited request so far, parsed from the JSONL file."""
        return read_audit_log(self.log_path)

    def usage(self) -> dict[str, int]:
        """Images answered per client so far."""
        with self._state.lock:
            return {client: usage.images for client, usage in self._state.usage.items()}

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._server.should_exit

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the server, wait for its thread and close the log and clients."""
        for client in self._clients:
            client.close()
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._state.log.close()

    def __repr__(self) -> str:
        return f"Service({self.url}, model={self.config.model_name!r}, policy={self.config.policy!r})"


def _resolve_model(model: str | nn.Module, input_shape: tuple[int, ...] | None
                   ) -> tuple[nn.Module, str, tuple[int, ...]]:
    from labkit.models import DigitsCNN

    if isinstance(model, str):
        from labkit.zoo import load_model, model_card

        card = model_card(model)
        module = load_model(model)
        digits = card["architecture"] == "DigitsCNN"
        default = DIGIT_SHAPE if digits else (int(card["config"]["in_features"]),)
        name = model
    elif isinstance(model, nn.Module):
        module, name = model.eval(), type(model).__name__
        default = DIGIT_SHAPE if isinstance(model, DigitsCNN) else None
    else:
        raise TypeError(f"serve() takes a zoo model name or an nn.Module, not {type(model).__name__}.")
    shape = tuple(int(s) for s in input_shape) if input_shape is not None else default
    if shape is None:
        raise ValueError(f"pass input_shape=... for a {name} (the shape of one input, e.g. (30,)).")
    if shape == (28, 28):
        shape = DIGIT_SHAPE
    if next(iter(module.parameters()), None) is None:
        raise ValueError("the model has no parameters; serve a trained nn.Module.")
    return module, name, shape


def _default_log_path(name: str) -> Path:
    from labkit.paths import user_dir

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return user_dir() / "audit" / f"{name}-{stamp}.jsonl"


@contextmanager
def serve(
    model: str | nn.Module = "digits_cnn",
    *,
    policy: str = "probabilities",
    decimals: int = 2,
    top_k: int = 3,
    api_keys: Mapping[str, str] | None = None,
    rate_limit: float | None = None,
    budget: int | None = None,
    max_batch: int = 256,
    log_path: str | Path | None = None,
    input_shape: tuple[int, ...] | None = None,
    value_range: tuple[float, float] | None = None,
    max_body_bytes: int | None = None,
    fsync: bool = True,
    startup_timeout: float = 20.0,
) -> Iterator[Service]:
    """Serve a zoo model (or an nn.Module with `input_shape`) on 127.0.0.1 at a free port until the
    `with` block ends. Digit models accept N x 1 x 28 x 28 in [0, 1]; other models N x input_shape of
    finite numbers (within `value_range` if given). Audit lines go to `log_path` (appended)."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}.")
    if rate_limit is not None and rate_limit <= 0:
        raise ValueError(f"rate_limit must be > 0 requests per second (or None), not {rate_limit}.")
    if budget is not None and budget < 0:
        raise ValueError(f"budget must be >= 0 images (or None), not {budget}.")
    if max_batch < 1 or top_k < 1 or decimals < 0:
        raise ValueError("max_batch and top_k must be >= 1 and decimals >= 0.")
    module, name, shape = _resolve_model(model, input_shape)
    per_input = math.prod(shape)
    config = ServiceConfig(
        model=module, model_name=name, input_shape=shape, policy=policy, decimals=decimals, top_k=top_k,
        api_keys=dict(DEFAULT_KEYS if api_keys is None else api_keys), rate_limit=rate_limit, budget=budget,
        max_batch=max_batch,
        # JSON numbers take up to ~24 characters each; base64 float32 takes under 6 bytes per value
        max_body_bytes=max_body_bytes or 4096 + 24 * per_input * max_batch,
        value_range=value_range, log_path=Path(log_path) if log_path else _default_log_path(name),
    )
    state = _State(config, AuditLog(config.log_path, fsync=fsync))
    server, thread, port = _start(build_app(state), startup_timeout)
    service = Service(state, server, thread, port)
    try:
        yield service
    finally:
        service.stop()


def _start(app: Any, timeout: float) -> tuple[Any, threading.Thread, int]:  # noqa: ANN401
    import uvicorn

    # proto=IPPROTO_TCP: asyncio only turns Nagle off (TCP_NODELAY) on sockets that say they are TCP;
    # with proto 0, every reply on a kept-alive connection waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # loopback only, a free port chosen by the OS
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            loop="asyncio", http="h11", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name=f"labkit-serving-{port}")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the prediction service did not start on 127.0.0.1:{port} within "
                               f"{timeout:g} s; see the messages above.")
        time.sleep(0.01)
    return server, thread, port
