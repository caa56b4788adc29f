"""Generate exercise notebooks (labs/) from solution notebooks (solutions/).

Every region between `### BEGIN SOLUTION` and `### END SOLUTION` in a code cell becomes
`raise NotImplementedError()` at the marker's indentation; outputs are cleared.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from labkit import validate

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = "raise NotImplementedError()"
NOTICE_ID = "generated-lab-notice"

# What JupyterLab writes for the course's kernel: a notebook that carries all of it is not marked
# changed (and not rewritten by autosave) when it is opened. No "widgets" key: widget state is never saved.
NOTEBOOK_METADATA: dict = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.11.7",
    },
}


def metadata_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """What keeps a notebook from opening unchanged: missing or different kernel/language metadata,
    saved widget state, outputs or execution counts. Empty when the notebook is clean."""
    if not isinstance(notebook, nbformat.NotebookNode) or "cells" not in notebook:
        raise TypeError(f"notebook must be a notebook read with nbformat, not {type(notebook).__name__}.")
    problems = []
    for key, expected in NOTEBOOK_METADATA.items():
        if notebook.metadata.get(key) != expected:
            problems.append(f"metadata.{key} is {notebook.metadata.get(key)!r}, expected {expected!r}")
    if "widgets" in notebook.metadata:
        problems.append("metadata.widgets holds saved widget state (reopening shows 'model not found')")
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"cell {index} has outputs or an execution count")
    return problems


class LabGenerationError(ValueError):
    """A solution notebook's markers are malformed (unclosed, nested or stray)."""


def stub_source(source: str, *, where: str = "cell") -> str:
    """Replace each solution region in one cell's source with a stub at the same indentation."""
    validate.text("source", source, empty=True)
    out: list[str] = []
    inside_since: int | None = None
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside_since is not None:
                raise LabGenerationError(
                    f"{where}, line {number}: '{BEGIN}' inside the region opened at line "
                    f"{inside_since}; regions cannot nest. Close the first with '{END}'."
                )
            inside_since = number
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}{STUB}\n")
        elif stripped.startswith(END):
            if inside_since is None:
                raise LabGenerationError(
                    f"{where}, line {number}: '{END}' without a matching '{BEGIN}' before it."
                )
            inside_since = None
        elif inside_since is None:
            out.append(line)
    if inside_since is not None:
        raise LabGenerationError(
            f"{where}, line {inside_since}: '{BEGIN}' is never closed; add '{END}' after the "
            f"solution code in the same cell."
        )
    return "".join(out).rstrip("\n")


def has_solution(source: str) -> bool:
    """Whether a cell's source contains a solution region."""
    validate.text("source", source, empty=True)
    return any(line.strip().startswith(BEGIN) for line in source.splitlines())


def generate_lab(solution: nbformat.NotebookNode, *, source_name: str) -> nbformat.NotebookNode:
    """Return the lab notebook for a solution notebook (the input is not modified)."""
    if not isinstance(solution, nbformat.NotebookNode) or "cells" not in solution:
        raise TypeError(f"solution must be a notebook read with nbformat, not {type(solution).__name__}.")
    validate.text("source_name", source_name)
    lab = nbformat.from_dict(dict(solution))
    lab.cells = []
    for index, cell in enumerate(solution.cells):
        new = nbformat.from_dict(dict(cell))
        new.metadata = {k: v for k, v in cell.metadata.items() if k not in ("execution",)}
        if cell.cell_type == "code":
            new.source = stub_source(cell.source, where=f"{source_name}, cell {index}")
            new.outputs = []
            new.execution_count = None
        elif has_solution(cell.source):
            raise LabGenerationError(
                f"{source_name}, cell {index}: solution markers belong in code cells, "
                f"not {cell.cell_type} cells."
            )
        lab.cells.append(new)
    notice = nbformat.v4.new_markdown_cell(
        f"> **Your lab.** Generated from `solutions/{source_name}` by `make labs`: this copy is yours "
        f"to edit. Each exercise reads `raise NotImplementedError()`: replace that line with your "
        f"code, run the check cell below it, and read its message. To start over, "
        f"`git checkout labs/{source_name}` restores this lab as shipped (`make labs` regenerates "
        f"every lab and discards your edits)."
    )
    notice.id = NOTICE_ID
    lab.cells.insert(0, notice)
    lab.metadata = nbformat.from_dict(copy.deepcopy(NOTEBOOK_METADATA))
    return lab


def normalise_notebook(path: Path) -> bool:
    """Rewrite a solution notebook so it opens unchanged: NOTEBOOK_METADATA, no widget state, no
    outputs or execution counts, a cell id on every cell, nbformat's layout. True if it changed."""
    import uuid

    if not isinstance(path, Path) or not path.is_file():
        raise FileNotFoundError(f"path must be an existing notebook file, not {path!r}.")
    before = path.read_text(encoding="utf-8")
    notebook = nbformat.reads(before, as_version=4)
    notebook.metadata = nbformat.from_dict(copy.deepcopy(NOTEBOOK_METADATA))
    notebook.nbformat_minor = max(notebook.nbformat_minor, 5)
    for cell in notebook.cells:
        if "id" not in cell:
            cell.id = uuid.uuid4().hex[:8]
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    after = nbformat.writes(notebook) + "\n"
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def lab_text(solution_path: Path) -> str:
    """The exact text `build_labs` writes for one solution notebook."""
    if not isinstance(solution_path, Path) or not solution_path.is_file():
        raise FileNotFoundError(f"solution_path must be an existing notebook file, not {solution_path!r}.")
    solution = nbformat.read(solution_path, as_version=4)
    return nbformat.writes(generate_lab(solution, source_name=solution_path.name)) + "\n"


def build_labs(solutions_dir: Path, labs_dir: Path, *, check_only: bool = False) -> list[Path]:
    """Write labs/ from solutions/; returns the labs that changed (or would, with check_only)."""
    if not isinstance(solutions_dir, Path) or not solutions_dir.is_dir():
        raise FileNotFoundError(f"solutions_dir must be an existing directory, not {solutions_dir!r}.")
    if not isinstance(labs_dir, Path):
        raise TypeError(f"labs_dir must be a Path, not {labs_dir!r}.")
    changed: list[Path] = []
    labs_dir.mkdir(parents=True, exist_ok=True)
    expected = {p.name for p in sorted(solutions_dir.glob("*.ipynb"))}
    for solution_path in sorted(solutions_dir.glob("*.ipynb")):
        target = labs_dir / solution_path.name
        text = lab_text(solution_path)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            changed.append(target)
            if not check_only:
                target.write_text(text, encoding="utf-8")
    for stray in sorted(labs_dir.glob("*.ipynb")):
        if stray.name not in expected:
            changed.append(stray)
            if not check_only:
                stray.unlink()
    return changed


if __name__ == "__main__":  # python -m labkit.course.labgen --normalise solutions/NN_x.ipynb ...
    import sys

    if len(sys.argv) < 3 or sys.argv[1] != "--normalise":
        raise SystemExit("usage: python -m labkit.course.labgen --normalise NOTEBOOK...")
    for name in sys.argv[2:]:
        print(("normalised " if normalise_notebook(Path(name)) else "unchanged  ") + name)
