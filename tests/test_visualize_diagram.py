"""Diagrams: the lecture's sigmoid circuit, golden DOT text, escaping, guards and errors."""
import html
import os
import re
import subprocess

import graphviz
import pytest

import visualize
from autodiff import Value
from autodiff.examples import sigmoid_circuit
from visualize.diagram import (
    GraphTooLarge,
    GraphvizNotFound,
    draw,
    register_jupyter_display,
    render,
    value_svg,
)


def svg_texts(svg):
    """The text a person sees in an SVG, entities decoded (dot writes '-' as &#45;)."""
    return [html.unescape(t).replace("\xa0", " ").strip()
            for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def greens(src):
    return re.findall(r'<font color="#1a7f37">([^<]*)</font>', src)


def reds(src):
    return re.findall(r'<font color="#cf222e">([^<]*)</font>', src)


def test_sigmoid_circuit_acceptance():
    f, _inputs = sigmoid_circuit()
    f.backward()
    g = draw(f)
    assert isinstance(g, graphviz.Digraph)
    src = g.source
    vals = greens(src)
    # the slides: inputs, then -2, 6, 4, 1, -1, 0.37, 1.37 and 0.73 at the output
    for v in ["2.00", "-1.00", "-3.00", "-2.00", "6.00", "4.00", "1.00", "0.37", "1.37"]:
        assert v in vals
    assert vals[-1] == "0.73"
    grads = reds(src)
    for gv in ["-0.20", "0.39", "-0.39", "-0.59", "0.20"]:
        assert gv in grads
    assert grads[-1] == "1.00"  # the output's gradient, df/df
    # each gate is a circle labelled by its op
    gates = re.findall(r"\[label=<([^<>]*)> fixedsize=true[^\]]*shape=circle", src)
    assert sorted(gates) == sorted(["*", "*", "+", "+", "*-1", "exp", "+1", "1/x"])
    svg = g.pipe(format="svg", encoding="utf-8")
    texts = svg_texts(svg)
    assert "<svg" in svg and "0.73" in texts and "-0.59" in texts and "1/x" in texts


def test_circuit_value_above_gradient_below_in_svg():
    f, _ = sigmoid_circuit()
    f.backward()
    svg = draw(f).pipe(format="svg", encoding="utf-8")
    # y grows downwards in SVG: the green 0.73 sits above the red 1.00 on the output wire
    y_val = float(re.search(r'y="([-\d.]+)"[^>]*fill="#1a7f37">0\.73<', svg).group(1))
    y_grad = float(re.search(r'y="([-\d.]+)"[^>]*fill="#cf222e">1\.00<', svg).group(1))
    assert y_val < y_grad


GOLDEN_CIRCUIT = """digraph gradwire {
	rankdir=LR
	nodesep=0.15 ranksep=0.25
	node [fontname=Helvetica fontsize=11]
	edge [arrowsize=0.6]
	n0 [label=<<table border="0" cellborder="0" cellspacing="0" cellpadding="1"><tr><td rowspan="3" align="right">a&nbsp;</td><td><font color="#1a7f37">2.0</font></td></tr><tr><td port="wire" height="1" width="44" sides="T" border="1"></td></tr><tr><td><font color="#cf222e">7.4</font></td></tr></table>> margin=0 shape=none]
	n1 [label=<<table border="0" cellborder="0" cellspacing="0" cellpadding="1"><tr><td><font color="#1a7f37">7.4</font></td></tr><tr><td port="wire" height="1" width="44" sides="T" border="1"></td></tr><tr><td><font color="#cf222e">1.0</font></td></tr></table>> margin=0 shape=none]
	g1 [label=<exp> fixedsize=true fontsize=11 height=0.4 shape=circle width=0.4]
	n0:wire:e -> g1
	g1 -> n1:wire:w [arrowhead=none]
}
"""  # noqa: E501 - the exact DOT text, one node per line


def test_golden_circuit_exp():
    # exp(2) = 7.389 -> '7.4' at precision 1; d exp/dx = exp(2), so a.grad is 7.4 as well
    a = Value(2.0, "a")
    y = a.exp()
    y.backward()
    assert draw(y, precision=1).source == GOLDEN_CIRCUIT


GOLDEN_RECORD = """digraph gradwire {
	rankdir=TB
	node [fontname=Helvetica fontsize=11]
	edge [arrowsize=0.6]
	n0 [label=<<table border="0" cellborder="1" cellspacing="0" cellpadding="4"><tr><td>x</td><td>data <font color="#1a7f37">3.00</font></td></tr></table>> margin=0 shape=none]
	n1 [label=<<table border="0" cellborder="1" cellspacing="0" cellpadding="4"><tr><td>&nbsp;</td><td>data <font color="#1a7f37">9.00</font></td></tr></table>> margin=0 shape=none]
	g1 [label=<*> fixedsize=true height=0.4 shape=circle width=0.4]
	n0 -> g1
	n0 -> g1
	g1 -> n1
}
"""  # noqa: E501 - the exact DOT text, one node per line


def test_golden_record_square_shows_both_uses():
    x = Value(3.0, "x")
    y = x * x   # one '*' gate fed twice by x: two edges n0 -> g1
    assert draw(y, style="record", rankdir="TB", grads=False).source == GOLDEN_RECORD


def test_a_plus_a_shows_two_edges_in_circuit():
    a = Value(1.5, "a")
    s = draw(a + a).source
    assert s.count("n0:wire:e -> g1") == 2


def test_small_shared_graphs_keep_one_wire_per_node():
    """Only far uses in a big graph get a copy of their wire; a lecture graph has none."""
    x = Value(3.0, "x")
    y = (x * x + x).tanh() * x
    d = draw(y)
    assert not re.search(r"^\tc\d", d.source, re.M)
    assert d.source.count("n0:wire:e ->") == 4


LABELS = ["a|b", "{set}", "<tag>", 'say "hi"', "back\\slash", "two\nlines", "&amp; ;",
          "|{<>}\"\\\n all"]


@pytest.mark.parametrize("style", ["circuit", "record"])
@pytest.mark.parametrize("label", LABELS)
def test_escaping_renders(label, style):
    x = Value(1.0, label)
    y = (x * 2).tanh()
    y.label = label
    y.backward()
    svg = draw(y, style=style).pipe(format="svg", encoding="utf-8")  # raises on a dot error
    texts = " ".join(svg_texts(svg))
    for line in label.split("\n"):  # every line of the label shows, as typed
        assert line.strip() in texts


def test_max_nodes_guard_names_size_and_alternatives():
    x = Value(0.5, "x")
    y = x
    for _ in range(30):
        y = y * 1.01
    with pytest.raises(GraphTooLarge) as e:
        draw(y, max_nodes=10)
    msg = str(e.value)
    assert "31 nodes" in msg and "max_nodes=10" in msg
    assert "style='record'" in msg and "draw_network" in msg and "max_nodes=31" in msg
    assert len(draw(y, max_nodes=31).source) > 0


def test_bad_arguments_raise_clear_errors():
    x = Value(1.0)
    with pytest.raises(TypeError, match="expected a Value, got list"):
        draw([x])
    with pytest.raises(ValueError, match="style must be 'circuit' or 'record'"):
        draw(x, style="fancy")
    with pytest.raises(ValueError, match="rankdir"):
        draw(x, rankdir="up")
    with pytest.raises(ValueError, match="precision"):
        draw(x, precision=-1)
    with pytest.raises(ValueError, match="max_nodes"):
        draw(x, max_nodes=0)


@pytest.mark.parametrize("ext,magic", [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_render_by_extension(tmp_path, ext, magic):
    f, _ = sigmoid_circuit()
    f.backward()
    path = render(f, str(tmp_path / f"sig.{ext}"))
    with open(path, "rb") as fh:
        assert fh.read(5).startswith(magic)
    assert os.listdir(tmp_path) == [f"sig.{ext}"]  # no temporary file left


def test_render_rejects_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match=r"must be one of \.svg, \.png, \.pdf"):
        render(Value(1.0), str(tmp_path / "x.jpg"))


def test_missing_dot_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no `dot` anywhere
    f, _ = sigmoid_circuit()
    with pytest.raises(GraphvizNotFound, match=r"apt-get install graphviz.*brew install graphviz"):
        render(f, str(tmp_path / "a.svg"))
    with pytest.raises(GraphvizNotFound, match="Graphviz"):
        draw(f).pipe(format="svg")
    assert value_svg(f) is None  # Jupyter falls back to the text repr


def test_value_shows_inline_in_jupyter():
    """visualize registers value_svg with IPython's SVG formatter: a Value displays as its
    graph, and a graph too big (or a bare leaf) falls back to the text repr."""
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.display_formatter.formatters["image/svg+xml"].enabled = True  # as in a kernel
    try:
        assert register_jupyter_display(shell)
        f, _ = sigmoid_circuit()
        svg = shell.display_formatter.format(f)[0]["image/svg+xml"]
        assert svg.lstrip().startswith("<?xml") and "1/x" in svg
        big = Value(1.0)
        for _ in range(50):
            big = big + 1
        assert "image/svg+xml" not in shell.display_formatter.format(big)[0]
        assert "image/svg+xml" not in shell.display_formatter.format(Value(2.0, "x"))[0]
    finally:
        InteractiveShell.clear_instance()
    assert not hasattr(Value, "_repr_svg_")  # the engine does not draw itself


def test_autodiff_does_not_import_graphviz():
    code = "import sys, autodiff; autodiff.Value(1.0) * 2; print('graphviz' in sys.modules)"
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.stdout.strip() == "False", out.stderr


def test_public_names():
    for name in ["draw", "render", "draw_network", "stepper", "plot_decision_boundary",
                 "plot_history", "live_training"]:
        assert callable(getattr(visualize, name))
