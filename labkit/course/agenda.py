"""Workshop agendas and onboarding plans, built from the course map (MODULES' minutes and TRACKS).

docs/instructor-guide.md holds the generated tables between markers; a test keeps them in sync:
`python -m labkit.course.agenda docs/instructor-guide.md` rewrites them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from labkit import validate
from labkit.course.coursemap import MODULES, SOLUTION_SECONDS_MEASURED, TRACKS, module

# Workshops: modules in teaching order. The half-day one is the course map's own track.
WORKSHOPS: dict[str, tuple[str, ...]] = {
    "2-hour workshop": ("00", "06"),
    "half-day workshop": TRACKS["half-day workshop"],
    "full-day workshop": ("00", "02", "06", "05", "10", "14"),
}
# Team onboarding: a track spread over sessions, ending with the capstone played as teams.
ONBOARDING: dict[str, tuple[str, ...]] = {
    "engineer track": (*TRACKS["engineer"], "15"),
    "responder track": (*TRACKS["responder"], "15"),
}
WELCOME, WRAP_UP = 10, 15  # minutes: introductions and setup check; questions and what to do next


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _numbers(name: str, numbers: tuple[str, ...] | list[str]) -> list[str]:
    if isinstance(numbers, str) or not isinstance(numbers, (tuple, list)) or not numbers:
        raise TypeError(
            f"{name} must be a non-empty list of module numbers such as ['00', '06'], not {numbers!r}."
        )
    known = [m.number for m in MODULES]
    unknown = [n for n in numbers if n not in known]
    if unknown:
        raise ValueError(
            f"{name} must hold module numbers of the course map ({known[0]}-{known[-1]}), not {unknown}."
        )
    return list(numbers)


def agenda_markdown(
    numbers: tuple[str, ...] | list[str],
    *,
    start: str = "09:00",
    block: int = 120,
    short_break: int = 15,
    lunch: bool = True,
) -> str:
    """A timed agenda: welcome, the modules at their course-map minutes, a break whenever a block of
    `block` minutes is used up (with `lunch`, the first break after 11:30 is a 60-minute lunch), a wrap-up."""
    numbers = _numbers("numbers", numbers)
    hours, _, mins = validate.text("start", start).partition(":")
    if not (hours.isdigit() and mins.isdigit() and int(hours) < 24 and int(mins) < 60):
        raise ValueError(f"start must be a time such as '09:00', not {start!r}.")
    block = validate.positive_int("block", block)
    short_break = validate.positive_int("short_break", short_break)
    clock = first = int(hours) * 60 + int(mins)
    rows = [
        "| Time | # | Session | Minutes | Notebook run (s) |",
        "|---|---|---|---:|---:|",
        f"| {_clock(clock)} | | Welcome, setup check | {WELCOME} | |",
    ]
    clock += WELCOME
    used, had_lunch, teaching = WELCOME, not lunch, 0
    for i, number in enumerate(numbers):
        item = module(number)
        if used and used + item.minutes > block and i:
            pause = 60 if not had_lunch and clock >= 11 * 60 + 30 else short_break
            had_lunch = had_lunch or pause == 60
            rows.append(f"| {_clock(clock)} | | {'Lunch' if pause == 60 else 'Break'} | {pause} | |")
            clock, used = clock + pause, 0
        run = "-" if item.solution_seconds is None else str(item.solution_seconds)
        rows.append(f"| {_clock(clock)} | {number} | {item.title} | {item.minutes} | {run} |")
        clock, used, teaching = clock + item.minutes, used + item.minutes, teaching + item.minutes
    rows.append(f"| {_clock(clock)} | | Wrap-up: questions, what to do next | {WRAP_UP} | |")
    clock += WRAP_UP
    rows += [
        "",
        f"Ends at {_clock(clock)}: {teaching} minutes of modules, {clock - first} minutes in all. "
        f"Notebook run: the solution notebook's measured wall time ({SOLUTION_SECONDS_MEASURED}; "
        "`make bench`).",
    ]
    return "\n".join(rows) + "\n"


def onboarding_markdown(numbers: tuple[str, ...] | list[str], *, session: int = 180) -> str:
    """A track spread over sessions of at most `session` minutes of modules (one a day or a week)."""
    numbers = _numbers("numbers", numbers)
    session = validate.positive_int("session", session)
    sessions: list[list[str]] = [[]]
    for number in numbers:
        current = sum(module(n).minutes for n in sessions[-1])
        if sessions[-1] and current + module(number).minutes > session:
            sessions.append([])
        sessions[-1].append(number)
    rows = ["| Session | Modules | Minutes |", "|---|---|---:|"]
    for i, group in enumerate(sessions, 1):
        names = "; ".join(f"{n} {module(n).title}" for n in group)
        rows.append(f"| {i} | {names} | {sum(module(n).minutes for n in group)} |")
    total = sum(module(n).minutes for n in numbers)
    rows += ["", f"{len(sessions)} sessions, {total} minutes of modules."]
    return "\n".join(rows) + "\n"


def sections() -> dict[str, str]:
    """Every generated table of the instructor guide, by marker name."""
    found = {
        name: agenda_markdown(numbers, lunch=name != "half-day workshop")
        for name, numbers in WORKSHOPS.items()
    }
    found.update({name: onboarding_markdown(numbers) for name, numbers in ONBOARDING.items()})
    return found


def update_guide(path: Path) -> bool:
    """Rewrite the tables between `<!-- agenda:NAME -->` and `<!-- agenda:end -->`; True if changed."""
    path = validate.path("path", path, exists="file")
    text = path.read_text(encoding="utf-8")
    new = text
    for name, table in sections().items():
        start = f"<!-- agenda:{name} -->"
        if start not in new:
            raise ValueError(f"path {path} lacks the marker {start!r}.")
        head, rest = new.split(start, 1)
        if "<!-- agenda:end -->" not in rest:
            raise ValueError(f"path {path}: {start!r} has no '<!-- agenda:end -->' after it.")
        _, tail = rest.split("<!-- agenda:end -->", 1)
        new = f"{head}{start}\n{table}<!-- agenda:end -->{tail}"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # pragma: no cover - `python -m labkit.course.agenda docs/instructor-guide.md`
    changed = update_guide(Path(sys.argv[1]))
    print(f"{sys.argv[1]}: " + ("agendas updated." if changed else "agendas already up to date."))
