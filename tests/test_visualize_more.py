"""Network view, plots, live training view, stepper page content and the demo files."""
import io
import json
import math
import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from autodiff import Value
from nn import MLP, Trainer, datasets, fit
from visualize import (
    LiveView,
    draw_network,
    live_training,
    plot_decision_boundary,
    plot_history,
    plots,
    stepper,
)
from visualize.demo import sigmoid_circuit, write_demo
from visualize.network import forward_numpy, layer_activations


@pytest.fixture(autouse=True)
def _close_pyplot_figures():
    """Figures made while pyplot is loaded are pyplot's: close them after each test."""
    yield
    import sys
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")

# --- draw_network ------------------------------------------------------------------------

def test_network_2_16_16_1_renders():
    X, y = datasets.moons(20, seed=0, labels="pm1")
    model = MLP(2, [16, 16, 1], seed=0)
    x = [float(v) for v in X[0]]
    (1 - float(y[0]) * model(x)).relu().backward()
    svg = draw_network(model, x=x).pipe(format="svg", encoding="utf-8")  # timed in bench
    assert svg.count('class="edge"') == 2 * 16 + 16 * 16 + 16
    assert svg.count('class="node"') == 2 + 16 + 16 + 1


def test_network_shows_activations_and_bias_grads():
    model = MLP(2, [2, 1], seed=3)
    x = [0.5, -1.0]
    out = model(x)
    out.backward()
    src = draw_network(model, x=x).source
    acts = layer_activations(model, x)
    assert math.isclose(acts[-1][0], out.data, rel_tol=1e-12)
    # the output neuron's activation, and its dL/dz = b.grad = 1 (linear output, L = out)
    assert f">{out.data:.2f}</font>" in src
    assert '<font color="#cf222e">1.00</font>' in src
    for n in model.layers[0].neurons:
        assert f'<font color="#cf222e">{n.b.grad:.2f}</font>'.replace("-0.00", "0.00") in src


def test_network_edge_colour_and_width_follow_weights():
    model = MLP(1, [1], seed=0)
    model.layers[0].neurons[0].w[0].data = -2.0
    src = draw_network(model).source
    assert 'color="#d1660f"' in src and "penwidth=2.20" in src  # negative, the widest
    model.layers[0].neurons[0].w[0].data = 0.5
    assert 'color="#0969da"' in draw_network(model).source


class StandInNeuron:   # micrograd's attribute names only
    def __init__(self, w, b, nonlin):
        self.w, self.b, self.nonlin = [Value(v) for v in w], Value(b), nonlin


class StandInLayer:
    def __init__(self, neurons):
        self.neurons = neurons


class StandInMLP:
    def __init__(self, layers):
        self.layers = layers


def test_network_works_from_contract_attributes_alone():
    m = StandInMLP([StandInLayer([StandInNeuron([1.0, -1.0], 0.5, True),
                                  StandInNeuron([2.0, 0.0], -3.0, True)]),
                    StandInLayer([StandInNeuron([1.0, 1.0], 0.0, False)])])
    # relu(1*1 - 1*2 + 0.5) = 0, relu(2*1 + 0 - 3) = 0... choose x = (3, 1):
    # relu(3 - 1 + 0.5) = 2.5, relu(6 - 3) = 3, output 5.5
    assert layer_activations(m, [3.0, 1.0]) == [[2.5, 3.0], [5.5]]
    assert forward_numpy(m, np.array([[3.0, 1.0]])).tolist() == [[5.5]]
    assert "5.50" in draw_network(m, x=[3.0, 1.0]).source


def test_network_errors():
    with pytest.raises(TypeError, match="expected an MLP"):
        draw_network(Value(1.0))
    with pytest.raises(ValueError, match="x has 3 values, the model takes 2"):
        draw_network(MLP(2, [1], seed=0), x=[1.0, 2.0, 3.0])


# --- plots -------------------------------------------------------------------------------

def test_forward_numpy_matches_the_model():
    X, _ = datasets.moons(15, seed=1)
    model = MLP(2, [8, 8, 1], seed=2)
    got = forward_numpy(model, X)[:, 0]
    want = [model(list(r)).data for r in X]
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_plot_decision_boundary_returns_figure():
    X, y = datasets.moons(40, seed=0, labels="pm1")
    model = MLP(2, [8, 1], seed=0)
    fig = plot_decision_boundary(model, X, y, resolution=30)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.collections) >= 2  # filled regions and the scatter of points
    assert ax.get_title() == "decision boundary"
    fig.savefig(io.BytesIO(), format="png")
    Xs, ys = datasets.spiral(10, k=3, seed=0)
    fig3 = plot_decision_boundary(MLP(2, [8, 3], seed=0), Xs, ys, resolution=20)
    assert isinstance(fig3, Figure)


def _pixel(fig, ax, x, y):
    """The RGB (0-255) of the rendered figure at data point (x, y)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="rgba", dpi=fig.dpi)
    w, h = (int(np.rint(v)) for v in fig.get_size_inches() * fig.dpi)
    img = np.frombuffer(buf.getvalue(), np.uint8).reshape(h, w, 4)
    px, py = ax.transData.transform((x, y))   # after the draw: the final layout
    return tuple(int(c) for c in img[int(np.rint(img.shape[0] - py)), int(np.rint(px)), :3])


def _rgb(colour):
    return tuple(round(255 * c) for c in matplotlib.colors.to_rgb(colour))


def _close(a, b, tol=3):
    return all(abs(p - q) <= tol for p, q in zip(a, b))


def _linear_model(nout, rows):
    """A one-layer linear model with the given weight rows (w0, w1, b)."""
    m = MLP(2, [nout], seed=0)
    for n, (w0, w1, b) in zip(m.layers[0].neurons, rows):
        n.w[0].data, n.w[1].data, n.b.data = w0, w1, b
    return m


@pytest.mark.parametrize("labels, out_activation", [((-1, 1), "linear"), ((0, 1), "linear"),
                                                    ((0, 1), "sigmoid")])
def test_boundary_regions_are_tints_of_their_own_points_colour(labels, out_activation):
    # score = x: the left half is the lower class, the right half the upper one
    model = _linear_model(1, [(1.0, 0.0, 0.0)])
    model.layers[0].neurons[0].activation = out_activation
    X = np.array([[-2.0, 0.0], [2.0, 0.0]])
    fig = plot_decision_boundary(model, X, list(labels), resolution=50)
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    assert names == (["class -1", "class +1"] if labels[0] == -1 else ["class 0", "class 1"])
    ax.get_legend().remove()   # sample the regions, not the legend box
    for x, k in ((-2.0, 0), (2.0, 1)):
        point = _pixel(fig, ax, x, 0.0)          # the marker's centre
        region = _pixel(fig, ax, x, 0.4)         # beside it, same side of the boundary
        assert _close(point, _rgb(plots.CLASS_COLOURS[k]))
        assert _close(region, _rgb(plots.tint(plots.CLASS_COLOURS[k])))
    assert _pixel(fig, ax, -2.0, 0.4) != _pixel(fig, ax, 2.0, 0.4)


def test_boundary_regions_match_points_for_three_classes():
    # class 0 wins at the left, class 1 at the right, class 2 at the top
    model = _linear_model(3, [(-1.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 3.0, -3.0)])
    X = np.array([[-2.0, -1.0], [2.0, -1.0], [0.0, 2.5]])
    fig = plot_decision_boundary(model, X, [0, 1, 2], resolution=80)
    ax = fig.axes[0]
    ax.get_legend().remove()
    for (x, y), k in zip(X, range(3)):
        assert _close(_pixel(fig, ax, x, y), _rgb(plots.CLASS_COLOURS[k]))
        assert _close(_pixel(fig, ax, x + 0.3, y - 0.3), _rgb(plots.tint(plots.CLASS_COLOURS[k])))
    # one-hot labels draw the same classes
    fig2 = plot_decision_boundary(model, X, np.eye(3), resolution=80)
    fig2.axes[0].get_legend().remove()
    assert _close(_pixel(fig2, fig2.axes[0], 2.3, -1.3), _rgb(plots.tint(plots.CLASS_COLOURS[1])))


def test_plots_show_once_through_ipython_display_and_leave_pyplot():
    import matplotlib.pyplot as plt
    X, y = datasets.moons(10, seed=0, labels="pm1")
    fig = plot_decision_boundary(MLP(2, [1], seed=0), X, y, resolution=10)
    assert isinstance(fig, plots.PlotFigure)
    assert fig in [plt.figure(n) for n in plt.get_fignums()]   # plt.show() would show it
    data, _ = fig._repr_mimebundle_()
    assert data["image/png"].startswith("iVBORw0KGgo")       # a base64 PNG
    assert fig not in [plt.figure(n) for n in plt.get_fignums()]   # shown: pyplot lets go
    plt.close("all")


def test_plot_history_says_what_each_loss_is_on():
    X, y = datasets.moons(20, seed=0, labels="pm1")
    batch = fit(MLP(2, [4, 1], seed=0), X, y, loss="hinge", steps=4, progress=False)
    mini = fit(MLP(2, [4, 1], seed=0), X, y, loss="hinge", steps=4, batch_size=5,
               progress=False)
    assert plot_history(batch).axes[0].get_title() == "loss on all rows"
    assert plot_history(mini).axes[0].get_title() == "loss on each step's batch"
    assert plot_history(mini).axes[1].get_title() == "accuracy on each step's batch"
    assert plot_history({"loss": [1.0, 0.5]}).axes[0].get_title() == "loss"


def test_plot_decision_boundary_errors():
    model = MLP(2, [1], seed=0)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plot_decision_boundary(model, np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="3 rows in X but 2 labels"):
        plot_decision_boundary(model, np.zeros((3, 2)), np.zeros(2))


def test_plot_history_from_fit():
    X, y = datasets.moons(20, seed=0, labels="pm1")
    hist = fit(MLP(2, [4, 1], seed=0), X, y, loss="hinge", steps=5, progress=False)
    fig = plot_history(hist)
    assert len(fig.axes) == 2
    line = fig.axes[0].lines[0]
    assert list(line.get_ydata()) == list(hist.loss)
    assert list(fig.axes[1].lines[0].get_ydata()) == list(hist.accuracy)
    with pytest.raises(TypeError, match=r"nn\.History or a dict"):
        plot_history([1, 2, 3])
    assert len(plot_history({"loss": [3.0, 2.0]}).axes) == 1  # no accuracy: one panel


# --- live view ---------------------------------------------------------------------------

def _trainer():
    X, y = datasets.moons(20, seed=0, labels="pm1")
    return Trainer(MLP(2, [4, 1], seed=0), X, y, loss="hinge")


def test_live_view_text_mode_prints_a_line_every_n_steps():
    out = io.StringIO()
    view = LiveView(_trainer(), every=3, notebook=False, out=out)
    view.run(7)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # after steps 3 and 6, and the final step 7
    assert lines[0].startswith("step 3  loss ") and lines[-1].startswith("step 7  loss ")
    assert view.losses == list(view.trainer.history.loss)


def test_live_training_helper_outside_notebook(capsys):
    X, y = datasets.moons(20, seed=0, labels="pm1")
    view = live_training(MLP(2, [4, 1], seed=0), X, y, steps=4, every=2, notebook=False,
                         loss="hinge")
    assert len(view.trainer.history) == 4
    assert capsys.readouterr().out.count("step ") == 2


def test_live_widget_builds_and_step_button_advances():
    import ipywidgets
    view = LiveView(_trainer(), every=1, notebook=True, resolution=10)
    assert isinstance(view.widget, ipywidgets.VBox)
    assert view.trainer.steps_done == 0
    view._on_step(None)  # pressing Step pauses and makes one update
    assert view.paused and view.trainer.steps_done == 1
    assert view._status.value.startswith("step 1  loss")
    view._on_step(None)
    assert view.trainer.steps_done == 2 and len(view.losses) == 2
    view._on_play(None)
    assert not view.paused and view._play.description == "Pause"


def test_live_background_run_ends_after_its_steps_and_at_pause():
    import asyncio

    async def scenario():
        view = LiveView(_trainer(), every=2, notebook=True, resolution=10)
        view.start(5)
        assert view.running and view.trainer.steps_done == 0   # start returns at once
        await asyncio.wait_for(view._task, timeout=30)
        assert not view.running and view.trainer.steps_done == 5
        assert view._status.value.startswith("step 5  loss") and view._image.value
        view.start(50)
        while view.trainer.steps_done < 7:
            await asyncio.sleep(0)
        view._on_play()                       # Pause: the run ends after its current step
        await asyncio.wait_for(view._task, timeout=30)
        paused_at = view.trainer.steps_done
        assert view.paused and not view.running and "(paused)" in view._status.value
        await asyncio.sleep(0.05)
        assert view.trainer.steps_done == paused_at
        view._on_play()                       # Play: the steps it had left
        assert view.running
        view.stop()
        await asyncio.wait_for(view._task, timeout=30)
        assert not view.running and view.trainer.steps_done <= paused_at + 1
        with pytest.raises(RuntimeError, match="already training"):
            view.start(3)
            view.start(3)
        view.stop()
        await view._task
        return view

    view = asyncio.run(scenario())
    assert view.error is None


def test_live_background_error_ends_the_run_and_shows_in_status():
    import asyncio

    class Failing:
        def step(self):
            raise ArithmeticError("loss is nan at step 3")

    async def scenario():
        view = LiveView(Failing(), notebook=True)
        view.start(10)
        await asyncio.wait_for(view._task, timeout=5)
        return view
    view = asyncio.run(scenario())
    assert not view.running
    assert view._status.value == ("stopped by an error: ArithmeticError: loss is nan at "
                                  "step 3")


def test_live_callback_rides_along_fit_and_pause_stops_it():
    X, y = datasets.moons(20, seed=0, labels="pm1")
    model = MLP(2, [4, 1], seed=0)
    view = LiveView(Trainer(model, X, y, loss="hinge"), every=100, notebook=False,
                    out=io.StringIO())
    hist = fit(model, X, y, loss="hinge", steps=5, progress=False, callback=view.callback)
    assert view.losses == list(hist.loss)
    view.paused = True
    hist2 = fit(model, X, y, loss="hinge", steps=5, progress=False, callback=view.callback)
    assert len(hist2) == 1


def test_live_view_errors():
    with pytest.raises(TypeError, match=r"expected an nn\.Trainer"):
        LiveView(object())
    with pytest.raises(ValueError, match="every must be a positive int"):
        LiveView(_trainer(), every=0)


# --- stepper page content (the browser test drives it) -----------------------------------

def test_stepper_page_is_self_contained(tmp_path):
    f, _ = sigmoid_circuit()
    path = stepper(f).save(str(tmp_path / "steps.html"))
    page = Path(path).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched
    data = json.loads(re.search(r'<script type="application/json" id="stepdata">(.*?)</script>',
                                page, re.S).group(1))
    assert len(data["steps"]) == 1 + 8 + 1 + 8  # start, 8 gates forward, seed, 8 back
    assert data["steps"][10]["caption"].endswith(
        "d(1/x)/dx = -1/x^2 = -0.53;  1.00 x -0.53 = -0.53  -> n11")
    assert f.grad == 0.0  # the page did not run backward() on the user's graph


def test_stepper_escapes_script_closing_in_labels():
    x = Value(1.0, "</script><b>")
    s = stepper(x * x)
    page = s.html()
    assert page.count("</script>") == 2  # only the page's own two script elements
    assert "dL/d</script>" not in page
    html_frame = s._repr_html_()
    assert html_frame.startswith("<iframe srcdoc=") and "<script>" not in html_frame


def test_stepper_shows_sum_for_a_node_used_twice():
    x = Value(0.5, "x")
    out = x.tanh() + x * -1
    caps = [st["caption"] for st in stepper(out).steps]
    assert any("dL/dx = 0.79 + (-1.00) = -0.21" in c or "dL/dx = (-1.00) + 0.79 = -0.21" in c
               for c in caps)


# --- demo --------------------------------------------------------------------------------

def test_write_demo(tmp_path):
    paths = write_demo(str(tmp_path / "out"))
    names = sorted(os.path.basename(p) for p in paths.values())
    assert names == ["network.svg", "sigmoid-record.svg", "sigmoid.svg", "steps.html"]
    for p in paths.values():
        assert os.path.getsize(p) > 1000
    circuit = Path(paths["circuit"]).read_text(encoding="utf-8")
    assert ">0.73<" in circuit and ">&#45;0.59<" in circuit
