"""The cheque reader's prediction API as a FastAPI app: POST /predict and GET /health, every
request answered or refused with a clear message and audited once.

Threat model: untrusted clients who hold a valid API key and may send anything (malformed,
oversized, adversarial or extraction queries).
"""

import asyncio
import hashlib
import json
import math
from typing import Any

import torch

from labkit.policy import apply_policy
from labkit.service.audit import summarise_inputs
from labkit.service.client import API_KEY_HEADER
from labkit.service.requests import RequestError, decode_body, read_body
from labkit.service.state import (
    DEFAULT_KEYS,
    DIGIT_SHAPE,
    ServiceConfig,
    ServiceState,
    client_of,
    new_record,
    suppressed_record,
)
from labkit.service.validation import InputValidationError

__all__ = ["DEFAULT_KEYS", "DIGIT_SHAPE", "ServiceConfig", "ServiceState", "build_app"]

INTERNAL = {
    "error": "internal",
    "message": "the service failed on this request; it has been logged.",
    "status": 500,
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
    record["latency_ms"] = round(1000 * (state.timer() - started), 3)
    try:
        if client is None or record["status"] == 404:  # nobody accountable: throttled per source
            allowed, suppressed = state.throttle.allow(str(record.get("source")))
            if suppressed:
                state.log.append(
                    suppressed_record(state, str(record.get("source")), suppressed), durable=False
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
        started = state.timer()
        key = request.headers.get(API_KEY_HEADER)
        record = new_record(state, key, request)
        error = RequestError(404, "not_found", "the API is POST /predict and GET /health.")
        client = record["client"]
        return respond(
            await off_loop(lambda: _finish(state, record, started, _refusal(record, error), client=client))
        )

    async def predict(request: Any) -> Response:  # noqa: ANN401
        started = state.timer()
        key = request.headers.get(API_KEY_HEADER)
        record = new_record(state, key, request)
        client = None
        try:
            client = client_of(state, key)
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
