"""labkit.runtime.progress_bar in a real Jupyter kernel: a finished bar leaves one line of text and no
widget output, so a saved and reopened notebook never shows "Error displaying widget: model not found"."""

from __future__ import annotations

import re

import nbclient
import nbformat
import pytest

from labkit.runtime import progress_bar

WIDGET = "application/vnd.jupyter.widget-view+json"

CELL = """
from labkit.runtime import progress_bar
for _ in progress_bar(range(3), desc="epochs"):
    pass
for _ in progress_bar(range(2), desc="inner", leave=False):
    pass
bar = progress_bar(total=5, desc="queries")
bar.update(2)
bar.close()
with progress_bar(total=4, desc="calls") as counted:
    counted.update(4)
print("after the bars")
"""


@pytest.fixture(scope="module")
def outputs() -> list[dict]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(CELL)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(notebook, timeout=120).execute()
    return list(notebook.cells[0].outputs)


def test_finished_bars_leave_text_not_widgets(outputs: list[dict]) -> None:
    assert not [o for o in outputs if WIDGET in o.get("data", {})], outputs
    texts = [o["data"]["text/plain"] for o in outputs if o["output_type"] == "display_data"]
    assert texts[0].startswith("epochs: 3/3 in 00:0"), texts
    assert texts[1] == "", "a leave=False bar leaves nothing behind"
    assert texts[2].startswith("queries: stopped at 2/5 after 00:0"), "a stopped bar says where"
    assert texts[3].startswith("calls: 4/4 in "), texts
    assert outputs[-1]["text"] == "after the bars\n"


def test_outside_a_kernel_it_is_tqdms_text_bar(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(progress_bar(range(3), desc="epochs")) == [0, 1, 2]
    assert "epochs: 100%" in capsys.readouterr().err
    assert list(progress_bar(range(2), enabled=False)) == [0, 1]
    assert capsys.readouterr().err == ""


def test_labkit_and_the_notebooks_draw_bars_only_through_progress_bar() -> None:
    """tqdm's own notebook bar leaves a widget output behind; only labkit.runtime may import tqdm."""
    from labkit.paths import repo_root

    root = repo_root()
    files = [*(root / "labkit").rglob("*.py"), *(root / "solutions").glob("*.ipynb")]
    direct = [
        str(f.relative_to(root))
        for f in files
        if f.name != "runtime.py" and re.search(r"(from|import) tqdm\b", f.read_text(encoding="utf-8"))
    ]
    assert not direct, f"use labkit.runtime.progress_bar instead of tqdm in {direct}"
