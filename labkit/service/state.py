"""The prediction service's configuration and shared state: model, limits, query memory, request
ids (unique across restarts), worker threads, and the audit records every request starts from."""

import hashlib
import itertools
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from labkit.service.audit import AuditLog, QueryMemory, clip
from labkit.service.client import API_KEY_HEADER
from labkit.service.limits import Limits, LogThrottle
from labkit.service.requests import RequestError
from labkit.service.validation import validate_digit_batch, validate_vectors

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
    # injectable for simulations (labkit.response.scenario): wall-clock time of a request, the
    # monotonic timer its latency is measured with, and the run id its request ids start with
    clock: Callable[[], datetime] | None = None
    timer: Callable[[], float] | None = None
    run_id: str | None = None


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
        # request ids are f"{run}-{n}": unique across restarts
        self.run = config.run_id or secrets.token_hex(4)
        self.ids = itertools.count(1)
        self.device = next(config.model.parameters()).device
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labkit-serving")

    def close(self) -> None:
        """Finish queued work, log any suppressed-line counts and stop the worker threads."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        for source, count in self.throttle.drain().items():
            self.log.append(suppressed_record(self, source, count), durable=False)

    def now(self) -> str:
        """The time stamp of a record: UTC, ISO 8601 with milliseconds (from the injected clock if any)."""
        moment = datetime.now(timezone.utc) if self.config.clock is None else self.config.clock()
        return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")

    def timer(self) -> float:
        """Seconds on a monotonic timer, to measure latency (the injected timer if any)."""
        return time.perf_counter() if self.config.timer is None else float(self.config.timer())

    def validate(self, data: Any) -> torch.Tensor:  # noqa: ANN401
        cfg = self.config
        if cfg.input_shape == DIGIT_SHAPE:
            return validate_digit_batch(data, max_batch=cfg.max_batch)
        return validate_vectors(data, cfg.input_shape, max_batch=cfg.max_batch, value_range=cfg.value_range)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        with self.model_lock, torch.no_grad():
            logits = self.config.model(x.to(self.device)).float().cpu()
        return torch.softmax(logits, dim=1)


def client_of(state: ServiceState, key: str | None) -> str:
    if not key:
        raise RequestError(401, "unauthorized", f"send your API key in the {API_KEY_HEADER} header.")
    client = state.config.api_keys.get(key)
    if client is None:
        raise RequestError(401, "unauthorized", "unknown API key.")
    return client


def _key_id(key: str | None) -> str | None:
    return hashlib.sha256(key.encode()).hexdigest()[:8] if key else None


MAX_PATH = 256  # characters of a request path kept in the log


def new_record(state: ServiceState, key: str | None, request: Any) -> dict[str, Any]:  # noqa: ANN401
    return {
        "time": state.now(),
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


def suppressed_record(state: ServiceState, source: str, count: int) -> dict[str, Any]:
    """The summary line that stands for `count` throttled lines from `source`."""
    return {
        "time": state.now(),
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
