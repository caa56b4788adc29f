"""Module 03's pickle-scanner exercise: the reference agrees with picklescan, the check's streams call nothing
but allowed constructors and the check's own tripwire, and the notebook's claims about torch and picklescan
hold."""

from __future__ import annotations

import inspect
import io
import pickle

import pytest
from picklescan.scanner import scan_pickle_bytes

from labkit.checks.m03_pickle_scan import (
    _TRIPPED,
    ALLOWED_GLOBALS,
    _cases,
    _pickle_streams,
    reference_scan_pickle,
)
from labkit.release.scanning import write_malicious_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")


def _picklescan_imports(data: bytes) -> set[tuple[str, str]]:
    found = set()
    for stream in _pickle_streams(data):
        result = scan_pickle_bytes(io.BytesIO(stream), "case", multiple_pickles=False)
        found |= {(g.module, g.name) for g in result.globals}
    return found


def test_the_reference_lists_the_same_imports_as_picklescan(tmp_path):
    streams = {name: data for name, (data, _) in _cases().items()}
    for container in ("torch", "pickle"):
        path = write_malicious_checkpoint(
            tmp_path / container, marker=tmp_path / "marker", container=container
        )
        streams[container] = path.read_bytes()
    for name, data in streams.items():
        assert set(reference_scan_pickle(data, allowed=ALLOWED_GLOBALS)) == _picklescan_imports(data), name
    assert not (tmp_path / "marker").exists()


def test_the_reference_flags_what_is_off_the_allow_list_and_unreadable_operands():
    cases = _cases()
    clean, allowed = cases["clean torch"]
    assert reference_scan_pickle(clean, allowed=allowed) and not any(
        reference_scan_pickle(clean, allowed=allowed).values()
    )
    found = reference_scan_pickle(cases["memo"][0], allowed=ALLOWED_GLOBALS)
    assert found[("builtins", "exec")] and found[("builtins", "eval")]
    assert not found[("collections", "OrderedDict")]
    # STACK_GLOBAL over an integer and a string: operands it cannot read are reported and flagged
    odd = b"\x80\x04K\x01\x8c\x06system\x93."
    assert reference_scan_pickle(odd, allowed=ALLOWED_GLOBALS) == {("?", "system"): True}
    with pytest.raises(TypeError, match="data"):
        reference_scan_pickle("not bytes", allowed=ALLOWED_GLOBALS)  # type: ignore[arg-type]


class _Recorder(pickle.Unpickler):
    """Unpickles with every import replaced by a stub that records being called: nothing real runs."""

    called: set[tuple[str, str]]

    def find_class(self, module: str, name: str):  # noqa: ANN201
        def stub(*args, **kwargs):
            self.called.add((module, name))
            return {}

        return stub

    def persistent_load(self, pid):  # noqa: ANN201
        return None


def test_the_check_streams_call_nothing_but_the_tripwire():
    before = len(_TRIPPED)
    for name, (data, _) in _cases().items():
        for stream in _pickle_streams(data):
            recorder = _Recorder(io.BytesIO(stream))
            recorder.called = set()
            recorder.load()
            # only allowed constructors and the tripwire are called; exec, runpy... are only referenced
            assert recorder.called <= ALLOWED_GLOBALS | {("labkit.checks.m03_pickle_scan", "_tripwire")}, name
    assert len(_TRIPPED) == before


def test_the_notebook_claims_about_load_from_bytes_and_picklescan_hold():
    import picklescan.scanner
    import torch.storage

    source = inspect.getsource(torch.storage._load_from_bytes)
    assert "torch.load" in source and "weights_only=False" in source
    deny = picklescan.scanner._unsafe_globals
    assert "load" in deny["torch.serialization"]
    assert "torch.storage" not in deny
