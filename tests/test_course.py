"""The course map is defined once; the README and the notebooks agree with it."""

from __future__ import annotations

import subprocess
import sys

from labkit.course.coursemap import MAP_END, MAP_START, MODULES, TRACKS, course_map_markdown
from labkit.paths import repo_root


def test_readme_course_map_is_generated_from_labkit():
    readme = (repo_root() / "README.md").read_text(encoding="utf-8")
    between = readme.split(MAP_START, 1)[1].split(MAP_END, 1)[0]
    assert between == "\n" + course_map_markdown(), "run `make labs` to refresh the README map"


def test_tracks_name_real_modules():
    numbers = {m.number for m in MODULES}
    assert [m.number for m in MODULES] == [f"{i:02d}" for i in range(16)]
    for track in TRACKS.values():
        assert set(track) <= numbers
    for m in MODULES:
        assert set(m.prerequisites) <= numbers


def test_importing_labkit_has_no_side_effects(tmp_path):
    code = (
        "import os, random, sys, torch\n"
        "seed, state = torch.initial_seed(), random.getstate()\n"
        "import importlib, pkgutil, labkit\n"
        "names = [m.name for m in pkgutil.walk_packages(labkit.__path__, 'labkit.')]\n"
        "assert len(names) > 50, names\n"
        "for name in names: importlib.import_module(name)\n"
        "assert torch.initial_seed() == seed and random.getstate() == state, 'seeded on import'\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'plotting set up on import'\n"
        "assert 'foolbox' not in sys.modules, 'foolbox imported eagerly'\n"
        "assert os.listdir(os.environ['LABKIT_HOME']) == [], 'files written on import'\n"
    )
    env = {**__import__("os").environ, "LABKIT_HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)


def test_every_available_module_has_a_measured_solution_run_time_shown_in_the_map():
    from labkit.course.coursemap import SOLUTION_SECONDS, SOLUTION_SECONDS_MEASURED

    markdown = course_map_markdown()
    assert SOLUTION_SECONDS_MEASURED in markdown
    assert set(SOLUTION_SECONDS) <= {m.number for m in MODULES}
    for m in MODULES:
        row = next(line for line in markdown.splitlines() if line.startswith(f"| {m.number} |"))
        if m.available():
            assert m.solution_seconds is not None, f"measure {m.notebook}: bench/run.py --notebooks"
            assert isinstance(m.solution_seconds, int) and m.solution_seconds > 0
            assert row.endswith(f"| {m.solution_seconds} |")
        else:
            assert row.endswith("| - |") or m.solution_seconds is not None
