"""Every notebook in ``notebooks/`` runs from top to bottom without an error or a warning, and is committed
executed, with its outputs, so that it reads without running.

Each notebook is one test. It runs in the ``python3`` kernel, which is this venv's Python, with the working
directory set to ``notebooks/``, after a first cell (not saved) that turns warnings into errors, as pytest does
here. Anything a cell writes to stderr that names a warning fails the test too (a warning raised before that
first cell, or one printed rather than raised). The executed copy is discarded; the committed file is not
touched.
"""

from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
WARNINGS_ARE_ERRORS = "import warnings\nwarnings.simplefilter('error')"


def _stderr(notebook) -> list[str]:
    return [output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.get("outputs", []) if output.get("output_type") == "stream" and output.get("name") == "stderr"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_without_errors_or_warnings(path):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(WARNINGS_ARE_ERRORS))
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    warned = [text for text in _stderr(notebook) if "warning" in text.lower()]
    assert not warned, f"{path.name} warned: {warned}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_committed_with_its_outputs(path):
    """Every code cell was executed, in order, and the notebook shows at least one figure."""
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), f"{path.name}: not executed in order"
    assert not [o for cell in code for o in cell.outputs if o.output_type == "error"], f"{path.name}: committed with an error"
    assert any("image/png" in o.get("data", {}) for cell in code for o in cell.outputs), f"{path.name}: no figure"
