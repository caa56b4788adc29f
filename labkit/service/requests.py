"""Reading a prediction request: the body within its size limit, decoded into an array, or a
RequestError that says what was wrong (HTTP status, kind, message).
"""

import asyncio
import base64
import binascii
import json
import math
from typing import Any

import numpy as np

from labkit.service import arguments

MAX_MESSAGE = 500  # characters of an error message (which may quote the client's input)


class RequestError(Exception):
    """A request the service refuses: HTTP status, a machine-readable kind and a helpful message."""

    def __init__(self, status: int, kind: str, message: str, *, retry_after: float | None = None) -> None:
        if len(message) > MAX_MESSAGE:
            message = f"{message[:MAX_MESSAGE]}...(+{len(message) - MAX_MESSAGE} characters)"
        super().__init__(message)
        self.status, self.kind, self.message, self.retry_after = status, kind, message, retry_after


_DTYPES = {"float32": np.float32, "float64": np.float64, "uint8": np.uint8}


def decode_body(raw: bytes, *, max_values: int | None = None) -> Any:  # noqa: ANN401 - lists or an array
    """The inputs of a JSON body ({"inputs": lists} or {"array": {dtype, shape, data}}), or a
    RequestError (400 for unreadable JSON, 422 for an array that does not add up). A body with more
    separators than `max_values` numbers in non-empty lists can have is refused before it is parsed
    (parsing holds the interpreter lock: a huge body must not stall the service)."""
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError(f"raw must be the request body as bytes, not {type(raw).__name__}.")
    max_values = arguments.whole_or_none("max_values", max_values, low=1, what=" numbers")
    if max_values is not None and raw.count(b",") > 2 * max_values + 16:
        raise RequestError(
            422,
            "invalid_input",
            f"the body holds far more than the {max_values} numbers a request may carry; send fewer inputs.",
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, "bad_request", f"the body is not valid JSON ({error}).") from None
    except RecursionError:
        raise RequestError(
            400, "bad_request", "the JSON is nested too deeply; send at most 4 levels of lists."
        ) from None
    if not isinstance(body, dict) or not ({"inputs", "array"} & set(body)):
        raise RequestError(
            400,
            "bad_request",
            'send a JSON object with "inputs" (nested lists of '
            'numbers) or "array" ({"dtype", "shape", "data": base64}).',
        )
    if "inputs" in body:
        return body["inputs"]
    spec = body["array"]
    if not isinstance(spec, dict) or not {"dtype", "shape", "data"} <= set(spec):
        raise RequestError(400, "bad_request", '"array" needs "dtype", "shape" and "data" (base64).')
    if not isinstance(spec["dtype"], str) or spec["dtype"] not in _DTYPES:
        raise RequestError(
            422,
            "invalid_input",
            f"array dtype {spec['dtype']!r} is not accepted; use one of {', '.join(_DTYPES)}.",
        )
    shape = spec["shape"]
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 4
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
    ):
        raise RequestError(
            422, "invalid_input", f"array shape {shape!r} must be a list of 1 to 4 non-negative integers."
        )
    if not isinstance(spec["data"], str):
        raise RequestError(422, "invalid_input", "array data must be a base64 string.")
    try:
        data = base64.b64decode(spec["data"], validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "bad_request", "array data is not valid base64.") from None
    dtype = np.dtype(_DTYPES[spec["dtype"]])
    expected = math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise RequestError(
            422,
            "invalid_input",
            f"array data holds {len(data)} bytes but shape {shape} of {dtype} needs {expected}.",
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


async def read_body(request: Any, limit: int, *, timeout: float) -> bytes:  # noqa: ANN401 - a starlette Request
    """The whole body, or a RequestError: 413 over `limit` bytes, 408 if it takes over `timeout` s."""
    try:
        return await asyncio.wait_for(_read(request, limit), timeout)
    except asyncio.TimeoutError:
        raise RequestError(
            408, "timeout", f"the body did not arrive within {timeout:g} s; send it in one go."
        ) from None


async def _read(request: Any, limit: int) -> bytes:  # noqa: ANN401 - a starlette Request
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(
            413,
            "too_large",
            f"the body is {int(declared)} bytes; the limit is {limit} (send fewer inputs per request).",
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(
                413,
                "too_large",
                f"the body exceeds the limit of {limit} bytes (send fewer inputs per request).",
            )
        chunks.append(chunk)
    return b"".join(chunks)
