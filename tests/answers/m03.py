"""Correct, stub and plausible-wrong answers for module 03's checks."""

from __future__ import annotations

import hashlib
import io
import pickle
import pickletools
import zipfile
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


# ---- 03.pickle_scan -----------------------------------------------------------------------------------

STRINGS = {
    "SHORT_BINUNICODE",
    "BINUNICODE",
    "BINUNICODE8",
    "UNICODE",
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
}


def _streams(data):
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(n) for n in archive.namelist() if n.endswith(".pkl")]
    return [data]


def _imports(stream, *, stack_global=True, memo_aware=True, swapped=False):
    """(module, name) of every import, with switches for the mistakes below."""
    pushed, memo, found = [], {}, []
    for opcode, arg, _ in pickletools.genops(stream):
        name = opcode.name
        if name in ("GLOBAL", "INST"):
            found.append(tuple(arg.split(" ", 1)))
        elif name == "STACK_GLOBAL" and stack_global:
            module, attr = pushed[-2:]
            found.append((attr, module) if swapped else (module, attr))
        if name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = pushed[-1] if pushed else None
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if memo_aware:
                pushed.append(memo.get(arg))
        elif name in STRINGS:
            pushed.append(arg)
        elif memo_aware:
            pushed.append(None)
    return found


def scan_pickle(data, *, allowed):
    found = {}
    for stream in _streams(data):
        for imported in _imports(stream):
            found[imported] = imported not in allowed
    return found


def scan_pickle_global_only(data, *, allowed):
    return {i: i not in allowed for s in _streams(data) for i in _imports(s, stack_global=False)}


def scan_pickle_ignoring_the_memo(data, *, allowed):
    return {i: i not in allowed for s in _streams(data) for i in _imports(s, memo_aware=False)}


def scan_pickle_swapping_module_and_name(data, *, allowed):
    return {i: i not in allowed for s in _streams(data) for i in _imports(s, swapped=True)}


def scan_pickle_ignoring_zip_files(data, *, allowed):
    return {i: i not in allowed for i in _imports(data)}


def scan_pickle_flagging_the_allowed_ones(data, *, allowed):
    return {i: i in allowed for s in _streams(data) for i in _imports(s)}


def scan_pickle_with_a_deny_list(data, *, allowed):
    bad = ("os", "system", "exec", "eval", "subprocess", "socket")
    found = {}
    for stream in _streams(data):
        for module, name in _imports(stream):
            found[module, name] = any(word in f"{module}.{name}" for word in bad)
    return found


def scan_pickle_matching_dotted_names(data, *, allowed):
    found = {}
    for stream in _streams(data):
        for module, name in _imports(stream):
            found[module, name] = f"{module}.{name}" not in allowed  # allowed holds (module, name) pairs
    return found


def scan_pickle_by_unpickling(data, *, allowed):
    found = {}

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            found[module, name] = (module, name) not in allowed
            return super().find_class(module, name)

    for stream in _streams(data):
        Recorder(io.BytesIO(stream)).load()
    return found


ANSWERS["03.pickle_scan"] = (
    scan_pickle,
    [
        (scan_pickle_global_only, "STACK_GLOBAL"),
        (scan_pickle_ignoring_the_memo, "memo"),
        (scan_pickle_swapping_module_and_name, "wrong way round"),
        (scan_pickle_ignoring_zip_files, "zip archive"),
        (scan_pickle_with_a_deny_list, "not on the allow-list"),
        (scan_pickle_matching_dotted_names, "which is on the allow-list"),
        (scan_pickle_by_unpickling, "unpickled"),
        (scan_pickle_flagging_the_allowed_ones, "wrong way round: True"),
    ],
)
