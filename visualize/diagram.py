"""Graphviz diagrams of a computational graph: the lecture's circuit look and micrograd's boxes.

:func:`draw` turns the graph below a :class:`~autodiff.Value` into a ``graphviz.Digraph``
(which Jupyter shows inline); :func:`render` writes it to an svg/png/pdf file.  Style
``"circuit"`` draws what the lecture (and CS231n's notes) draw: inputs as named wires,
each gate a small circle labelled by its op (``*``, ``+``, ``*-1``, ``exp``, ``+1``,
``1/x``), the forward value in green above each wire and the gradient in red below.
Style ``"record"`` draws micrograd's ``label | data | grad`` boxes with an op node
between.  Every number comes from the graph itself (``.data`` and the ``.grad`` that
``backward()`` left); nothing is recomputed here.  All text goes through HTML-like labels
with escaping, so labels holding ``| { } < > " \\`` or newlines render.  A graph larger
than ``max_nodes`` raises :class:`GraphTooLarge` instead of keeping ``dot`` busy for
minutes, and a missing ``dot`` program raises :class:`GraphvizNotFound` saying how to
install it.

    >>> from autodiff import Value
    >>> a = Value(2.0, label="a")
    >>> g = draw(a * 3)
    >>> 'label="*3"' in g.source or "*3" in g.source
    True
"""
from __future__ import annotations

import html
import os
from typing import Any, Dict, List, Optional

import graphviz

from autodiff import Value
from autodiff.explain import fmt, graph_order
from autodiff.micrograd_compat import ForeignNode, as_graph, is_micrograd_style
from autodiff.files import atomic_write

__all__ = ["draw", "render", "Diagram", "GraphTooLarge", "GraphvizNotFound", "GREEN", "RED",
           "escape", "value_svg", "DEFAULT_MAX_NODES"]

GREEN = "#1a7f37"   # forward values (the slides' green)
RED = "#cf222e"     # gradients (the slides' red)
DEFAULT_MAX_NODES = 300
_FONT = "Helvetica"

INSTALL_HELP = ("Graphviz's `dot` program was not found on the PATH; gradwire needs it to "
                "lay out diagrams. Install Graphviz: `sudo apt-get install graphviz` "
                "(Debian/Ubuntu), `brew install graphviz` (macOS) or `conda install "
                "graphviz`, then make sure `dot -V` works in a shell.")


class GraphvizNotFound(RuntimeError):
    """The Graphviz ``dot`` executable is missing; the message says how to install it."""


class GraphTooLarge(ValueError):
    """The graph has more nodes than ``max_nodes``; the message says what to use instead."""


class Diagram(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering errors say how to install Graphviz.

    Shows inline in Jupyter like any Digraph; ``.source`` is the DOT text."""

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound(INSTALL_HELP) from None

    def render(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound(INSTALL_HELP) from None


def escape(text: str) -> str:
    """Text made safe inside a Graphviz HTML-like label (``<``, ``&``, quotes, newlines).

        >>> escape('a<b> | "c"\\nd')
        'a&lt;b&gt; | &quot;c&quot;<br/>d'
    """
    s = html.escape(str(text), quote=True)
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    return s.replace("\n", "<br/>")


def _num(x: Any) -> float:
    return x.data if isinstance(x, Value) else float(x)


def _check_args(root: Any, style: str, rankdir: str, precision: Any, max_nodes: Any) -> None:
    if not isinstance(root, (Value, ForeignNode)):
        raise TypeError(f"draw(root): expected a Value, got {type(root).__name__} (a gradwire "
                        "Value, or a micrograd-style one with data, grad, _prev and _op); "
                        "to draw a network use visualize.draw_network(model)")
    if style not in ("circuit", "record"):
        raise ValueError(f"draw(style={style!r}): style must be 'circuit' or 'record'")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw(rankdir={rankdir!r}): rankdir must be 'LR', 'RL', 'TB' or 'BT'")
    if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 12:
        raise ValueError(f"draw(precision={precision!r}): precision must be an int from 0 to 12")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"draw(max_nodes={max_nodes!r}): max_nodes must be a positive int")


def _nodes(root: Any, max_nodes: int, style: str) -> List[Any]:
    nodes = graph_order(root)
    if len(nodes) > max_nodes:
        other = ("style='record' (more compact) or " if style == "circuit" else "")
        raise GraphTooLarge(
            f"this graph has {len(nodes)} nodes, more than max_nodes={max_nodes}: Graphviz "
            f"would take very long to lay it out and the picture would be unreadable. Draw a "
            f"smaller part of it, use {other}visualize.draw_network(model) for a network, or "
            f"pass max_nodes={len(nodes)} (or more) to draw it anyway.")
    return nodes


def draw(root: Value, style: str = "circuit", rankdir: str = "LR", grads: bool = True,
         precision: int = 2, max_nodes: int = DEFAULT_MAX_NODES, ids: bool = False,
         grad_of: Optional[Dict[int, float]] = None,
         names: Optional[Dict[int, str]] = None,
         widest: Optional[Dict[int, str]] = None) -> Diagram:
    """The graph below ``root`` as a ``graphviz.Digraph`` (shows inline in Jupyter).

    ``style='circuit'`` draws the lecture's circuit (values green above the wires,
    gradients red below); ``style='record'`` draws ``label | data | grad`` boxes.
    ``grads=False`` leaves the gradients out, ``precision`` sets the decimals.  DOT node
    names are ``n<k>`` (the node's place in topological order) and ``g<k>`` for gates;
    ``ids=True`` also gives the SVG groups ids (``wire-n<k>``, ``gate-n<k>``) for the stepper,
    and ``grad_of`` (``{id(node): gradient}``, from :func:`autodiff.backward_steps`) shows
    those gradients instead of ``.grad``, without running ``backward()``; ``names``
    (``{id(node): name}``, from :func:`autodiff.explain.node_names`) writes each gate's
    output name small beside its wire, so captions can call it by name; ``widest``
    (``{id(node): text}``) makes a wire long enough for the longest gradient text the
    stepper will put under it (a running sum ``0.20 + 0.20 = 0.40``).  ``root`` may
    also be a micrograd-style object (``data``, ``grad``, ``_prev``, ``_op``).  A fused
    ``w·x+b`` gate's inputs read as its formula: b, then each w_i beside its x_i, a number
    x_i drawn as a named input stub ``x0``, ``x1``... (not a node of the graph).

        >>> from autodiff import Value
        >>> x = Value(3.0, label="x"); y = x * x; y.backward()
        >>> d = draw(y, style="record")
        >>> d.source.count("n0 -> g1")      # x feeds the '*' gate twice
        2
    """
    if not isinstance(root, Value):
        root = as_graph(root, "draw(root)") if is_micrograd_style(root) else root
    _check_args(root, style, rankdir, precision, max_nodes)
    nodes = _nodes(root, max_nodes, style)
    index: Dict[int, int] = {id(v): k for k, v in enumerate(nodes)}
    d = Diagram(name="gradwire", format="svg")
    d.attr(rankdir=rankdir)
    gfun = (lambda v: _num(v.grad)) if grad_of is None else (lambda v: grad_of[id(v)])
    if style == "circuit":
        _draw_circuit(d, root, nodes, index, grads and gfun, precision, ids, names or {},
                      widest or {})
    else:
        _draw_record(d, root, nodes, index, grads and gfun, precision, ids, names or {})
    return d


def _value_cell(v: Value, precision: int) -> str:
    return f'<font color="{GREEN}">{fmt(_num(v.data), precision)}</font>'


def _grad_cell(g: float, precision: int) -> str:
    return f'<font color="{RED}">{fmt(g, precision)}</font>'


def _gate(d: Diagram, k: int, v: Value, ids: bool, **extra: str) -> None:
    """Node ``g{k}``: the small circle of v's gate, labelled as the op table says."""
    size = "0.4" if len(v.gate) < 5 else "0.62"  # a neuron's 'w·x+b' needs a wider circle
    attrs = {"shape": "circle", "label": f"<{escape(v.gate)}>", "width": size,
             "height": size, "fixedsize": "true", **extra}
    if ids:
        attrs["id"] = f"gate-n{k}"
    if isinstance(v, Value) and v.op == "affine":
        attrs["ordering"] = "in"  # b, w0, x0, w1, x1, ... top to bottom, as the formula
    d.node(f"g{k}", **attrs)


def _sources(d: Diagram, v: Any, index: Dict[int, int], stubs: Dict[tuple, str],
             precision: int, port: str, record: bool) -> List[str]:
    """The DOT names feeding v's gate, in its formula's order.  A fused ``w·x+b`` node's
    number inputs get a stub ``x<i>`` each, drawn as an input wire beside its weight
    (each gate its own, so every neuron reads as its formula) but not a node of the
    graph."""
    if not (isinstance(v, Value) and v.op == "affine"):
        return [f"n{index[id(p)]}{port}" for p in v.parents]
    out = []
    for k, (p, q) in enumerate(zip(v._a, v._b)):
        out.append(f"n{index[id(p)]}{port}")
        if k == 0:
            continue  # the bias's partner, the 1 of b*1
        if isinstance(q, Value):
            out.append(f"n{index[id(q)]}{port}")
            continue
        key = (id(v), k - 1)
        if key not in stubs:
            stubs[key] = f"x{len(stubs)}s"
            name, val = f"x{k - 1}", f'<font color="{GREEN}">{fmt(q, precision)}</font>'
            if record:
                label = ('<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
                         f"<tr><td>{name}</td><td>data {val}</td></tr></table>>")
            else:
                label = ('<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
                         f'<tr><td rowspan="2" align="right">{name}&nbsp;</td><td>{val}</td>'
                         '</tr><tr><td port="wire" height="1" width="44" sides="T" '
                         'border="1"></td></tr></table>>')
            d.node(stubs[key], shape="none", margin="0", label=label)
        out.append(stubs[key] + port)
    return out


def _wire_width(text: Optional[str]) -> int:
    """Points for a wire: 44, or enough for ``text`` at the labels' 11pt (about 7.5pt
    per character of digits and signs)."""
    return 44 if not text else max(44, int(7.5 * len(text)) + 8)


def _draw_circuit(d: Diagram, root: Any, nodes: List[Any], index: Dict[int, int],
                  grads: Any, precision: int, ids: bool, names: Dict[int, str],
                  widest: Dict[int, str]) -> None:
    d.attr(nodesep="0.15", ranksep="0.25")
    d.attr("node", fontname=_FONT, fontsize="11")
    d.attr("edge", arrowsize="0.6")
    stubs: Dict[tuple, str] = {}
    for k, v in enumerate(nodes):
        name = f"n{k}"
        left = right = top = ""
        rows = 3 if grads else 2
        wire = v.label or names.get(id(v), "")  # a gate's output: its label, or its name
        if v.is_leaf:
            left = f'<td rowspan="{rows}" align="right">{escape(v.label or name)}&nbsp;</td>'
        if v is root and wire and not v.is_leaf:
            right = f'<td rowspan="{rows}" align="left">&nbsp;{escape(wire)}</td>'
        elif wire and not v.is_leaf:
            top = f'<tr><td><font color="#6e7781" point-size="9">{escape(wire)}</font></td></tr>'
        rows_html = (f"{top}<tr>{left}<td>{_value_cell(v, precision)}</td>{right}</tr>"
                     f'<tr><td port="wire" height="1" width="{_wire_width(widest.get(id(v)))}" '
                     'sides="T" border="1"></td></tr>')
        if grads:
            rows_html += f"<tr><td>{_grad_cell(grads(v), precision)}</td></tr>"
        label = ('<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
                 f"{rows_html}</table>>")
        attrs = {"shape": "none", "margin": "0", "label": label}
        if ids:
            attrs["id"] = f"wire-{name}"
        d.node(name, **attrs)
        if not v.is_leaf:
            _gate(d, k, v, ids, fontsize="11" if len(v.gate) < 4 else "9")
            for src in _sources(d, v, index, stubs, precision, ":wire:e", False):
                d.edge(src, f"g{k}")
            d.edge(f"g{k}", f"{name}:wire:w", arrowhead="none")


def _draw_record(d: Diagram, root: Any, nodes: List[Any], index: Dict[int, int],
                 grads: Any, precision: int, ids: bool,
                 names: Optional[Dict[int, str]] = None) -> None:
    d.attr("node", fontname=_FONT, fontsize="11")
    d.attr("edge", arrowsize="0.6")
    stubs: Dict[tuple, str] = {}
    for k, v in enumerate(nodes):
        name = f"n{k}"
        wire = v.label or (names or {}).get(id(v), "")
        cells = [f"<td>{escape(wire) if wire else '&nbsp;'}</td>",
                 f'<td>data <font color="{GREEN}">{fmt(_num(v.data), precision)}</font></td>']
        if grads:
            cells.append(f'<td>grad {_grad_cell(grads(v), precision)}</td>')
        label = ('<<table border="0" cellborder="1" cellspacing="0" cellpadding="4"><tr>'
                 + "".join(cells) + "</tr></table>>")
        attrs = {"shape": "none", "margin": "0", "label": label}
        if ids:
            attrs["id"] = f"wire-{name}"
        d.node(name, **attrs)
        if not v.is_leaf:
            _gate(d, k, v, ids)
            for src in _sources(d, v, index, stubs, precision, "", True):
                d.edge(src, f"g{k}")
            d.edge(f"g{k}", name)


_FORMATS = ("svg", "png", "pdf")


def render(graph: Any, path: str, **draw_kwargs: Any) -> str:
    """Write a diagram to ``path``; the extension (.svg, .png, .pdf) picks the format.

    ``graph`` is a Value (drawn with ``draw(graph, **draw_kwargs)``) or a Digraph from
    :func:`draw` / :func:`draw_network`.  The file is written atomically; returns ``path``.
    """
    ext = os.path.splitext(str(path))[1].lower().lstrip(".")
    if ext not in _FORMATS:
        raise ValueError(f"render(path={str(path)!r}): the extension must be one of "
                         f".svg, .png, .pdf (it picks the file format), got {ext or 'none'!r}")
    if isinstance(graph, Value) or is_micrograd_style(graph):
        graph = draw(graph, **draw_kwargs)
    elif draw_kwargs:
        raise TypeError("render: drawing options only apply when graph is a Value")
    if not isinstance(graph, graphviz.Digraph):
        raise TypeError(f"render(graph): expected a Value or a graphviz.Digraph, got "
                        f"{type(graph).__name__}")
    try:
        data = graph.pipe(format=ext)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFound(INSTALL_HELP) from None
    return atomic_write(path, lambda f: f.write(data), binary=True)


def value_svg(v: Value, max_nodes: int = 40) -> Optional[str]:
    """SVG of a Value's graph for Jupyter (record style), or None (so the text repr
    shows) for a leaf, a graph past ``max_nodes``, or no ``dot``."""
    if v.is_leaf:
        return None
    try:
        return draw(v, style="record", max_nodes=max_nodes).pipe(format="svg", encoding="utf-8")
    except (GraphTooLarge, GraphvizNotFound):
        return None
