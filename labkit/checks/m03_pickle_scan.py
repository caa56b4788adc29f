"""Hidden test for module 03's pickle scanner: list the imports a pickle would perform, by reading its
opcodes (`pickletools.genops`), and flag every one that is not on an allow-list.

Every stream the check hands to a learner's scanner is built here, in memory, and is harmless if it is
unpickled after all: the only function any of them calls is `_tripwire` below, which appends to a list
this module owns, so an answer that unpickles is caught by the list growing. The dangerous names
(builtins.exec, runpy._run_code, ...) are only referenced, never called.
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from collections.abc import Collection
from typing import Any

from labkit.checks.framework import CheckFailed, exercise

# What a torch checkpoint of plain tensors needs to be rebuilt, and nothing else (the spirit of
# picklescan's safe globals and of torch's weights-only allow-list).
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
    }
    | {("torch", f"{kind}Storage") for kind in ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Bool")}
    | {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype")}
)
STRING_OPCODES = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}
)
_TRIPPED: list[object] = []  # grows only if something unpickles a stream built below


def _tripwire(*args: object) -> None:
    """The only function the check's streams call: it records that a stream was unpickled."""
    _TRIPPED.append(args)


def _pickle_streams(data: bytes) -> list[bytes]:
    """The pickles in a file's bytes: the .pkl members of a torch zip, or the bytes themselves."""
    from labkit.release.scanning import sniff_format

    if sniff_format(data) == "torch-zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(name) for name in archive.namelist() if name.endswith(".pkl")]
    return [data]


def reference_scan_pickle(
    data: bytes, *, allowed: Collection[tuple[str, str]]
) -> dict[tuple[str, str], bool]:
    """The reference for 03.pickle_scan: every (module, name) the pickle in `data` (raw, or inside a torch
    zip) would import, mapped to True when it is not in `allowed` (flagged). Reads opcodes only.

    GLOBAL/INST carry "module name"; STACK_GLOBAL pops the two values pushed before it (module, then
    name), which may come back from the memo (BINGET). A STACK_GLOBAL whose operands are not known strings
    is reported as ("?", "?") and flagged: what cannot be read is not allowed.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be the bytes of a file, not {type(data).__name__}.")
    found: dict[tuple[str, str], bool] = {}
    for stream in _pickle_streams(bytes(data)):
        pushed: list[str | None] = []  # per opcode, the string it left on the stack (None: not a string)
        memo: dict[int, str | None] = {}
        for opcode, arg, _ in pickletools.genops(stream):
            name, imported = opcode.name, None
            if name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                imported = (module, attr)
            elif name == "STACK_GLOBAL":
                module_or_none, attr_or_none = pushed[-2:] if len(pushed) >= 2 else (None, None)
                imported = (module_or_none or "?", attr_or_none or "?")
            if name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = pushed[-1] if pushed else None  # type: ignore[arg-type]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                pushed.append(memo.get(int(arg)))  # type: ignore[arg-type]
            else:
                pushed.append(str(arg) if name in STRING_OPCODES else None)
            if imported is not None:
                found[imported] = imported not in allowed
    return found


class _Call:
    """Pickles as "call function(*args)"; pickling it runs nothing."""

    def __init__(self, function: object, *args: object) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (self.function, self.args)


def _cases() -> dict[str, tuple[bytes, frozenset[tuple[str, str]]]]:
    """name -> (bytes, allow-list). All built in memory; the only callable any of them calls is _tripwire."""
    import builtins
    import collections
    import pickle

    import torch

    weights = collections.OrderedDict(
        [("pos_embedding.weight", torch.zeros(2, 3)), ("fc.bias", torch.arange(3.0))]
    )
    floats = collections.OrderedDict([("fc.bias", 0.5), ("fc.scale", 2.0)])
    cases = {}
    cases["raw protocol 2"] = pickle.dumps(
        {"fc.bias": [0.0, 1.0], "hook": _Call(_tripwire, "p2")}, protocol=2
    )
    cases["raw protocol 4"] = pickle.dumps({"state": floats, "hook": _Call(_tripwire, "p4")}, protocol=4)
    cases["memo"] = pickle.dumps({"config": (builtins.exec, builtins.eval), "state": floats}, protocol=4)
    clean, payload = io.BytesIO(), io.BytesIO()
    torch.save(weights, clean)
    torch.save({"state_dict": weights, "config": _Call(_tripwire, "pt")}, payload)
    cases["clean torch"], cases["malicious torch"] = clean.getvalue(), payload.getvalue()
    # A team's own class on its allow-list next to a code runner; hand-written, no REDUCE (nothing called).
    cases["own class"] = b"\x80\x02ccheque_reader.postprocessing\nAmountDecoder\ncrunpy\n_run_code\n\x86."
    own = ALLOWED_GLOBALS | {("cheque_reader.postprocessing", "AmountDecoder")}
    return {name: (data, own if name == "own class" else ALLOWED_GLOBALS) for name, data in cases.items()}


def _scan(scan_pickle: Any, case: str, data: bytes, allowed: frozenset[tuple[str, str]]) -> dict:  # noqa: ANN401
    """The learner's result on one case, checked for shape; CheckFailed if it unpickled or raised."""
    before, error = len(_TRIPPED), None
    try:
        result = scan_pickle(data, allowed=set(allowed))
    except NotImplementedError:
        raise
    except Exception as raised:  # noqa: BLE001 - the learner's failure may be anything
        result, error = None, raised
    if len(_TRIPPED) > before:
        raise CheckFailed(
            f"on the {case} case the pickle's own function ran while your scanner looked at it: the stream "
            "was unpickled (pickle.load, an Unpickler subclass, torch.load...), which executes a payload "
            "before anything can judge it."
        )
    if error is not None:
        where = " (a torch .pt file: a zip archive, whose bytes are not a pickle)" if "torch" in case else ""
        raise CheckFailed(f"on the {case} case{where} it raised {type(error).__name__}: {str(error)[:120]}")
    if result is None:
        raise CheckFailed("it returned None: is a `return` missing?")
    if not isinstance(result, dict):
        raise CheckFailed(
            f"it should return a dict {{(module, name): flagged}}, got {type(result).__name__}."
        )
    for key, value in result.items():
        if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key)):
            raise CheckFailed(f"each key should be a (module, name) pair of strings, got {key!r:.80}.")
        if not isinstance(value, bool):
            raise CheckFailed(f"each value should be True (flagged) or False (allowed), got {value!r:.40}.")
    return result


def _diagnose(case: str, got: dict, expected: dict) -> None:
    """CheckFailed naming the first way `got` differs from `expected` on one case."""
    if got == expected:
        return
    if not got and "torch" in case:
        raise CheckFailed(
            f"it found no import at all in the {case} checkpoint: a torch .pt file is a zip archive, and "
            "the opcodes are not its raw bytes."
        )
    swapped = {(name, module) for module, name in expected}
    if set(got) == swapped:
        raise CheckFailed(
            f"on the {case} case it reports {sorted(got)[0]}: module and name come out the wrong way round "
            "(in which order were they pushed before STACK_GLOBAL?)."
        )
    missing, extra = set(expected) - set(got), set(got) - set(expected)
    if missing and case in ("raw protocol 4", "memo") and not (set(got) & set(expected)):
        raise CheckFailed(
            f"in a protocol-4 pickle it found none of {sorted(missing)}: since protocol 4, imports are "
            "STACK_GLOBAL opcodes, whose module and name are not in the opcode's own argument."
        )
    if case == "memo" and missing:
        raise CheckFailed(
            f"it reports {sorted(extra)} instead of {sorted(missing)}: the second import's module string "
            "was not pushed again, it came back from the memo (BINGET), as repeated strings do."
        )
    if missing or extra:
        raise CheckFailed(
            f"on the {case} case it reports the imports {sorted(got)}; the pickle performs "
            f"{sorted(expected)}."
        )
    for key in sorted(expected):
        if got[key] and not expected[key]:
            part = " (it merely contains the letters 'os')" if "os" in ".".join(key) else ""
            raise CheckFailed(
                f"on the {case} case it flagged {key[0]}.{key[1]}, which is on the allow-list it was "
                f"given{part}."
            )
        if not got[key] and expected[key]:
            raise CheckFailed(
                f"on the {case} case it let {key[0]}.{key[1]} through, which is not on the allow-list: a "
                "list of known-bad names only catches the names it knows."
            )


@exercise(
    "03.pickle_scan",
    title="a pickle scanner that reads opcodes and flags imports off the allow-list",
    hint="Ask of your scanner: does it only read opcodes, which opcodes import something and where do "
    "their module and name come from, where is the pickle in a torch file, and what decides a flag?",
)
def _check_pickle_scan(scan_pickle: Any) -> str:  # noqa: ANN401
    cases = _cases()
    results = []
    for case, (data, allowed) in cases.items():
        results.append(
            (case, _scan(scan_pickle, case, data, allowed), reference_scan_pickle(data, allowed=allowed))
        )
    if all(got == {key: not flag for key, flag in expected.items()} for _, got, expected in results):
        raise CheckFailed(
            "it finds exactly the right imports, but every flag is the wrong way round: True should mark an "
            "import that is not on the allow-list."
        )
    for case, got, expected in results:
        _diagnose(case, got, expected)
    return (
        f"the same imports and flags as labkit's reference on {len(cases)} streams (protocols 2 and 4, memo, "
        "clean and malicious torch checkpoints, a team's own allowed class), and nothing was unpickled."
    )
