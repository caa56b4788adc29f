"""A small client for the cheque reader's prediction API (labkit.service), built on httpx.

Usable on its own: `Client("http://127.0.0.1:PORT", "demo-key").predict(images)`.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from labkit.service import arguments

API_KEY_HEADER = "X-API-Key"


class ServiceError(RuntimeError):
    """The service refused a request (4xx) or failed (5xx); `status` and `message` say why."""

    def __init__(self, status: int, message: str, *, kind: str = "error") -> None:
        super().__init__(f"HTTP {status} ({kind}): {message}")
        self.status = status
        self.message = message
        self.kind = kind


class RateLimited(ServiceError):
    """HTTP 429: this client sent too many requests per second or spent its query budget."""

    def __init__(
        self, status: int, message: str, *, kind: str = "rate_limited", retry_after: float | None = None
    ) -> None:
        super().__init__(status, message, kind=kind)
        self.retry_after = retry_after


class BudgetExceeded(RateLimited):
    """HTTP 429: this client's query budget (images over the service's life) is spent."""


@dataclass(frozen=True)
class Prediction:
    """What the service released for a batch: labels, probabilities as the policy allows them
    (None for label-only), the client's remaining budget and the policy's name."""

    labels: torch.Tensor
    probabilities: torch.Tensor | None
    remaining: int | None
    policy: str

    def __len__(self) -> int:
        return len(self.labels)


def encode_array(x: Any) -> dict[str, Any]:
    """A batch (tensor, array or nested lists) as the compact JSON body {"array": {dtype, shape, data}}."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().float().numpy() if x.dtype == torch.bfloat16 else x.detach().cpu().numpy()
    try:
        array = np.asarray(x)
    except (ValueError, TypeError):
        raise ValueError(
            "x must be a batch of numbers with one shape (ragged lists cannot be sent)."
        ) from None
    if array.dtype.kind not in "iuf":
        raise ValueError(f"x must hold numbers (not booleans), not values of dtype {array.dtype}.")
    if array.dtype != np.uint8:
        array = array.astype(np.float32)
    array = np.ascontiguousarray(array)
    return {
        "array": {
            "dtype": str(array.dtype),
            "shape": list(array.shape),
            "data": base64.b64encode(array.tobytes()).decode("ascii"),
        }
    }


def _error(response: Any) -> ServiceError:
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        pass
    if isinstance(body, dict):
        kind, message = str(body.get("error", "error")), str(body.get("message", body))
    else:
        kind, message = "error", response.text[:200] or response.reason_phrase
    if response.status_code == 429:
        retry = body.get("retry_after") if isinstance(body, dict) else None
        cls = BudgetExceeded if kind == "budget_exceeded" else RateLimited
        return cls(429, message, kind=kind, retry_after=retry)
    return ServiceError(response.status_code, message, kind=kind)


class Client:
    """Send image batches to the prediction API with an API key; counts the images answered.

    `wait_on_rate_limit=True` sleeps for the service's Retry-After and tries again instead of raising
    RateLimited (a budget that is spent still raises BudgetExceeded)."""

    def __init__(
        self, url: str, api_key: str, *, timeout: float = 30.0, wait_on_rate_limit: bool = False
    ) -> None:
        import httpx

        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be an http:// or https:// address, not {url!r}.")
        if not isinstance(api_key, str):
            raise ValueError(f"api_key must be a string, not {type(api_key).__name__}.")
        timeout = arguments.positive("timeout", timeout, what=" seconds")
        wait_on_rate_limit = arguments.flag("wait_on_rate_limit", wait_on_rate_limit)
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.wait_on_rate_limit = wait_on_rate_limit
        self.queries = 0  # images sent and answered
        self.requests = 0  # HTTP requests made, answered or not
        self.waited = 0.0  # seconds spent waiting for the rate limit
        self._http = httpx.Client(timeout=timeout, headers={API_KEY_HEADER: api_key})

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def health(self) -> dict[str, Any]:
        """The service's public description: model, policy, input shape, limits."""
        response = self._http.get(f"{self.url}/health")
        if response.status_code != 200:
            raise _error(response)
        return response.json()

    def post(
        self, body: bytes | dict[str, Any], *, path: str = "/predict", headers: dict[str, str] | None = None
    ) -> Any:  # noqa: ANN401 - an httpx.Response
        """Send a raw body (bytes, or a dict sent as JSON) and return the raw httpx response."""
        self.requests += 1
        if isinstance(body, dict):
            return self._http.post(f"{self.url}{path}", json=body, headers=headers)
        return self._http.post(
            f"{self.url}{path}", content=body, headers={"Content-Type": "application/json", **(headers or {})}
        )

    def _predict_once(self, x: Any) -> dict[str, Any]:
        body = encode_array(x)
        while True:
            response = self.post(body)
            if response.status_code == 200:
                return response.json()
            error = _error(response)
            if (
                isinstance(error, RateLimited)
                and not isinstance(error, BudgetExceeded)
                and self.wait_on_rate_limit
            ):
                pause = float(error.retry_after or 0.05)
                self.waited += pause
                time.sleep(pause)
                continue
            raise error

    def predict(self, x: Any, *, batch_size: int | None = None) -> Prediction:
        """Labels and released probabilities for a batch; large batches are split into
        requests of `batch_size` images. Raises ServiceError / RateLimited / BudgetExceeded."""
        if not hasattr(x, "__len__") or isinstance(x, (str, bytes, dict)):
            raise ValueError(f"x must be a batch of inputs (tensor, array or list), not {type(x).__name__}.")
        n = len(x)
        if n == 0:
            raise ValueError("predict() needs at least one input.")
        size = arguments.whole_or_none("batch_size", batch_size, low=1, what=" inputs per request") or n
        labels: list[torch.Tensor] = []
        probabilities: list[torch.Tensor] = []
        answer: dict[str, Any] = {}
        for start in range(0, n, size):
            chunk = x[start : start + size]
            answer = self._predict_once(chunk)
            self.queries += len(answer["labels"])
            labels.append(torch.tensor(answer["labels"], dtype=torch.long))
            if answer.get("probabilities") is not None:
                probabilities.append(torch.tensor(answer["probabilities"], dtype=torch.float32))
        return Prediction(
            labels=torch.cat(labels),
            probabilities=torch.cat(probabilities) if probabilities else None,
            remaining=answer.get("remaining"),
            policy=str(answer.get("policy", "")),
        )

    def __repr__(self) -> str:
        return f"Client({self.url!r}, queries={self.queries})"
