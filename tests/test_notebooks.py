"""Every teaching notebook runs top to bottom in a fresh kernel; its cells assert the numbers
they show, so a notebook fails here when the library drifts.

The kernel is ``python3``; jupyter_client starts a kernelspec whose argv begins with
``python`` with the interpreter running these tests, so the venv's python runs the
notebooks (checked below).  If no ``python3`` kernelspec is visible at all, one is
installed into this venv (``python -m ipykernel install --sys-prefix``).  Matplotlib uses
Agg in the kernel, so no window ever opens."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
EXPECTED = ["01-sigmoid-backprop", "02-neuron-to-mlp", "03-training-interactively",
            "04-losses-and-search"]


@pytest.fixture(scope="session")
def kernel_name():
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"],
                       check=True, capture_output=True)
    return "python3"


def test_all_notebooks_present():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_committed_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: clear the outputs before committing")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, kernel_name):
    book = nbformat.read(path, as_version=4)
    # last cell: which python ran the notebook (the venv's, the one running pytest)
    book.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    env = {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    client = nbclient.NotebookClient(book, kernel_name=kernel_name, timeout=120,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)
    out = book.cells[-1].outputs[0]["text"].strip()
    assert os.path.realpath(out) == os.path.realpath(sys.executable)
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    assert not errors
