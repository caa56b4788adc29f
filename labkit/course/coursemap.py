"""The course map, defined once: modules, SDL stages, personas, time, prerequisites, tracks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labkit.paths import repo_root
from labkit.validate import UnknownName


@dataclass(frozen=True)
class Module:
    """One module of the course: one notebook in solutions/ and its generated twin in labs/."""

    number: str
    slug: str
    title: str
    stage: str
    personas: tuple[str, ...]
    minutes: int
    prerequisites: tuple[str, ...] = ()

    @property
    def solution_seconds(self) -> int | None:
        """Measured wall time of the solution notebook, top to bottom (None: not measured yet)."""
        return SOLUTION_SECONDS.get(self.number)

    @property
    def notebook(self) -> str:
        return f"{self.number}_{self.slug}.ipynb"

    def available(self, root: Path | None = None) -> bool:
        """Whether this module's solution notebook exists yet."""
        return ((root or repo_root()) / "solutions" / self.notebook).is_file()


ALL = ("engineer", "responder")
ENG = ("engineer",)
BOTH = ("engineer", "responder")

MODULES: tuple[Module, ...] = (
    Module("00", "orientation", "Orientation: the story, the tools, how exercises work", "-", ALL, 20),
    Module("01", "threat_landscape", "The adversarial-ML threat landscape", "Training", ALL, 45, ("00",)),
    Module(
        "02",
        "threat_modelling",
        "Threat-model the cheque reader, write security requirements",
        "Requirements, Design",
        ALL,
        60,
        ("01",),
    ),
    Module(
        "03",
        "secure_coding_supply_chain",
        "Secure ML coding and the model supply chain",
        "Implementation",
        ENG,
        55,
        ("02",),
    ),
    Module("04", "data_poisoning", "Data poisoning and data provenance", "Implementation", ENG, 55, ("00",)),
    Module("05", "backdoors", "Backdoors: triggers, detection, removal", "Implementation", BOTH, 70, ("04",)),
    Module(
        "06",
        "whitebox_evasion",
        "White-box evasion: FGSM, PGD, C&W, DeepFool",
        "Verification",
        ENG,
        60,
        ("00",),
    ),
    Module(
        "07",
        "blackbox_evasion",
        "Black-box evasion: decision-based, transfer, patches",
        "Verification",
        ENG,
        55,
        ("06",),
    ),
    Module("08", "security_testing", "Security testing as code", "Verification", ENG, 45, ("06",)),
    Module(
        "09",
        "hardening",
        "Hardening: adversarial training and input transformations",
        "Verification",
        ENG,
        45,
        ("06",),
    ),
    Module("10", "model_extraction", "Model extraction against the served API", "Release", BOTH, 55, ("00",)),
    Module("11", "privacy_attacks", "Membership inference and model inversion", "Release", BOTH, 75, ("00",)),
    Module(
        "12",
        "shipping_securely",
        "Shipping securely: signed artifacts, model cards, gates",
        "Release",
        ENG,
        55,
        ("02", "08"),
    ),
    Module(
        "13",
        "logging_detection",
        "Audit logging, detection and monitoring",
        "Response",
        ("responder",),
        45,
        ("10",),
    ),
    Module(
        "14", "incident_response", "Incident response exercise", "Response", ("responder",), 90, ("05", "13")
    ),
    Module("15", "capstone", "Capstone: red team vs blue team", "All", ALL, 120, ("14",)),
)

# Wall time of each solution notebook, top to bottom in a fresh kernel, as measured by
# `.venv/bin/python bench/run.py --notebooks --no-pgd` (bench/RESULTS.md): data, copied here by hand
# after a bench run, with when and how it was measured. The target is about 60 s on 2 idle cores.
SOLUTION_SECONDS_MEASURED = (
    "2026-12-03 14:26 UTC on 2 AMD EPYC cores, otherwise idle (load average 1), 1 torch thread, full mode; "
    "bench/RESULTS.md"
)
SOLUTION_SECONDS: dict[str, int] = {
    "00": 9,
    "01": 6,
    "02": 4,
    "03": 12,
    "04": 42,
    "05": 33,
    "06": 31,
    "07": 38,
    "08": 52,
    "09": 64,
    "10": 49,
    "11": 38,
    "12": 8,
    "13": 10,
    "14": 15,
    "15": 17,
}

TRACKS: dict[str, tuple[str, ...]] = {
    "engineer": ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "12"),
    "responder": ("00", "01", "02", "10", "11", "13", "14"),
    "half-day workshop": ("00", "05", "14"),
}


def module(number: str) -> Module:
    """Look a module up by its two-digit number."""
    if not isinstance(number, str):
        raise TypeError(f"number must be a two-digit string such as '06', not {number!r}.")
    for item in MODULES:
        if item.number == number:
            return item
    raise UnknownName(
        f"No module {number!r}: number must be one of {MODULES[0].number}-{MODULES[-1].number}."
    )


def _root(root: Path | None) -> Path | None:
    if root is not None and (not isinstance(root, Path) or not root.is_dir()):
        raise ValueError(f"root must be the course checkout's directory (or None), not {root!r}.")
    return root


def course_map_markdown(root: Path | None = None) -> str:
    """The README's course-map table, rendered from MODULES (a test keeps the README in sync)."""
    _root(root)
    rows = [
        "| # | Module | SDL stage | Personas | Minutes | Prerequisites | Notebook | Solution run (s) |",
        "|---|---|---|---|---|---|---|---:|",
    ]
    for m in MODULES:
        notebook = f"[labs/{m.notebook}](labs/{m.notebook})" if m.available(root) else "planned"
        seconds = "-" if m.solution_seconds is None else str(m.solution_seconds)
        rows.append(
            f"| {m.number} | {m.title} | {m.stage} | {', '.join(m.personas)} | {m.minutes} | "
            f"{', '.join(m.prerequisites) or '-'} | {notebook} | {seconds} |"
        )
    rows += [
        "",
        f"Solution run: the solution notebook's wall time, measured {SOLUTION_SECONDS_MEASURED}.",
        "",
    ]
    for track, numbers in TRACKS.items():
        rows.append(f"- **{track}**: {', '.join(numbers)}")
    return "\n".join(rows) + "\n"


MAP_START = "<!-- course-map:start (generated by `labkit course-map --write`) -->"
MAP_END = "<!-- course-map:end -->"


def update_readme(path: Path, root: Path | None = None) -> bool:
    """Rewrite the course map between the README's markers; returns True if it changed."""
    _root(root)
    if not isinstance(path, Path) or not path.is_file():
        raise FileNotFoundError(f"path must be an existing README file, not {path!r}.")
    text = path.read_text(encoding="utf-8")
    if MAP_START not in text or MAP_END not in text:
        raise ValueError(f"{path} lacks the course-map markers {MAP_START!r} ... {MAP_END!r}.")
    head, rest = text.split(MAP_START, 1)
    _, tail = rest.split(MAP_END, 1)
    new = f"{head}{MAP_START}\n{course_map_markdown(root)}{MAP_END}{tail}"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text
