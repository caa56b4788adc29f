"""Correct, stub and plausible-wrong answers for module 03's checks."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch
from safetensors.torch import load, load_file


def safe_load(path, *, sha256):
    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("hash mismatch")
    if data[:2] == b"PK" or data[:1] == b"\x80":
        raise ValueError("a pickle-based file")
    return load(data)


def safe_load_trusting_extension(path, *, sha256):
    path = Path(path)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("hash mismatch")
    if path.suffix != ".safetensors":
        raise ValueError("only .safetensors files")
    return load(data)


def safe_load_hashing_the_path(path, *, sha256):
    data = Path(path).read_bytes()
    if hashlib.sha256(str(path).encode()).hexdigest() != sha256:
        raise ValueError("hash mismatch")
    if data[:2] == b"PK" or data[:1] == b"\x80":
        raise ValueError("a pickle-based file")
    return load(data)


def safe_load_loading_anyway(path, *, sha256):
    data = Path(path).read_bytes()
    try:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError("hash mismatch")
        return load(data)
    except Exception:
        return torch.load(io.BytesIO(data))  # "weights_only is safe enough"


def safe_load_without_pin(path, *, sha256):
    data = Path(path).read_bytes()
    if data[:2] == b"PK" or data[:1] == b"\x80":
        raise ValueError("a pickle-based file")
    return load(data)


def safe_load_relying_on_the_parser(path, *, sha256):
    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("hash mismatch")
    return load_file(path)


ANSWERS = {
    "03.safe_load": (
        safe_load,
        [
            (safe_load_trusting_extension, "name of a file"),
            (safe_load_hashing_the_path, "path"),
            (safe_load_loading_anyway, "opened after all"),
            (safe_load_without_pin, "one bit"),
            (safe_load_relying_on_the_parser, "only because a parser failed"),
        ],
    ),
}
