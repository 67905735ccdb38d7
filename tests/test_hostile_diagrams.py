"""Diagrams and network pictures given hostile labels, slow layouts and odd arguments.

Labels show as typed (backslashes, control characters, lone surrogates), a graph that
would keep Graphviz busy for minutes is drawn fast or stopped at a time limit with a clear
error, and bad arguments to the public functions raise TypeError/ValueError naming them.
"""
import html
import os
import re
import time
from pathlib import Path

import graphviz
import pytest

from autodiff import Value, affine
from nn import MLP
from visualize import diagram, draw_network
from visualize.diagram import GraphTooLarge, LayoutTimeout, draw, render, value_svg
from visualize.expr import build
from visualize.network import forward_numpy, layer_activations


def svg_texts(svg):
    """The text a person sees in an SVG, entities decoded."""
    return [html.unescape(t).replace("\xa0", " ").strip()
            for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def sin_product(n=90):
    """sin(x)*sin(x)*...: one x shared by n sin gates down a long product."""
    f, _ = build("*".join(["sin(x)"] * n), {"x": 0.5})
    f.backward()
    return f


def dot_children():
    """Running `dot` processes started by this test process (Linux /proc)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/comm") as fh:
                comm = fh.read().strip()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and comm == "dot":
            found.append(pid)
    return found


# --- labels -------------------------------------------------------------------------------

@pytest.mark.parametrize("style", ["circuit", "record"])
@pytest.mark.parametrize("label", ["a\\G\\N", "x\\\\y", "tail\\G\\", "\\E\\T\\H\\L\\l\\r"])
def test_backslashes_in_labels_render_as_typed(label, style):
    x = Value(2.0, label)
    y = x * Value(3.0, "b")
    y.label = label
    y.backward()
    texts = svg_texts(draw(y, style=style).pipe(format="svg", encoding="utf-8"))
    assert label in texts
    assert "gradwire" not in " ".join(texts)  # \G would print the graph's name


@pytest.mark.parametrize("style", ["circuit", "record"])
@pytest.mark.parametrize("label,shown", [("a\x00b", "a\\x00b"), ("bell\x07", "bell\\x07"),
                                         ("lone\ud800", "lone\\ud800"), ("nc\ufffe", "nc\\ufffe"),
                                         ("esc\x1b[31m", "esc\\x1b[31m")])
def test_control_characters_and_lone_surrogates_show_escaped(label, shown, style):
    x = Value(1.0, label)
    y = (x * 2).tanh()
    y.label = label
    y.backward()
    svg = draw(y, style=style).pipe(format="svg", encoding="utf-8")
    assert shown in svg_texts(svg)
    assert value_svg(y) is not None  # Jupyter's picture works too


# --- slow layouts ---------------------------------------------------------------------------

def test_shared_input_down_a_long_product_is_drawn_with_short_wires():
    f = sin_product(90)
    for style in ("circuit", "record"):
        d = draw(f, style=style)
        copies = re.findall(r"^\t(c\d+_\d+) \[", d.source, re.M)
        assert len(copies) > 30  # far uses of x read from a copy of its wire
        assert all(c.startswith("c0_") for c in copies)  # only x (n0) is copied
        nodes = diagram.graph_order(f)
        index = {id(v): k for k, v in enumerate(nodes)}
        assert diagram._far_uses(nodes, index, diagram.LONG_WIRE_BUDGET) == {
            (int(c[1:].split("_")[0]), int(c.split("_")[1])) for c in copies}
        svg = d.pipe(format="svg", encoding="utf-8")  # within the default time limit
        assert svg_texts(svg).count("x") == 1 + len(copies)  # x still named at each use


def test_layout_overrun_stops_dot_with_a_clear_error(monkeypatch):
    monkeypatch.setattr(diagram, "LONG_WIRE_BUDGET", 10**9)  # no copies: a minutes-long layout
    d = draw(sin_product(90), timeout=0.5)
    t = time.perf_counter()
    with pytest.raises(LayoutTimeout) as e:
        d.pipe(format="svg")
    assert time.perf_counter() - t < 20
    msg = str(e.value)
    assert "0.5 s" in msg and "timeout=" in msg and "smaller part" in msg
    assert isinstance(e.value, GraphTooLarge)  # callers handling "too large" handle it too
    if os.path.isdir("/proc"):
        assert dot_children() == []  # the stopped dot does not keep running


def test_render_and_jupyter_honour_the_time_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(diagram, "LONG_WIRE_BUDGET", 10**9)
    f = sin_product(90)
    with pytest.raises(LayoutTimeout):
        render(f, str(tmp_path / "slow.svg"), timeout=0.5)
    plain = graphviz.Digraph(body=draw(f).body)  # a Digraph not made by gradwire
    with pytest.raises(LayoutTimeout):
        render(plain, str(tmp_path / "plain.svg"), timeout=0.5)
    assert os.listdir(tmp_path) == []
    assert value_svg(f, max_nodes=200, timeout=0.5) is None  # the text repr shows instead


def test_time_limit_is_checked():
    x = Value(1.0) * 2
    for bad in (0, -1, float("nan"), float("inf"), "a", True):
        with pytest.raises(ValueError, match="timeout"):
            draw(x, timeout=bad)
        with pytest.raises(ValueError, match="timeout"):
            render(x, "x.svg", timeout=bad)


def test_many_uses_are_refused_before_dot_runs():
    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(0.5, "c")
    z = affine([a] * 200, [b] * 200, c)  # 4 nodes, 401 edges
    with pytest.raises(GraphTooLarge) as e:
        draw(z, max_nodes=100)
    assert "401 edges" in str(e.value) and "max_edges=401" in str(e.value)
    assert draw(z, max_edges=401).source.count("-> g3") == 401


def test_diagram_render_writes_atomically_with_the_time_limit(tmp_path, monkeypatch):
    x = Value(2.0, "x")
    d = draw(x.exp())
    out = d.render(outfile=str(tmp_path / "e.svg"), timeout=30)
    assert out == str(tmp_path / "e.svg")
    assert Path(out).read_bytes()[:5] == b"<?xml"
    assert (tmp_path / "e.gv").read_text() == d.source
    monkeypatch.setattr(diagram, "LONG_WIRE_BUDGET", 10**9)
    with pytest.raises(LayoutTimeout):
        draw(sin_product(90)).render(str(tmp_path / "slow"), timeout=0.5)
    assert sorted(os.listdir(tmp_path)) == ["e.gv", "e.svg"]


# --- arguments ------------------------------------------------------------------------------

def test_draw_grad_of_is_checked():
    x = Value(2.0, "x")
    y = x * 3
    with pytest.raises(ValueError, match=r"grad_of.*node n0 \(x\) has no gradient"):
        draw(y, grad_of={})
    with pytest.raises(TypeError, match="grad_of"):
        draw(y, grad_of=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"grad_of.*gradient 'a'"):
        draw(y, grad_of={id(x): "a", id(y): 1.0})
    d = draw(y, grad_of={id(x): 3.0, id(y): 1.0})
    assert ">3.00<" in d.source


def test_draw_flags_are_checked():
    y = Value(2.0) * 3
    with pytest.raises(TypeError, match="grads"):
        draw(y, grads="no")
    with pytest.raises(TypeError, match="ids"):
        draw(y, ids=1)
    with pytest.raises(ValueError, match="max_edges"):
        draw(y, max_edges=0)


def test_render_path_is_checked(tmp_path):
    with pytest.raises(TypeError, match="render\\(path=3\\)"):
        render(Value(1.0) * 2, 3)
    with pytest.raises(TypeError, match="drawing options \\(style\\)"):
        render(draw(Value(1.0) * 2), str(tmp_path / "a.svg"), style="record")


class Odd:
    """A stand-in with whatever attributes a test gives it."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_draw_network_input_is_checked():
    m = MLP(2, [3, 1], seed=0)
    with pytest.raises(TypeError, match=r"draw_network\(x=1.0\).*list of 2 numbers"):
        draw_network(m, x=1.0)
    with pytest.raises(TypeError, match=r"x\[0\] is 'a'"):
        draw_network(m, x=["a", 1.0])
    with pytest.raises(TypeError, match="x='ab'"):
        draw_network(m, x="ab")
    with pytest.raises(ValueError, match="x has 3 values, the model takes 2"):
        draw_network(m, x=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"layer_activations\(x=None\)"):
        layer_activations(m, None)


def test_draw_network_options_are_checked():
    m = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="precision"):
        draw_network(m, precision="a")
    with pytest.raises(ValueError, match="rankdir"):
        draw_network(m, rankdir="up")
    with pytest.raises(TypeError, match="grads"):
        draw_network(m, grads="yes")
    with pytest.raises(ValueError, match="max_neurons"):
        draw_network(m, max_neurons="a")
    with pytest.raises(ValueError, match="timeout"):
        draw_network(m, timeout=-1)
    with pytest.raises(GraphTooLarge, match=r"9 weights.*max_weights=9"):
        draw_network(m, max_weights=8)


def test_draw_network_odd_models_are_named():
    good = MLP(2, [3, 1], seed=0)
    with pytest.raises(TypeError, match="expected an MLP"):
        draw_network(Odd(layers=[]))
    with pytest.raises(TypeError, match="expected an MLP"):
        draw_network(Odd(layers=5))
    with pytest.raises(ValueError, match="layer 0 has no neurons"):
        draw_network(Odd(layers=[Odd(neurons=[])]))
    n = good.layers[0].neurons[0]
    with pytest.raises(ValueError, match="layer 0 neuron 0 has no weights"):
        draw_network(Odd(layers=[Odd(neurons=[Odd(w=[], b=n.b, activation="relu")])]))
    with pytest.raises(TypeError, match="layer 0 neuron 0 has no list of weights"):
        draw_network(Odd(layers=[Odd(neurons=[Odd(w=None, b=n.b)])]))
    with pytest.raises(TypeError, match="layer 0 neuron 0 has no bias"):
        draw_network(Odd(layers=[Odd(neurons=[Odd(w=n.w)])]))
    with pytest.raises(TypeError, match="layer 0 neuron 0 weight 1 should be a Value"):
        draw_network(Odd(layers=[Odd(neurons=[Odd(w=[n.w[0], 0.5], b=n.b)])]))
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        draw_network(Odd(layers=[Odd(neurons=[Odd(w=n.w, b=n.b, activation="swish")])]))
    # a layer whose neurons do not take the previous layer's outputs
    bad = Odd(layers=[good.layers[0], Odd(neurons=[Odd(w=n.w, b=n.b, activation="linear")])])
    with pytest.raises(ValueError, match="layer 1 neuron 0 has 2 weights, but layer 0 has 3"):
        draw_network(bad)
    with pytest.raises(ValueError, match="layer 1 neuron 0 has 2 weights"):
        forward_numpy(bad, [[1.0, 2.0]])


def test_draw_network_draws_nan_weights_dashed():
    m = MLP(2, [3, 1], seed=0)
    m.layers[0].neurons[1].w[0].data = float("nan")
    m.layers[1].neurons[0].w[2].data = float("inf")
    d = draw_network(m, x=[0.5, -1.0])
    assert d.source.count("style=dashed") == 2
    assert "nan" not in re.findall(r"penwidth=([^ \]]+)", d.source)
    assert "<svg" in d.pipe(format="svg", encoding="utf-8")


def test_forward_numpy_checks_the_batch_shape():
    m = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"forward_numpy\(X\): X has shape \(4,\), expected"):
        forward_numpy(m, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match=r"shape \(1, 3\), expected \(n, 2\)"):
        forward_numpy(m, [[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="X must be a 2-D array of numbers"):
        forward_numpy(m, [["a", "b"]])
    assert forward_numpy(m, [[0.5, -1.0]])[0, 0] == pytest.approx(m([0.5, -1.0]).data)


def test_diagram_save_and_render_refuse_a_device(tmp_path):
    os.symlink("/dev/null", tmp_path / "d.gv")  # a link to a device: never written to
    d = draw(Value(2.0, "x").exp())
    with pytest.raises(OSError, match="character device"):
        d.save(str(tmp_path / "d.gv"))
    with pytest.raises(OSError, match="character device"):
        d.render(str(tmp_path / "d.gv"))
    assert sorted(os.listdir(tmp_path)) == ["d.gv"] and os.path.islink(tmp_path / "d.gv")
    path = d.save(str(tmp_path / "ok.gv"))
    assert Path(path).read_text() == d.source


def test_huge_numbers_are_drawn_in_scientific_notation():
    from autodiff.explain import fmt

    assert fmt(1e300) == "1.00e+300" and fmt(-2.5e20, 1) == "-2.5e+20"
    assert fmt(123456.789) == "123456.79" and fmt(-0.001) == "0.00"
    x = Value(1e300, label="x")
    y = x * 1.0
    y.backward()
    source = draw(y).source
    assert "1.00e+300" in source and "0" * 100 not in source
