"""Every notebook in ``notebooks/`` runs from top to bottom without an error.

Each notebook is one test. It runs in the ``python3`` kernel, which is this venv's Python, with the
working directory set to ``notebooks/``. Outputs are discarded, so the committed files stay clean.
"""

from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs(path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
