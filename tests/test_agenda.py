"""The instructor guide's agendas are generated from the course map and kept in sync."""

from __future__ import annotations

import re
import shutil

import pytest

from labkit.course.agenda import ONBOARDING, WORKSHOPS, agenda_markdown, onboarding_markdown, update_guide
from labkit.course.coursemap import MODULES, module
from labkit.paths import repo_root

GUIDE = repo_root() / "docs" / "instructor-guide.md"


def test_guide_agendas_match_the_course_map(tmp_path):
    copy = tmp_path / "guide.md"
    shutil.copy(GUIDE, copy)
    assert not update_guide(copy), (
        "docs/instructor-guide.md's agendas are out of date with labkit/course/coursemap.py: run "
        "`.venv/bin/python -m labkit.course.agenda docs/instructor-guide.md` and commit it"
    )


def test_guide_has_a_section_for_every_module():
    text = GUIDE.read_text(encoding="utf-8")
    for m in MODULES:
        assert re.search(rf"^### {m.number} ", text, re.M), f"the guide has no section for module {m.number}"


def test_agenda_times_add_up_from_module_minutes():
    text = agenda_markdown(["00", "06"], start="13:00")
    total = module("00").minutes + module("06").minutes
    assert "| 13:00 | | Welcome" in text and f"{total} minutes of modules" in text
    rows = re.findall(r"^\| (\d\d):(\d\d) \|", text, re.M)
    clocks = [int(h) * 60 + int(m) for h, m in rows]
    assert clocks == sorted(clocks) and len(clocks) == 4
    long_day = agenda_markdown(WORKSHOPS["full-day workshop"])
    assert long_day.count("| Lunch |") == 1 and "| Break |" in long_day
    assert "| Lunch |" not in agenda_markdown(WORKSHOPS["half-day workshop"], lunch=False)


def test_onboarding_sessions_respect_their_length_and_keep_every_module():
    for numbers in ONBOARDING.values():
        text = onboarding_markdown(numbers, session=180)
        minutes = [int(m) for m in re.findall(r"\| (\d+) \|$", text, re.M)]
        assert all(m <= 180 for m in minutes) and sum(minutes) == sum(module(n).minutes for n in numbers)
        assert numbers[-1] == "15"


@pytest.mark.parametrize("bad", [["99"], [], "00", [6]])
def test_bad_module_lists_are_refused(bad):
    with pytest.raises((TypeError, ValueError, KeyError)):
        agenda_markdown(bad)


@pytest.mark.parametrize(
    ("name", "slot"), [("2-hour workshop", 120), ("half-day workshop", 240), ("full-day workshop", 510)]
)
def test_workshops_fit_their_slot(name, slot):
    """Welcome, modules, breaks (and a lunch in the full day) and wrap-up fit the workshop's slot."""
    text = agenda_markdown(WORKSHOPS[name], lunch=name == "full-day workshop")
    in_all = int(re.search(r"(\d+) minutes in all", text).group(1))
    assert in_all <= slot, f"the {name} takes {in_all} minutes, more than its {slot}"


def test_course_map_times_are_the_benchmarks():
    """The solution times the README and the guide show are the ones bench/RESULTS.md measured (rounded)."""
    from labkit.course.coursemap import SOLUTION_SECONDS
    from labkit.paths import repo_root

    results = (repo_root() / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    table = results[results.index("<!-- notebooks -->") : results.index("<!-- /notebooks -->")]
    measured = {
        m.group(1): round(float(m.group(2)))
        for m in re.finditer(r"^\| (\d\d)_\w+\.ipynb \| ([\d.]+) \| ok \|", table, re.M)
    }
    assert measured == SOLUTION_SECONDS, (
        "labkit/course/coursemap.py's SOLUTION_SECONDS differ from bench/RESULTS.md: copy the benchmark's "
        f"times in, then regenerate the README and the guide; benchmark {measured}"
    )
