"""Every teaching notebook runs top to bottom in a fresh kernel, as Jupyter runs it: the
kernel's own matplotlib backend (the inline one; no MPLBACKEND override), a time limit per
cell.  The cells assert the numbers they show, so a notebook fails here when the library
drifts; and every cell that plots, draws or steps must show what it declares, each
picture once: a code cell's metadata ``{"gradwire": {"shows": n}}`` says how many
pictures (image, SVG, HTML page or widget) it shows, and a cell that calls a plotting
or drawing function without that declaration fails.

The kernel is ``python3``; jupyter_client starts a kernelspec whose argv begins with
``python`` with the interpreter running these tests, so the venv's python runs the
notebooks (checked below).  If no ``python3`` kernelspec is visible at all, one is
installed into this venv (``python -m ipykernel install --sys-prefix``)."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01-sigmoid-backprop", "02-neuron-to-mlp", "03-training-interactively",
            "04-losses-and-search", "05-micrograd-by-hand"]
RUN = [NOTEBOOK_DIR / f"{name}.ipynb" for name in EXPECTED]
CELL_TIMEOUT = 300          # seconds per cell (generous: the CI machine may be loaded)
RICH = ("image/png", "image/svg+xml", "text/html", "application/vnd.jupyter.widget-view+json")
# a cell whose source calls one of these shows a picture and must declare how many
VISUAL = re.compile(r"plt\.show\(\)|plot_decision_boundary\(|plot_history\(|\bdraw\(|"
                    r"draw_network\(|stepper\(|display\(|LiveView\(|live_training\(")


@pytest.fixture(scope="session")
def kernel_name():
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"],
                       check=True, capture_output=True)
    return "python3"


def execute(book, tmp_path, kernel_name, timeout=CELL_TIMEOUT):
    """Run ``book`` in a fresh kernel as Jupyter does (no backend override)."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    client = nbclient.NotebookClient(book, kernel_name=kernel_name, timeout=timeout,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)
    return book


def pictures(cell):
    """The cell's outputs that show a picture: images, SVG, HTML pages, widgets."""
    return [o for o in cell.outputs if o.get("output_type") in ("display_data", "execute_result")
            and any(m in o.get("data", {}) for m in RICH)]


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
def test_every_picture_cell_declares_what_it_shows(path):
    book = nbformat.read(path, as_version=4)
    for i, cell in enumerate(book.cells):
        if cell.cell_type == "code" and VISUAL.search(cell.source):
            shows = cell.metadata.get("gradwire", {}).get("shows")
            assert isinstance(shows, int) and shows >= 1, (
                f"{path.name} cell {i} plots or draws: declare metadata "
                f'{{"gradwire": {{"shows": n}}}}')


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", RUN, ids=[p.stem for p in RUN])
def test_notebook_runs(path, tmp_path, kernel_name):
    book = nbformat.read(path, as_version=4)
    # last cell: which python ran the notebook (the venv's, the one running pytest)
    book.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    execute(book, tmp_path, kernel_name)
    out = book.cells[-1].outputs[0]["text"].strip()
    assert os.path.realpath(out) == os.path.realpath(sys.executable)
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    assert not errors
    for i, cell in enumerate(book.cells[:-1]):
        if cell.cell_type != "code":
            continue
        shown = pictures(cell)
        want = cell.metadata.get("gradwire", {}).get("shows", 0)
        kinds = [sorted(set(o["data"]) & set(RICH)) for o in shown]
        assert len(shown) == want, (f"{path.name} cell {i} should show {want} picture(s), "
                                    f"showed {len(shown)}: {kinds}")
        images = [o["data"].get("image/png") for o in shown if "image/png" in o["data"]]
        assert len(images) == len(set(images)), f"{path.name} cell {i}: a figure shown twice"


SHOW_ONCE = [
    ("last expression", "visualize.plot_decision_boundary(m, X, y, resolution=20)"),
    ("plt.show()", "visualize.plot_decision_boundary(m, X, y, resolution=20)\nplt.show()"),
    ("display()", "fig = visualize.plot_history(h)\ndisplay(fig)"),
    ("display() then plt.show()", "fig = visualize.plot_history(h)\ndisplay(fig)\nplt.show()"),
    ("assigned only", "fig = visualize.plot_history(h)"),
    ("two figures, plt.show()", "visualize.plot_decision_boundary(m, X, y, resolution=20)\n"
                                "visualize.plot_history(h)\nplt.show()"),
    ("into the caller's axes", "fig, ax = plt.subplots()\n"
                               "visualize.plot_decision_boundary(m, X, y, resolution=20, ax=ax)\n"
                               "plt.show()"),
]


@pytest.mark.timeout(300)
def test_plots_show_exactly_once_under_the_inline_backend(tmp_path, kernel_name):
    setup = ("import matplotlib.pyplot as plt\nimport visualize\n"
             "from nn import MLP, datasets, fit\n"
             "X, y = datasets.moons(30, seed=0, labels='pm1')\nm = MLP(2, [4, 1], seed=0)\n"
             "h = fit(m, X, y, steps=3, progress=False)")
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup)] + [
        nbformat.v4.new_code_cell(src) for _, src in SHOW_ONCE])
    execute(book, tmp_path, kernel_name, timeout=120)
    counts = {name: len(pictures(cell)) for (name, _), cell in zip(SHOW_ONCE, book.cells[1:])}
    assert counts == {"last expression": 1, "plt.show()": 1, "display()": 1,
                      "display() then plt.show()": 1, "assigned only": 1,
                      "two figures, plt.show()": 2, "into the caller's axes": 1}
    assert all("image/png" in o["data"] for c in book.cells[1:] for o in pictures(c))


@pytest.mark.timeout(300)
def test_background_training_never_holds_up_a_notebook_run(tmp_path, kernel_name):
    # a background run of a million steps would take hours: the cell returns at once,
    # the next cells run, and the run without a browser ends when the kernel stops
    cells = ["import visualize\nfrom nn import MLP, datasets\n"
             "X, y = datasets.moons(30, seed=0, labels='pm1')",
             "view = visualize.live_training(MLP(2, [4, 1], seed=0), X, y, steps=10**6, "
             "every=50, loss='hinge')",
             "import time\ntime.sleep(0.5)\nprint(view.running, view.trainer.steps_done < 10**6)"]
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    t0 = time.perf_counter()
    execute(book, tmp_path, kernel_name, timeout=60)
    assert time.perf_counter() - t0 < 60
    assert book.cells[2].outputs[0]["text"].strip() == "True True"
    assert len(pictures(book.cells[1])) == 1    # the widget
