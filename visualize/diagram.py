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

from autodiff import Value, topological_order
from autodiff.explain import fmt
from autodiff.files import atomic_write

__all__ = ["draw", "render", "Diagram", "GraphTooLarge", "GraphvizNotFound", "GREEN", "RED",
           "escape", "value_svg", "register_jupyter_display", "DEFAULT_MAX_NODES"]

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
    if not isinstance(root, Value):
        raise TypeError(f"draw(root): expected a Value, got {type(root).__name__}; to draw a "
                        "network use visualize.draw_network(model)")
    if style not in ("circuit", "record"):
        raise ValueError(f"draw(style={style!r}): style must be 'circuit' or 'record'")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw(rankdir={rankdir!r}): rankdir must be 'LR', 'RL', 'TB' or 'BT'")
    if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 12:
        raise ValueError(f"draw(precision={precision!r}): precision must be an int from 0 to 12")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"draw(max_nodes={max_nodes!r}): max_nodes must be a positive int")


def _nodes(root: Value, max_nodes: int, style: str) -> List[Value]:
    nodes = topological_order(root)
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
         grad_of: Optional[Dict[int, float]] = None) -> Diagram:
    """The graph below ``root`` as a ``graphviz.Digraph`` (shows inline in Jupyter).

    ``style='circuit'`` draws the lecture's circuit (values green above the wires,
    gradients red below); ``style='record'`` draws ``label | data | grad`` boxes.
    ``grads=False`` leaves the gradients out, ``precision`` sets the decimals.  DOT node
    names are ``n<k>`` (the node's place in topological order) and ``g<k>`` for gates;
    ``ids=True`` also gives the SVG groups ids (``wire-n<k>``, ``gate-n<k>``) for the stepper,
    and ``grad_of`` (``{id(node): gradient}``, from :func:`autodiff.backward_steps`) shows
    those gradients instead of ``.grad``, without running ``backward()``.

        >>> from autodiff import Value
        >>> x = Value(3.0, label="x"); y = x * x; y.backward()
        >>> d = draw(y, style="record")
        >>> d.source.count("n0 -> g1")      # x feeds the '*' gate twice
        2
    """
    _check_args(root, style, rankdir, precision, max_nodes)
    nodes = _nodes(root, max_nodes, style)
    index: Dict[int, int] = {id(v): k for k, v in enumerate(nodes)}
    d = Diagram(name="gradwire", format="svg")
    d.attr(rankdir=rankdir)
    gfun = (lambda v: _num(v.grad)) if grad_of is None else (lambda v: grad_of[id(v)])
    if style == "circuit":
        _draw_circuit(d, root, nodes, index, grads and gfun, precision, ids)
    else:
        _draw_record(d, root, nodes, index, grads and gfun, precision, ids)
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
    d.node(f"g{k}", **attrs)


def _draw_circuit(d: Diagram, root: Value, nodes: List[Value], index: Dict[int, int],
                  grads: Any, precision: int, ids: bool) -> None:
    d.attr(nodesep="0.15", ranksep="0.25")
    d.attr("node", fontname=_FONT, fontsize="11")
    d.attr("edge", arrowsize="0.6")
    for k, v in enumerate(nodes):
        name = f"n{k}"
        left = right = top = ""
        rows = 3 if grads else 2
        if v.is_leaf:
            left = f'<td rowspan="{rows}" align="right">{escape(v.label or name)}&nbsp;</td>'
        if v is root and v.label and not v.is_leaf:
            right = f'<td rowspan="{rows}" align="left">&nbsp;{escape(v.label)}</td>'
        elif v.label and not v.is_leaf:
            top = f'<tr><td><font color="#6e7781" point-size="9">{escape(v.label)}</font></td></tr>'
        rows_html = (f"{top}<tr>{left}<td>{_value_cell(v, precision)}</td>{right}</tr>"
                     f'<tr><td port="wire" height="1" width="44" sides="T" border="1"></td></tr>')
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
            for p in v.parents:
                d.edge(f"n{index[id(p)]}:wire:e", f"g{k}")
            d.edge(f"g{k}", f"{name}:wire:w", arrowhead="none")


def _draw_record(d: Diagram, root: Value, nodes: List[Value], index: Dict[int, int],
                 grads: Any, precision: int, ids: bool) -> None:
    d.attr("node", fontname=_FONT, fontsize="11")
    d.attr("edge", arrowsize="0.6")
    for k, v in enumerate(nodes):
        name = f"n{k}"
        cells = [f"<td>{escape(v.label) if v.label else '&nbsp;'}</td>",
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
            for p in v.parents:
                d.edge(f"n{index[id(p)]}", f"g{k}")
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
    if isinstance(graph, Value):
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


def register_jupyter_display(shell: Any = None) -> bool:
    """Have Jupyter show a Value as its graph (``value_svg``) through IPython's SVG
    display formatter; ``import visualize`` calls it for the running IPython, if any.
    Returns whether a shell was found.  The engine itself knows nothing of Jupyter."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
        if shell is None:
            return False
    shell.display_formatter.formatters["image/svg+xml"].for_type(Value, value_svg)
    return True
