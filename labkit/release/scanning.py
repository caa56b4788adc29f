"""Untrusted model files: what their bytes are, a checkpoint that runs code, and loading one in a sandbox.

Threat model: the attacker publishes or swaps a model file (a hub upload, a compromised bucket, a
dependency that downloads weights). They control every byte of it and its name, nothing else. A pickle
(and a torch .pt/.pth/.bin checkpoint, which is a zip holding a pickle) can call any importable function
while it is unpickled, so opening it with `torch.load(..., weights_only=False)` runs their code with the
loader's rights. The course builds such a file with a harmless payload (it writes one marker file) and
opens it only in a separate Python process, never in the notebook's own.
"""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from labkit import validate as v

FORMATS = ("safetensors", "torch-zip", "pickle", "numpy", "empty", "unknown")
LOADERS = ("torch-unsafe", "torch", "safetensors")


def sniff_format(data: bytes) -> str:
    """What the bytes are, by content (never by name): one of FORMATS.

    safetensors: an 8-byte little-endian header length, then a JSON header that fits in the file;
    torch-zip: a zip archive (torch.save's format, holding data.pkl); pickle: protocol 2+ opcode PROTO
    (or protocol 0/1's usual first opcodes); numpy: the .npy magic.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes (a file's content), not {type(data).__name__}.")
    data = bytes(data[:16]) if len(data) >= 16 else bytes(data)
    return _sniff(data, None)


def _sniff(head: bytes, size: int | None) -> str:
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "torch-zip"
    if head.startswith(b"\x93NUMPY"):
        return "numpy"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{":
        length = int.from_bytes(head[:8], "little")
        if size is None or 8 + length <= size:
            return "safetensors"
    if head[:1] in (b"(", b"]", b"}", b"c"):  # protocol 0/1: MARK, EMPTY_LIST, EMPTY_DICT, GLOBAL
        return "pickle"
    return "unknown"


def file_format(path: Path | str) -> str:
    """`sniff_format` of a file's first bytes (and its size): one of FORMATS."""
    path = v.path("path", path, exists="file")
    with path.open("rb") as handle:
        head = handle.read(16)
        size = os.fstat(handle.fileno()).st_size
    return _sniff(head, size)


def _payload_source(marker: Path) -> str:
    # The only thing the payload does: write one marker file. A real one would open a shell.
    return f"open({str(marker)!r}, 'w').write('this file was written by unpickling a model file')"


class _Payload:
    """Pickles as "call builtins.exec(source)": unpickling runs `source`. Pickling runs nothing."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (builtins.exec, (self.source,))


def write_malicious_checkpoint(path: Path | str, *, marker: Path | str, container: str = "torch") -> Path:
    """Write a checkpoint that looks like cheque-reader weights and, when unpickled, writes `marker`.

    `container` "torch" writes a torch.save zip (a .pt file), "pickle" a bare pickle. Writing it runs
    nothing; only unpickling does. Open it with `load_in_subprocess`, never in this process.
    """
    import pickle

    import torch

    path = v.path("path", path)
    marker = v.path("marker", marker)
    v.choice("container", container, ("torch", "pickle"))
    if not marker.is_absolute() or not marker.parent.is_dir():
        raise ValueError(f"marker must be an absolute path in an existing directory, not {str(marker)!r}.")
    state = {"fc.weight": torch.zeros(10, 4), "fc.bias": torch.zeros(10)}
    checkpoint = {"state_dict": state, "config": _Payload(_payload_source(marker))}
    if container == "torch":
        torch.save(checkpoint, path)
    else:
        path.write_bytes(pickle.dumps(checkpoint, protocol=4))
    return path


# Runs in a fresh process: opens the file with each loader in turn (the marker removed before each) and
# prints one line per loader: whether it loaded, whether the marker appeared, the error if any.
_LOAD = r"""
import json, os, sys
path, marker, loaders = sys.argv[1], sys.argv[2], sys.argv[3:]
for loader in loaders:
    if os.path.exists(marker):
        os.remove(marker)
    try:
        if loader == "safetensors":
            from safetensors.torch import load_file
            result = load_file(path)
        else:
            import torch
            result = torch.load(path, map_location="cpu", weights_only=(loader == "torch"))
        loaded, message = True, f"returned a {type(result).__name__}"
    except Exception as error:
        first = str(error).replace("\x1b[1m", "").replace("\x1b[0m", "").splitlines()
        loaded, message = False, f"{type(error).__name__}: {first[0][:240] if first else ''}"
    ran = os.path.exists(marker)
    print("labkit-json " + json.dumps({"loader": loader, "loaded": loaded, "ran": ran, "message": message}))
"""


@dataclass(frozen=True)
class LoadOutcome:
    """What happened when a separate process opened a file with one loader."""

    loader: str
    loaded: bool
    marker_written: bool
    message: str

    def summary(self) -> str:
        """One line: loader, loaded or refused, and whether the payload ran."""
        ran = "the payload RAN (marker written)" if self.marker_written else "the payload did not run"
        return f"{self.loader:12s} {'loaded' if self.loaded else 'refused'}; {ran}. {self.message}"


def load_in_subprocess(
    path: Path | str,
    *,
    marker: Path | str,
    loaders: Sequence[str] = ("torch-unsafe",),
    timeout: float = 120.0,
) -> list[LoadOutcome]:
    """Open `path` with each loader, in order, in ONE separate Python process (cwd: a fresh temporary
    directory); one LoadOutcome per loader.

    Loaders: "torch-unsafe" is `torch.load(weights_only=False)` (full unpickling), "torch" is the default
    `torch.load` (weights_only=True), "safetensors" is `safetensors.torch.load_file`. The marker is
    removed before each loader, so `marker_written` says whether that loader ran the file's code (in the
    other process). There is deliberately no in-process variant.
    """
    path = v.path("path", path, exists="file")
    marker = v.path("marker", marker)
    if isinstance(loaders, str) or not isinstance(loaders, Sequence) or not loaders:
        raise TypeError(
            f"loaders must be a non-empty list of loader names ({', '.join(LOADERS)}), not {loaders!r}."
        )
    for loader in loaders:
        v.choice("loaders", loader, LOADERS)
    v.positive_float("timeout", timeout)
    if not marker.is_absolute():
        raise ValueError(f"marker must be an absolute path, not {str(marker)!r}.")
    marker.unlink(missing_ok=True)
    env = {k: val for k, val in os.environ.items() if k in ("PATH", "PYTHONPATH", "HOME", "LANG")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory(prefix="labkit-untrusted-") as sandbox:
        done = subprocess.run(
            [sys.executable, "-c", _LOAD, str(path.resolve()), str(marker), *loaders],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=sandbox,
            env=env,
            check=False,
        )
    found = {}
    for line in done.stdout.splitlines():
        if line.startswith("labkit-json "):
            item = json.loads(line.removeprefix("labkit-json "))
            found[item["loader"]] = item
    outcomes = []
    for loader in loaders:
        item = found.get(loader)
        if item is None:  # the process died before answering: report it, and what the marker says
            crash = f"no answer (exit code {done.returncode}): {done.stderr.strip()[-240:]}"
            outcomes.append(LoadOutcome(loader, False, marker.exists(), crash))
        else:
            outcomes.append(LoadOutcome(loader, item["loaded"], item["ran"], item["message"]))
    return outcomes
