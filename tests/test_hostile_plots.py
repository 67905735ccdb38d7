"""Careless and hostile input to the plots and the live view: each is refused with a clear
error naming the argument, before any large allocation or any training."""
import io
import math
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from nn import MLP, Trainer, datasets
from visualize import (
    LiveView,
    live_training,
    plot_decision_boundary,
    plot_history,
    plots,
)


@pytest.fixture
def moons():
    X, y = datasets.moons(20, seed=0, labels="pm1")
    return MLP(2, [4, 1], seed=0), X, y



@pytest.fixture(autouse=True)
def _close_pyplot_figures():
    """Figures made while pyplot is loaded are pyplot's: close them after each test."""
    yield
    import sys
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")

# --- plot_decision_boundary: X ---------------------------------------------------------

@pytest.mark.parametrize("bad, row", [(math.nan, 3), (math.inf, 7), (-math.inf, 0)])
def test_boundary_refuses_non_finite_X_naming_the_row(moons, bad, row):
    model, X, y = moons
    X = X.copy()
    X[row, 1] = bad
    with pytest.raises(ValueError, match=rf"plot_decision_boundary\(X\): row {row} of X .*finite"):
        plot_decision_boundary(model, X, y)


def test_boundary_refuses_empty_X(moons):
    model, _, _ = moons
    with pytest.raises(ValueError, match=r"plot_decision_boundary\(X\): X has no rows"):
        plot_decision_boundary(model, np.zeros((0, 2)), [])


def test_boundary_refuses_text_in_X(moons):
    model, _, _ = moons
    with pytest.raises(ValueError, match=r"plot_decision_boundary\(X\): X must be an \(n, 2\) "
                                         r"array of numbers"):
        plot_decision_boundary(model, [["a", "b"]], [1])


def test_boundary_refuses_X_whose_range_overflows(moons):
    model, _, _ = moons
    X = np.array([[-1.7e308, 0.0], [1.7e308, 1.0]])
    with pytest.raises(ValueError, match="range of X is too large"):
        plot_decision_boundary(model, X, [-1, 1])


# --- plot_decision_boundary: the model and y ---------------------------------------------

def test_boundary_refuses_a_three_input_model(moons):
    _, X, y = moons
    with pytest.raises(ValueError, match=r"the model takes 3 inputs; a decision boundary is "
                                         r"drawn over 2 input features"):
        plot_decision_boundary(MLP(3, [4, 1], seed=0), X, y)


def test_boundary_refuses_what_is_not_a_model(moons):
    _, X, y = moons
    with pytest.raises(TypeError, match=r"plot_decision_boundary\(model\): expected an MLP"):
        plot_decision_boundary("model", X, y)


def test_boundary_refuses_a_model_with_nan_parameters(moons):
    model, X, y = moons
    model.layers[0].neurons[0].w[0].data = math.nan
    with pytest.raises(ValueError, match=r"layer 0 neuron 0 has w\[0\] = nan; every parameter"):
        plot_decision_boundary(model, X, y, resolution=10)


@pytest.mark.parametrize("labels, match", [
    ([0, 1, 2] * 6 + [0, 1], r"a one-output model separates two classes .* y holds \{0, 1, 2\}"),
    ([0.5] * 20, r"y holds \{0.5\}"),
    (["a"] * 20, "y must hold numeric class labels"),
    ([math.nan] * 20, "y contains NaN"),
])
def test_boundary_refuses_labels_a_one_output_model_cannot_mean(moons, labels, match):
    model, X, _ = moons
    with pytest.raises(ValueError, match=match):
        plot_decision_boundary(model, X, labels)


def test_boundary_refuses_class_ids_beyond_the_outputs():
    X, y = datasets.blobs(12, centers=4, seed=0)
    with pytest.raises(ValueError, match=r"a model with 3 outputs needs class ids 0..2; "
                                         r"y holds \{0, 1, 2, 3\}"):
        plot_decision_boundary(MLP(2, [3], seed=0), X, y)


def test_boundary_refuses_bad_threshold_and_title(moons):
    model, X, y = moons
    for bad in (math.nan, "0.5", True):
        with pytest.raises(ValueError, match=r"threshold=.*must be a finite number"):
            plot_decision_boundary(model, X, y, threshold=bad)
    with pytest.raises(TypeError, match="title must be a str"):
        plot_decision_boundary(model, X, y, title=3)


# --- plot_decision_boundary: size guard --------------------------------------------------

@pytest.mark.parametrize("res", [5000, plots.MAX_RESOLUTION + 1, 1, 0, -3, 2.5, "100", True])
def test_boundary_resolution_is_limited_and_refused_at_once(moons, res):
    model, X, y = moons
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=rf"resolution={res!r}\): resolution must be an int "
                                         rf"from 2 to {plots.MAX_RESOLUTION}"):
        plot_decision_boundary(model, X, y, resolution=res)
    assert time.perf_counter() - t0 < 1.0   # refused before building any grid


def test_boundary_resolution_limit_is_documented_and_can_be_raised(moons, monkeypatch):
    assert "MAX_RESOLUTION" in plot_decision_boundary.__doc__
    model, X, y = moons
    monkeypatch.setattr(plots, "MAX_RESOLUTION", 4)
    with pytest.raises(ValueError, match="from 2 to 4"):
        plot_decision_boundary(model, X, y, resolution=5)
    assert plot_decision_boundary(model, X, y, resolution=4) is not None


def test_grid_is_evaluated_in_bounded_chunks(moons, monkeypatch):
    model, X, _y = moons
    seen = []
    real = plots.forward_numpy

    def spy(m, pts):
        seen.append(len(pts))
        return real(m, pts)
    monkeypatch.setattr(plots, "forward_numpy", spy)
    monkeypatch.setattr(plots, "_CHUNK", 1000)
    xx, _, out = plots.grid_scores(model, X, resolution=50)
    assert out.shape == (2500, 1) and max(seen) == 1000 and sum(seen) == 2500
    assert np.allclose(out, real(model, np.column_stack([xx.ravel(), _.ravel()])))


# --- plot_history ------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [None, 3, "loss", [1.0, 2.0]])
def test_history_refuses_what_is_not_a_history(bad):
    with pytest.raises(TypeError, match=r"plot_history: expected an nn.History or a dict"):
        plot_history(bad)


# --- the live view -----------------------------------------------------------------------

def _trainer():
    X, y = datasets.moons(20, seed=0, labels="pm1")
    return Trainer(MLP(2, [4, 1], seed=0), X, y, loss="hinge")


@pytest.mark.parametrize("method", ["run", "start"])
@pytest.mark.parametrize("bad", ["a", -1, 2.5, None, True])
def test_live_view_steps_must_be_a_count(method, bad):
    view = LiveView(_trainer(), notebook=False, out=io.StringIO())
    with pytest.raises(ValueError, match=rf"LiveView.{method}\(steps={bad!r}\): steps must be "
                                         rf"an int >= 0"):
        getattr(view, method)(bad)
    assert view.trainer.steps_done == 0   # nothing trained before the refusal


def test_live_training_steps_must_be_a_count():
    X, y = datasets.moons(20, seed=0, labels="pm1")
    with pytest.raises(ValueError, match=r"live_training\(steps='a'\): steps must be an int"):
        live_training(MLP(2, [4, 1], seed=0), X, y, steps="a", notebook=False)


@pytest.mark.parametrize("kw, match", [
    ({"every": "a"}, r"every='a'\): every must be a positive int"),
    ({"every": True}, r"every=True\): every must be a positive int"),
    ({"resolution": 5000}, r"resolution=5000\): resolution must be an int from 2 to 200"),
    ({"resolution": "a"}, r"resolution='a'\): resolution must be an int"),
])
def test_live_view_options_are_checked(kw, match):
    with pytest.raises(ValueError, match=match):
        LiveView(_trainer(), notebook=False, **kw)


def test_live_view_run_zero_steps_is_a_no_op():
    out = io.StringIO()
    view = LiveView(_trainer(), notebook=False, out=out).run(0)
    assert view.trainer.steps_done == 0 and out.getvalue() == ""


def test_boundary_refuses_a_model_whose_outputs_overflow(moons):
    model, X, y = moons
    for n in model.layers[0].neurons:
        n.w[0].data = 1e300
    model.layers[1].neurons[0].w[0].data = 1e300
    with pytest.raises(ValueError, match="outputs are NaN or infinite on the grid"):
        plot_decision_boundary(model, X, y, resolution=10)


def test_boundary_refuses_a_model_with_an_empty_layer(moons):
    _, X, y = moons
    model = MLP(2, [4, 1], seed=0)
    model.layers[1].neurons = []
    with pytest.raises(TypeError, match=r"plot_decision_boundary\(model\): expected an MLP"):
        plot_decision_boundary(model, X, y)


def test_live_view_without_ipywidgets_names_the_extra(monkeypatch):
    import sys

    from nn import MLP, Trainer, datasets
    from visualize import LiveView

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # as if it were not installed
    X, y = datasets.moons(20, seed=0, labels="pm1")
    trainer = Trainer(MLP(2, [4, 1], seed=0), X, y)
    with pytest.raises(ModuleNotFoundError, match=r"needs ipywidgets: pip install "
                                                  r"'gradwire\[notebook\]'"):
        LiveView(trainer, notebook=True)
    LiveView(trainer, notebook=False, out=io.StringIO())  # text output needs no widgets
