"""`labkit doctor`: is this machine ready for the course? Says what to do about anything wrong."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report."""

    ok: bool
    what: str
    detail: str


def _version(module: str) -> Finding:
    if module == "foolbox":
        os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    try:
        mod = importlib.import_module(module)
        return Finding(True, module, getattr(mod, "__version__", "installed"))
    except Exception as error:  # noqa: BLE001 - report any import failure
        return Finding(False, module, f"cannot be imported ({error}). Run `make lab` to reinstall.")


def diagnose() -> list[Finding]:
    """Run every check: Python, libraries, device, shipped data and zoo models, progress dir."""
    findings = [
        Finding(
            sys.version_info >= (3, 10),
            "python",
            platform.python_version() + ("" if sys.version_info >= (3, 10) else " (3.10 or newer is needed)"),
        )
    ]
    findings += [_version(m) for m in ("torch", "torchvision", "foolbox", "safetensors", "sklearn")]
    try:
        from labkit.runtime import get_device

        device = get_device()
        note = "" if device.type != "cpu" else " (no GPU: everything runs, heavy sweeps are slower)"
        findings.append(Finding(True, "device", f"{device}{note}"))
    except Exception as error:  # noqa: BLE001
        findings.append(Finding(False, "device", str(error)))
    try:
        from labkit.runtime import choose_threads

        choice = choose_threads()  # reported, not applied: notebooks call configure_threads()
        findings.append(Finding(True, "threads", f"{choice.threads} ({choice.reason})"))
    except ValueError as error:  # a malformed LABKIT_THREADS
        findings.append(Finding(False, "threads", str(error)))
    manifest_ok = False
    try:
        from labkit.integrity import MANIFEST_NAME, PUBLIC_KEY_FINGERPRINT, signature_problem, verify_all
        from labkit.paths import datasets_dir

        findings.append(Finding(True, "datasets", str(datasets_dir())))
        problem = signature_problem()  # first: a hash pinned by a forged manifest proves nothing
        signed = f"signed by the course key {PUBLIC_KEY_FINGERPRINT[:16]}…"
        findings.append(Finding(problem is None, f"datasets/{MANIFEST_NAME}", problem or signed))
        manifest_ok = problem is None
        if manifest_ok:
            for name, trouble in verify_all():
                findings.append(Finding(trouble is None, f"datasets/{name}", trouble or "SHA-256 ok"))
    except Exception as error:  # noqa: BLE001
        findings.append(Finding(False, "datasets", str(error)))
    from labkit.zoo.registry import SPECS, load_model, model_card

    for name in SPECS:
        if not manifest_ok:
            findings.append(
                Finding(False, f"zoo/{name}", "not loaded: the data manifest did not verify (above)")
            )
            continue
        try:
            load_model(name, device="cpu")
            card = model_card(name)
            findings.append(Finding(True, f"zoo/{name}", f"loads; test accuracy {card['test_accuracy']:.1%}"))
        except Exception as error:  # noqa: BLE001
            findings.append(Finding(False, f"zoo/{name}", str(error)))
    try:
        from labkit.course.progress import progress_path

        path = progress_path()
        probe = path.parent / ".write-test"
        probe.write_text("ok")
        probe.unlink()
        findings.append(Finding(True, "progress file", str(path)))
    except OSError as error:
        findings.append(Finding(False, "progress file", f"{error}; set LABKIT_HOME to a writable directory."))
    return findings


def format_findings(findings: list[Finding]) -> str:
    """The doctor's report as text, with a verdict line."""
    if not isinstance(findings, (list, tuple)) or not all(isinstance(f, Finding) for f in findings):
        raise TypeError(f"findings must be the list of Finding that diagnose() returns, not {findings!r}.")
    lines = [f"{'✔' if f.ok else '✘'} {f.what:<42} {f.detail}" for f in findings]
    bad = [f for f in findings if not f.ok]
    lines.append("")
    lines.append(
        "All good: you are ready for the course."
        if not bad
        else f"{len(bad)} problem(s) above: fix them as each line says."
    )
    return "\n".join(lines)
