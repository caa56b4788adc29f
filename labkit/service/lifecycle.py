"""Running the prediction service: a real local HTTP server (uvicorn, loopback only) in a daemon
thread of the calling process, so it can never outlive the notebook's kernel.

    with serve("digits_cnn", policy="label", budget=1000) as service:
        prediction = service.client("demo-key").predict(images)

Threat model it is built for: untrusted clients who hold a valid API key and may send anything.
"""

import math
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from torch import nn

from labkit.policy import check_policy
from labkit.service import arguments
from labkit.service.app import DEFAULT_KEYS, DIGIT_SHAPE, ServiceConfig, ServiceState, build_app
from labkit.service.audit import AuditLog, read_audit_log
from labkit.service.client import Client


class Service:
    """A running prediction service: its URL, audit log, clients and shutdown."""

    def __init__(self, state: ServiceState, server: Any, thread: threading.Thread, port: int) -> None:  # noqa: ANN401
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
        return self._state.limits.images()

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
        self._state.close()
        self._state.log.close()

    def __repr__(self) -> str:
        return f"Service({self.url}, model={self.config.model_name!r}, policy={self.config.policy!r})"


def _resolve_model(
    model: str | nn.Module, input_shape: tuple[int, ...] | None
) -> tuple[nn.Module, str, tuple[int, ...]]:
    from labkit.models import DigitsCNN

    if isinstance(model, str):
        from labkit.zoo.registry import load_model, model_card

        card = model_card(model)
        module = load_model(model)
        digits = card["architecture"] == "DigitsCNN"
        default: tuple[int, ...] | None = DIGIT_SHAPE if digits else (int(card["config"]["in_features"]),)
        name = model
    elif isinstance(model, nn.Module):
        module, name = model.eval(), type(model).__name__
        default = DIGIT_SHAPE if isinstance(model, DigitsCNN) else None
    else:
        raise TypeError(f"serve() takes a zoo model name or an nn.Module, not {type(model).__name__}.")
    shape = input_shape if input_shape is not None else default
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
    body_timeout: float = 10.0,
    fsync: bool = True,
    startup_timeout: float = 20.0,
    clock: Callable[[], datetime] | None = None,
    timer: Callable[[], float] | None = None,
    run_id: str | None = None,
) -> Iterator[Service]:
    """Serve a zoo model (or an nn.Module with `input_shape`) on 127.0.0.1 at a free port until the
    `with` block ends. Digit models accept N x 1 x 28 x 28 in [0, 1]; other models N x input_shape of
    finite numbers (within `value_range` if given). Audit lines go to `log_path` (appended); a body
    must arrive within `body_timeout` seconds. Every argument is checked before anything starts.
    Simulations may inject `clock` (returns the aware datetime each record is stamped with), `timer`
    (monotonic seconds for latency) and `run_id` (the prefix of request ids) to make a log reproducible."""
    check_policy(policy, decimals=decimals, top_k=top_k)
    keys = arguments.api_keys(DEFAULT_KEYS if api_keys is None else api_keys)
    rate_limit = arguments.rate(rate_limit)
    budget = arguments.whole_or_none("budget", budget, low=0, what=" images")
    max_batch = arguments.whole("max_batch", max_batch, low=1, what=" inputs per request")
    input_shape = arguments.shape(input_shape)
    value_range = arguments.value_range(value_range)
    max_body_bytes = arguments.whole_or_none("max_body_bytes", max_body_bytes, low=64, what=" bytes")
    body_timeout = arguments.positive("body_timeout", body_timeout, what=" seconds")
    fsync = arguments.flag("fsync", fsync)
    startup_timeout = arguments.positive("startup_timeout", startup_timeout, what=" seconds")
    path = arguments.log_path(log_path)
    for name, hook in (("clock", clock), ("timer", timer)):
        if hook is not None and not callable(hook):
            raise ValueError(f"{name} must be a function of no arguments (or None), not {hook!r}.")
    if run_id is not None and (not isinstance(run_id, str) or not run_id.isalnum() or len(run_id) > 32):
        raise ValueError(f"run_id must be 1 to 32 letters or digits (or None), not {run_id!r}.")
    module, name, shape = _resolve_model(model, input_shape)
    per_input = math.prod(shape)
    config = ServiceConfig(
        model=module,
        model_name=name,
        input_shape=shape,
        policy=policy,
        decimals=decimals,
        top_k=top_k,
        api_keys=keys,
        rate_limit=rate_limit,
        budget=budget,
        max_batch=max_batch,
        # JSON numbers take up to ~24 characters each; base64 float32 takes under 6 bytes per value
        max_body_bytes=max_body_bytes or 4096 + 24 * per_input * max_batch,
        value_range=value_range,
        log_path=path or _default_log_path(name),
        body_timeout=body_timeout,
        clock=clock,
        timer=timer,
        run_id=run_id,
    )
    state = ServiceState(config, AuditLog(config.log_path, fsync=fsync))
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
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop="asyncio",
        http="h11",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=5,  # an idle kept-alive connection is closed after 5 s
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"labkit-serving-{port}"
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(
                f"the prediction service did not start on 127.0.0.1:{port} within "
                f"{timeout:g} s; see the messages above."
            )
        time.sleep(0.01)
    return server, thread, port
