"""The lab generator on small fixture notebooks, error cases included."""

from __future__ import annotations

import nbformat
import pytest

from labkit.course.labgen import (
    NOTICE_ID,
    LabGenerationError,
    build_labs,
    generate_lab,
    metadata_problems,
    stub_source,
)

SOLUTION_CELL = """def f(x):
    \"\"\"Doc.\"\"\"
    ### BEGIN SOLUTION
    y = x + 1
    return y
    ### END SOLUTION

### BEGIN SOLUTION
answer = f(1)
### END SOLUTION
print(answer)"""


def _notebook(*sources: str, markdown: str = "# Title") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
    for i, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        cell.id = f"c{i}"
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="secret 42\n")]
        cell.execution_count = i + 1
        nb.cells.append(cell)
    return nb


def test_regions_become_stubs_at_their_indentation():
    assert stub_source(SOLUTION_CELL) == (
        'def f(x):\n    """Doc."""\n    raise NotImplementedError()\n\n'
        "raise NotImplementedError()\nprint(answer)"
    )


def test_generated_lab_clears_outputs_and_says_it_is_generated():
    lab = generate_lab(_notebook(SOLUTION_CELL, "print(2)"), source_name="01_x.ipynb")
    assert lab.cells[0].id == NOTICE_ID and "Generated from `solutions/01_x.ipynb`" in lab.cells[0].source
    assert "git checkout labs/01_x.ipynb" in lab.cells[0].source and "do not edit" not in lab.cells[0].source
    assert metadata_problems(lab) == []
    code = [c for c in lab.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "x + 1" not in nbformat.writes(lab) and "secret 42" not in nbformat.writes(lab)
    assert code[1].source == "print(2)"
    nbformat.validate(lab)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "cannot nest"),
        ("x = 1\n### END SOLUTION\n", "without a matching"),
    ],
)
def test_malformed_markers_are_clear_errors(source, message):
    with pytest.raises(LabGenerationError, match=message) as info:
        generate_lab(_notebook(source), source_name="09_bad.ipynb")
    assert "09_bad.ipynb, cell 1" in str(info.value)


def test_markers_in_markdown_are_refused():
    nb = _notebook("x = 1", markdown="### BEGIN SOLUTION\nhidden\n### END SOLUTION")
    with pytest.raises(LabGenerationError, match="code cells"):
        generate_lab(nb, source_name="02_md.ipynb")


def test_build_labs_writes_checks_and_removes_strays(tmp_path):
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    solutions.mkdir()
    nbformat.write(_notebook(SOLUTION_CELL), solutions / "01_demo.ipynb")
    labs.mkdir()
    (labs / "99_orphan.ipynb").write_text("{}")
    changed = build_labs(solutions, labs)
    assert {p.name for p in changed} == {"01_demo.ipynb", "99_orphan.ipynb"}
    assert [p.name for p in labs.iterdir()] == ["01_demo.ipynb"]
    assert build_labs(solutions, labs, check_only=True) == []  # idempotent
    (labs / "01_demo.ipynb").write_text("hand edit")
    assert [p.name for p in build_labs(solutions, labs, check_only=True)] == ["01_demo.ipynb"]
    assert (labs / "01_demo.ipynb").read_text() == "hand edit"  # check_only writes nothing
