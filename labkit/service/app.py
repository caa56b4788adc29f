"""The cheque reader's prediction API as a FastAPI app: POST /predict and GET /health, every
request answered or refused with a clear message and audited once.

Threat model: untrusted clients who hold a valid API key and may send anything (malformed,
oversized, adversarial or extraction queries).
"""

import asyncio
import hashlib
import itertools
import json
import math
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from labkit.policy import apply_policy
from labkit.service.audit import AuditLog, QueryMemory, clip, summarise_inputs
from labkit.service.client import API_KEY_HEADER
from labkit.service.limits import Limits, LogThrottle
from labkit.service.requests import RequestError, decode_body, read_body
from labkit.service.validation import InputValidationError, validate_digit_batch, validate_vectors

DIGIT_SHAPE = (1, 28, 28)
DEFAULT_KEYS = {"demo-key": "demo"}


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
    body_timeout: float = 10.0


class ServiceState:
    """Mutable per-service state shared by request handlers: limits, query memory, request ids and
    the worker threads that decode, validate, predict and log (so the event loop only does I/O)."""

    def __init__(self, config: ServiceConfig, log: AuditLog, *, workers: int = 4) -> None:
        self.config = config
        self.log = log
        self.limits = Limits(rate_limit=config.rate_limit, budget=config.budget)
        self.throttle = LogThrottle()
        self.model_lock = threading.Lock()
        self.memory_lock = threading.Lock()
        self.memory = QueryMemory()
        self.run = secrets.token_hex(4)  # request ids are f"{run}-{n}": unique across restarts
        self.ids = itertools.count(1)
        self.device = next(config.model.parameters()).device
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labkit-serving")

    def close(self) -> None:
        """Finish queued work, log any suppressed-line counts and stop the worker threads."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        for source, count in self.throttle.drain().items():
            self.log.append(_suppressed_record(self, source, count), durable=False)

    def validate(self, data: Any) -> torch.Tensor:  # noqa: ANN401
        cfg = self.config
        if cfg.input_shape == DIGIT_SHAPE:
            return validate_digit_batch(data, max_batch=cfg.max_batch)
        return validate_vectors(data, cfg.input_shape, max_batch=cfg.max_batch, value_range=cfg.value_range)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        with self.model_lock, torch.no_grad():
            logits = self.config.model(x.to(self.device)).float().cpu()
        return torch.softmax(logits, dim=1)


def _client_of(state: ServiceState, key: str | None) -> str:
    if not key:
        raise RequestError(401, "unauthorized", f"send your API key in the {API_KEY_HEADER} header.")
    client = state.config.api_keys.get(key)
    if client is None:
        raise RequestError(401, "unauthorized", "unknown API key.")
    return client


def _key_id(key: str | None) -> str | None:
    return hashlib.sha256(key.encode()).hexdigest()[:8] if key else None


MAX_PATH = 256  # characters of a request path kept in the log
INTERNAL = {
    "error": "internal",
    "message": "the service failed on this request; it has been logged.",
    "status": 500,
}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _new_record(state: ServiceState, key: str | None, request: Any) -> dict[str, Any]:  # noqa: ANN401
    return {
        "time": _now(),
        "run": state.run,
        "request_id": f"{state.run}-{next(state.ids)}",
        "client": state.config.api_keys.get(key or ""),
        "key_id": _key_id(key),
        "source": request.client.host if request.client else None,
        "method": request.method,
        "path": clip(request.url.path, MAX_PATH),
        "policy": state.config.policy,
        "status": 200,
        "error": None,
        "n": 0,
        "bytes": None,
        "input_sha256": None,
        "summary": None,
        "nearest_l2": None,
        "output": None,
        "remaining": None,
    }


def _suppressed_record(state: ServiceState, source: str, count: int) -> dict[str, Any]:
    """The summary line that stands for `count` throttled lines from `source`."""
    return {
        "time": _now(),
        "run": state.run,
        "request_id": None,
        "client": None,
        "source": source,
        "status": None,
        "error": "suppressed",
        "suppressed": count,
        "message": f"{count} audit line(s) of unauthenticated or unknown-path requests from {source} "
        "were not written (over the per-source log rate).",
    }


def _answer(
    state: ServiceState, record: dict[str, Any], client: str, raw: bytes
) -> tuple[dict[str, Any], int]:
    """Decode, validate, charge and predict (in a worker thread): the response body and the images
    charged. Raises RequestError for the client's mistakes; refunds the charge if anything fails."""
    cfg = state.config
    record["bytes"] = len(raw)
    record["input_sha256"] = hashlib.sha256(raw).hexdigest()
    try:
        x = state.validate(decode_body(raw, max_values=cfg.max_batch * math.prod(cfg.input_shape)))
    except InputValidationError as error:
        raise RequestError(422, "invalid_input", str(error)) from None
    except (RecursionError, OverflowError, TypeError) as error:
        raise RequestError(
            422,
            "invalid_input",
            f"the inputs could not be read as numbers ({type(error).__name__}: {error}).",
        ) from None
    n = len(x)
    record["n"] = n
    record["input_sha256"] = hashlib.sha256(x.numpy().tobytes()).hexdigest()
    record["summary"] = summarise_inputs(
        x, value_range=(0.0, 1.0) if cfg.input_shape == DIGIT_SHAPE else cfg.value_range
    )
    remaining = state.limits.spend(client, n)
    try:
        probabilities = state.predict(x)
        if not torch.isfinite(probabilities).all():
            raise RequestError(
                422,
                "invalid_input",
                "the model's output for these inputs is not finite; "
                "send values in the range it was trained on.",
            )
        released = apply_policy(probabilities, cfg.policy, decimals=cfg.decimals, top_k=cfg.top_k)
        labels = probabilities.argmax(dim=1).tolist()
        with state.memory_lock:
            record["nearest_l2"] = state.memory.nearest(client, x)
    except BaseException:
        state.limits.refund(client, n)
        raise
    confidence = None if released is None else released.max(dim=1).values.tolist()
    record["output"] = {"labels": labels, "confidence": confidence and [round(v, 4) for v in confidence]}
    record["remaining"] = remaining
    body = {
        "labels": labels,
        "probabilities": None if released is None else released.tolist(),
        "policy": cfg.policy,
        "remaining": remaining,
        "request_id": record["request_id"],
    }
    return body, n


def _refusal(record: dict[str, Any], error: RequestError) -> tuple[int, dict[str, Any], dict[str, str]]:
    record.update(status=error.status, error=error.kind, message=error.message)
    payload: dict[str, Any] = {"error": error.kind, "message": error.message, "status": error.status}
    headers = {}
    if error.retry_after is not None:
        payload["retry_after"] = error.retry_after
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return error.status, payload, headers


def _finish(
    state: ServiceState,
    record: dict[str, Any],
    started: float,
    outcome: tuple[int, dict[str, Any], dict[str, str]],
    *,
    client: str | None,
    charged: int = 0,
) -> tuple[int, bytes, dict[str, str]]:
    """Render the response, then log the request exactly once (in a worker thread). A request whose
    line cannot be written is not answered (500) and its charge is refunded: no answer without a log."""
    status, payload, headers = outcome
    try:
        content = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except ValueError as error:
        record.update(status=500, error="internal", message=f"response not serialisable: {error}")
        status, content, headers = 500, json.dumps(INTERNAL).encode(), {}
        if charged and client is not None:
            state.limits.refund(client, charged)
            charged = 0
    record["latency_ms"] = round(1000 * (time.perf_counter() - started), 3)
    try:
        if client is None or record["status"] == 404:  # nobody accountable: throttled per source
            allowed, suppressed = state.throttle.allow(str(record.get("source")))
            if suppressed:
                state.log.append(
                    _suppressed_record(state, str(record.get("source")), suppressed), durable=False
                )
            if allowed:
                state.log.append(record, durable=False)
        else:
            state.log.append(record, durable=status == 200)
    except Exception:  # noqa: BLE001 - the log is closed or the disk is full: refuse, do not answer
        if charged and client is not None:
            state.limits.refund(client, charged)
        message = "the service could not log this request, so it was not answered."
        return 500, json.dumps({**INTERNAL, "message": message}).encode(), {}
    return status, content, headers


def _handle(
    state: ServiceState, record: dict[str, Any], client: str, raw: bytes, started: float
) -> tuple[int, bytes, dict[str, str]]:
    """Everything after the body has arrived, in a worker thread."""
    charged = 0
    try:
        body, charged = _answer(state, record, client, raw)
        outcome: tuple[int, dict[str, Any], dict[str, str]] = (200, body, {})
    except RequestError as error:
        outcome = _refusal(record, error)
    except Exception as error:  # noqa: BLE001 - the service must keep serving
        record.update(status=500, error="internal", message=f"{type(error).__name__}: {error}")
        outcome = (500, INTERNAL, {})
    return _finish(state, record, started, outcome, client=client, charged=charged)


def build_app(state: ServiceState) -> Any:  # noqa: ANN401 - a FastAPI app
    """The FastAPI application: POST /predict, GET /health; every request but /health is audited.
    Decoding, validation, the model and the log run in the state's worker threads, never on the loop."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response

    cfg = state.config
    app = FastAPI(title="cheque reader prediction API", docs_url=None, redoc_url=None, openapi_url=None)

    async def off_loop(function: Any, *args: Any) -> Any:  # noqa: ANN401
        return await asyncio.get_running_loop().run_in_executor(state.pool, function, *args)

    def respond(result: tuple[int, bytes, dict[str, str]]) -> Response:
        status, content, headers = result
        return Response(content, status_code=status, headers=headers, media_type="application/json")

    # plain (starlette-style) routes: the handlers read the raw body themselves, to limit its size
    async def health(request: Any) -> JSONResponse:  # noqa: ANN401
        return JSONResponse(
            {
                "status": "ok",
                "model": cfg.model_name,
                "policy": cfg.policy,
                "input_shape": list(cfg.input_shape),
                "max_batch": cfg.max_batch,
                "max_body_bytes": cfg.max_body_bytes,
                "rate_limit": cfg.rate_limit,
                "budget": cfg.budget,
            }
        )

    async def anything(request: Any) -> Response:  # noqa: ANN401
        started = time.perf_counter()
        key = request.headers.get(API_KEY_HEADER)
        record = _new_record(state, key, request)
        error = RequestError(404, "not_found", "the API is POST /predict and GET /health.")
        client = record["client"]
        return respond(
            await off_loop(lambda: _finish(state, record, started, _refusal(record, error), client=client))
        )

    async def predict(request: Any) -> Response:  # noqa: ANN401
        started = time.perf_counter()
        key = request.headers.get(API_KEY_HEADER)
        record = _new_record(state, key, request)
        client = None
        try:
            client = _client_of(state, key)
            state.limits.admit(client)
            raw = await read_body(request, cfg.max_body_bytes, timeout=cfg.body_timeout)
        except RequestError as error:
            outcome = _refusal(record, error)
            return respond(await off_loop(lambda: _finish(state, record, started, outcome, client=client)))
        return respond(await off_loop(_handle, state, record, client, raw, started))

    app.add_route("/health", health, methods=["GET"])
    app.add_route("/predict", predict, methods=["POST"])
    app.add_route("/{path:path}", anything, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    return app
