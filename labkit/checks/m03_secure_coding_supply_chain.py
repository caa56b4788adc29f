"""Hidden tests for module 03 (secure ML coding and the model supply chain).

The files the check hands to a learner's loader are harmless: the "pickles" among them are clean torch
checkpoints and plain pickled dicts, so a loader that wrongly opens them runs no foreign code.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from labkit.checks.framework import CheckFailed, exercise


def _files(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, pinned sha256) for the cases of 03.safe_load."""
    import pickle

    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(303)
    tensors = {"conv.weight": torch.randn(4, 1, 3, 3, generator=generator), "fc.bias": torch.zeros(10)}
    save_file(tensors, str(folder / "reader.safetensors"))
    shutil.copy(folder / "reader.safetensors", folder / "reader_weights.bin")  # safetensors, other name
    torch.save(tensors, folder / "checkpoint.safetensors")  # a torch zip (pickle inside), renamed
    torch.save(tensors, folder / "checkpoint.pt")
    (folder / "weights.safetensors").write_bytes(pickle.dumps({"fc.bias": [0.0] * 10}, protocol=4))
    pins = {p.name: (p, hashlib.sha256(p.read_bytes()).hexdigest()) for p in folder.iterdir()}
    genuine_pin = pins["reader.safetensors"][1]
    tampered = folder / "tampered.safetensors"
    data = bytearray((folder / "reader.safetensors").read_bytes())
    data[-3] ^= 0x40  # one bit of one weight: still a valid safetensors file
    tampered.write_bytes(bytes(data))
    pins["tampered.safetensors"] = (tampered, genuine_pin)  # the pin of the file it replaced
    return pins


def _call(safe_load: Any, path: Path, pin: str) -> tuple[str, Any]:  # noqa: ANN401
    """("loaded", value) or ("refused", error); NotImplementedError propagates."""
    try:
        return "loaded", safe_load(path, sha256=pin)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - the learner's refusal may be anything
        return "refused", error


@exercise(
    "03.safe_load",
    title="a loader that only trusts pinned safetensors bytes",
    hint="Decide with the bytes you hold, never with the file's name; compare those same bytes with the "
    "pin before any parser sees them; and once you refuse, nothing else may load the file.",
)
def _check_safe_load(safe_load: Any) -> str:  # noqa: ANN401
    import torch

    folder = Path(tempfile.mkdtemp(prefix="labkit-check-03-"))
    try:
        files = _files(folder)
        path, pin = files["reader.safetensors"]
        status, value = _call(safe_load, path, pin)
        if status == "refused":
            path_pin = hashlib.sha256(str(path).encode()).hexdigest()
            if _call(safe_load, path, path_pin)[0] == "loaded":
                raise CheckFailed(
                    "it refused a genuine file with the right pin, and accepted a pin computed from the "
                    "file's path: the digest must be over the file's content."
                )
            raise CheckFailed(
                f"it refused the genuine safetensors file with its correct pin ({value!r:.120})."
            )
        if not isinstance(value, dict) or set(value) != {"conv.weight", "fc.bias"}:
            raise CheckFailed(f"for a genuine file it should return the dict of tensors, got {value!r:.80}.")
        if not torch.equal(value["conv.weight"], torch.load(folder / "checkpoint.pt")["conv.weight"]):
            raise CheckFailed("the tensors it returned are not the ones stored in the file.")
        path, pin = files["reader_weights.bin"]
        if _call(safe_load, path, pin)[0] == "refused":
            raise CheckFailed(
                "it refused a genuine safetensors file because it is called reader_weights.bin: the "
                "name of a file says nothing about what its bytes are."
            )
        path, pin = files["tampered.safetensors"]
        if _call(safe_load, path, pin)[0] == "loaded":
            raise CheckFailed(
                "it loaded a file one bit of which changed since it was pinned: the pin was not checked, "
                "or a failed check did not stop the load."
            )
        for name in ("checkpoint.safetensors", "weights.safetensors", "checkpoint.pt"):
            path, pin = files[name]
            status, value = _call(safe_load, path, pin)
            if status == "loaded":
                raise CheckFailed(
                    f"it loaded {name}, whose bytes are a pickle (torch checkpoint or plain pickle) with a "
                    f"correct pin: a pickle-based file was opened after all."
                )
            if not isinstance(value, ValueError):
                raise CheckFailed(
                    f"it refused {name} only because a parser failed ({type(value).__name__}); refuse a "
                    f"pickle yourself, with a ValueError, before any parser reads it."
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return (
        "genuine bytes load whatever their name; a changed bit, a renamed torch checkpoint and a plain "
        "pickle are refused with ValueError."
    )


def reference_safe_load(path: Path | str, *, sha256: str) -> dict[str, Any]:
    """The reference for 03.safe_load: read once, check the pin, refuse non-safetensors, parse."""
    from safetensors.torch import load

    from labkit.release.scanning import sniff_format

    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256.lower():
        raise ValueError(f"{path}: its SHA-256 does not match the pinned {sha256[:12]}...")
    kind = sniff_format(data)
    if kind != "safetensors":
        raise ValueError(f"{path}: its bytes are {kind}, not safetensors; refusing to load it.")
    return load(data)
