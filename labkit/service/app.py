"""The cheque reader's prediction API as a FastAPI app: POST /predict and GET /health, every
request answered or refused with a clear message and audited once.

Threat model: untrusted clients who hold a valid API key and may send anything (malformed,
oversized, adversarial or extraction queries).
"""

import hashlib
import itertools
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from labkit.policy import apply_policy
from labkit.service.audit import AuditLog, QueryMemory, summarise_inputs
from labkit.service.client import API_KEY_HEADER
from labkit.service.limits import Limits
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


class ServiceState:
    """Mutable per-service state shared by request handlers: limits, query memory, request ids."""

    def __init__(self, config: ServiceConfig, log: AuditLog) -> None:
        self.config = config
        self.log = log
        self.limits = Limits(rate_limit=config.rate_limit, budget=config.budget)
        self.model_lock = threading.Lock()
        self.memory_lock = threading.Lock()
        self.memory = QueryMemory()
        self.ids = itertools.count(1)
        self.device = next(config.model.parameters()).device

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


def _new_record(state: ServiceState, key: str | None, request: Any) -> dict[str, Any]:  # noqa: ANN401
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "request_id": next(state.ids),
        "client": state.config.api_keys.get(key or ""),
        "key_id": _key_id(key),
        "method": request.method,
        "path": request.url.path,
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


def build_app(state: ServiceState) -> Any:  # noqa: ANN401 - a FastAPI app
    """The FastAPI application: POST /predict, GET /health; every /predict request is audited."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    cfg = state.config
    app = FastAPI(title="cheque reader prediction API", docs_url=None, redoc_url=None, openapi_url=None)

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

    async def anything(request: Any) -> JSONResponse:  # noqa: ANN401
        key = request.headers.get(API_KEY_HEADER)
        message = "the API is POST /predict and GET /health."
        state.log.append(
            {
                **_new_record(state, key, request),
                "status": 404,
                "error": "not_found",
                "message": message,
                "latency_ms": 0.0,
            }
        )
        return JSONResponse({"error": "not_found", "message": message, "status": 404}, status_code=404)

    async def predict(request: Any) -> JSONResponse:  # noqa: ANN401
        started = time.perf_counter()
        key = request.headers.get(API_KEY_HEADER)
        record = _new_record(state, key, request)
        client, spent = None, 0
        try:
            client = _client_of(state, key)
            state.limits.admit(client)
            raw = await read_body(request, cfg.max_body_bytes)
            record["bytes"] = len(raw)
            record["input_sha256"] = hashlib.sha256(raw).hexdigest()
            try:
                x = state.validate(decode_body(raw))
            except InputValidationError as error:
                raise RequestError(422, "invalid_input", str(error)) from None
            n = len(x)
            record["n"] = n
            record["input_sha256"] = hashlib.sha256(x.numpy().tobytes()).hexdigest()
            record["summary"] = summarise_inputs(
                x, value_range=(0.0, 1.0) if cfg.input_shape == DIGIT_SHAPE else cfg.value_range
            )
            remaining = state.limits.spend(client, n)
            spent = n
            probabilities = state.predict(x)
            released = apply_policy(probabilities, cfg.policy, decimals=cfg.decimals, top_k=cfg.top_k)
            labels = probabilities.argmax(dim=1)
            with state.memory_lock:
                record["nearest_l2"] = state.memory.nearest(client, x)
            confidence = None if released is None else released.max(dim=1).values.tolist()
            record["output"] = {
                "labels": labels.tolist(),
                "confidence": confidence and [round(v, 4) for v in confidence],
            }
            record["remaining"] = remaining
            body = {
                "labels": labels.tolist(),
                "probabilities": None if released is None else released.tolist(),
                "policy": cfg.policy,
                "remaining": remaining,
                "request_id": record["request_id"],
            }
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
                state.limits.refund(client, spent)
            record.update(status=500, error="internal", message=f"{type(error).__name__}: {error}")
            response = JSONResponse(
                {
                    "error": "internal",
                    "message": "the service failed on this request; it has been logged.",
                    "status": 500,
                },
                status_code=500,
            )
        record["latency_ms"] = round(1000 * (time.perf_counter() - started), 3)
        state.log.append(record)
        return response

    app.add_route("/health", health, methods=["GET"])
    app.add_route("/predict", predict, methods=["POST"])
    app.add_route("/{path:path}", anything, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    return app
