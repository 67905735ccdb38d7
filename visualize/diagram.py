"""Graphviz diagrams of a computational graph: the lecture's circuit look and micrograd's boxes.

:func:`draw` turns the graph below a :class:`~autodiff.Value` into a ``graphviz.Digraph``
(which Jupyter shows inline); :func:`render` writes it to an svg/png/pdf file.  Style
``"circuit"`` draws what the lecture (and CS231n's notes) draw: inputs as named wires,
each gate a small circle labelled by its op (``*``, ``+``, ``*-1``, ``exp``, ``+1``,
``1/x``), the forward value in green above each wire and the gradient in red below.
Style ``"record"`` draws micrograd's ``label | data | grad`` boxes with an op node
between.  Every number comes from the graph itself (``.data`` and the ``.grad`` that
``backward()`` left); nothing is recomputed here.  All text goes through HTML-like labels
with escaping, so labels holding ``| { } < > " \\`` or newlines render as typed, and
control characters or lone surrogates show as ``\\x00``-style escapes.

Layout stays fast: a wire that would run across much of the picture to a far consumer
(a shared ``x`` feeding ninety ``sin`` gates down a long product) is drawn as a short
copy of that wire beside the consumer (same name and value, in grey) once the long wires
together would pass :data:`LONG_WIRE_BUDGET` ranks, since those long wires are what
keep Graphviz busy.  A graph with more than ``max_nodes`` nodes or ``max_edges`` edges
raises :class:`GraphTooLarge` before ``dot`` runs; ``dot`` itself runs with a time limit
(``timeout``, :data:`DEFAULT_TIMEOUT` seconds) and an overrun raises
:class:`LayoutTimeout`; a missing ``dot`` program raises :class:`GraphvizNotFound`
saying how to install it.

    >>> from autodiff import Value
    >>> a = Value(2.0, label="a")
    >>> g = draw(a * 3)
    >>> 'label="*3"' in g.source or "*3" in g.source
    True
"""

from __future__ import annotations

import errno
import html
import math
import os
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

import graphviz

from autodiff import Value
from autodiff.explain import fmt, graph_order
from autodiff.files import atomic_write
from autodiff.micrograd_compat import ForeignNode, as_graph, is_micrograd_style
from autodiff.value import _is_real

__all__ = [
    "draw",
    "render",
    "Diagram",
    "GraphTooLarge",
    "GraphvizNotFound",
    "LayoutTimeout",
    "GREEN",
    "RED",
    "escape",
    "value_svg",
    "register_jupyter_display",
    "DEFAULT_MAX_NODES",
    "DEFAULT_TIMEOUT",
    "LONG_WIRE_BUDGET",
]

GREEN = "#1a7f37"  # forward values (the slides' green)
RED = "#cf222e"  # gradients (the slides' red)
GREY = "#6e7781"  # names, and the copies of a long wire
DEFAULT_MAX_NODES = 300
DEFAULT_TIMEOUT = 20.0  # seconds `dot` may take before LayoutTimeout
LONG_WIRE_BUDGET = 400  # total extra ranks the wires may cross before far uses get copies
_FONT = "Helvetica"

INSTALL_HELP = (
    "Graphviz's `dot` program was not found on the PATH; gradwire needs it to "
    "lay out diagrams. Install Graphviz: `sudo apt-get install graphviz` "
    "(Debian/Ubuntu), `brew install graphviz` (macOS) or `conda install "
    "graphviz`, then make sure `dot -V` works in a shell."
)


class GraphvizNotFound(RuntimeError):
    """The Graphviz ``dot`` executable is missing; the message says how to install it."""


class GraphTooLarge(ValueError):
    """The graph has more nodes than ``max_nodes`` (or edges than ``max_edges``); the
    message says what to use instead."""


class LayoutTimeout(GraphTooLarge):
    """Graphviz's ``dot`` did not finish within the time limit and was stopped; the message
    says what to try (a smaller graph, a longer ``timeout``)."""


def _check_timeout(timeout: Any, where: str) -> Optional[float]:
    if timeout is None:
        return None
    if not _is_real(timeout) or not timeout > 0 or not math.isfinite(timeout):
        raise ValueError(
            f"{where}(timeout={timeout!r}): timeout must be a positive number "
            "of seconds (or None for no limit)"
        )
    return float(timeout)


def _run_dot(
    source: str,
    fmt_: str,
    *,
    engine: str = "dot",
    renderer: Optional[str] = None,
    formatter: Optional[str] = None,
    neato_no_op: Any = None,
    quiet: bool = False,
    timeout: Optional[float] = DEFAULT_TIMEOUT,
    encoding: str = "utf-8",
) -> bytes:
    """``dot -T<fmt>`` on ``source`` with a time limit: the output bytes.  The process is
    killed when the limit passes (or on Ctrl-C), so nothing keeps running."""
    if fmt_ not in graphviz.FORMATS:
        raise ValueError(f"pipe(format={fmt_!r}): unknown Graphviz output format")
    if engine not in graphviz.ENGINES:
        raise ValueError(f"pipe(engine={engine!r}): unknown Graphviz layout engine")
    cmd = ["dot", f"-K{engine}", "-T" + ":".join(x for x in (fmt_, renderer, formatter) if x)]
    if neato_no_op:
        cmd.append(f"-n{int(neato_no_op):d}")
    try:
        data = source.encode(encoding)
    except UnicodeEncodeError as e:
        raise ValueError(
            f"the diagram's DOT text cannot be encoded as {encoding}: "
            f"{e.reason} ({e.object[e.start : e.end]!r})"
        ) from None
    try:
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise GraphvizNotFound(INSTALL_HELP) from None
    except subprocess.TimeoutExpired:
        nodes = len(re.findall(r"^\t(?!(?:node|edge|graph) )\w+ \[", source, re.M))
        edges = len(re.findall(r" -> ", source))
        raise LayoutTimeout(
            f"Graphviz's dot did not finish laying out this diagram ({nodes} Graphviz "
            f"nodes, {edges} edges) within {timeout:g} s and was stopped. Draw a smaller "
            f"part of the graph (a subexpression), lower max_nodes to have large graphs "
            f"refused at once, or allow more time with timeout=<seconds>."
        ) from None
    if proc.returncode != 0:
        raise graphviz.CalledProcessError(
            proc.returncode, cmd, output=proc.stdout, stderr=proc.stderr
        )
    if proc.stderr and not quiet:
        sys.stderr.write(proc.stderr.decode(encoding, errors="replace"))
    return proc.stdout


class Diagram(graphviz.Digraph):
    """A ``graphviz.Digraph`` that lays out with a time limit and says how to install
    Graphviz when ``dot`` is missing.

    Shows inline in Jupyter like any Digraph; ``.source`` is the DOT text; ``.timeout``
    (seconds, default :data:`DEFAULT_TIMEOUT`) bounds every ``pipe``/``render``.

        >>> d = Diagram(); d.node("a"); d.timeout
        20.0
    """

    timeout: Optional[float] = DEFAULT_TIMEOUT

    def pipe(
        self,
        format: Optional[str] = None,
        renderer: Optional[str] = None,
        formatter: Optional[str] = None,
        neato_no_op: Any = None,
        quiet: bool = False,
        *,
        engine: Optional[str] = None,
        encoding: Optional[str] = None,
        timeout: Any = "default",
    ) -> Any:
        """The diagram laid out by ``dot`` as bytes (or text with ``encoding``); raises
        :class:`LayoutTimeout` after ``timeout`` seconds (default ``self.timeout``)."""
        limit = self.timeout if timeout == "default" else _check_timeout(timeout, "pipe")
        out = _run_dot(
            self.source,
            format or self.format,
            engine=engine or self.engine,
            renderer=renderer or self.renderer,
            formatter=formatter or self.formatter,
            neato_no_op=neato_no_op,
            quiet=quiet,
            timeout=limit,
            encoding=self.encoding,
        )
        return out if encoding is None else out.decode(encoding)

    def save(
        self, filename: Any = None, directory: Any = None, *, skip_existing: Optional[bool] = False
    ) -> str:
        """Write the DOT source to ``directory/filename`` (default ``<name>.gv``),
        atomically; returns its path, as ``graphviz.Digraph.save``."""
        if filename is not None:
            self.filename = os.fspath(filename)
        if directory is not None:
            self.directory = os.fspath(directory)
        path = self.filepath
        if skip_existing and os.path.exists(path):
            return path
        return atomic_write(path, lambda f: f.write(self.source))

    def render(
        self,
        filename: Any = None,
        directory: Any = None,
        view: bool = False,
        cleanup: bool = False,
        format: Optional[str] = None,
        renderer: Optional[str] = None,
        formatter: Optional[str] = None,
        neato_no_op: Any = None,
        quiet: bool = False,
        quiet_view: bool = False,
        *,
        outfile: Any = None,
        engine: Optional[str] = None,
        raise_if_result_exists: bool = False,
        overwrite_source: bool = False,
        timeout: Any = "default",
    ) -> str:
        """Write the DOT source (unless ``cleanup``) and the laid-out file, both
        atomically, with the time limit of :meth:`pipe`; returns the output's path.

        As ``graphviz.Digraph.render``: the source goes to ``directory/filename``
        (default ``<name>.gv``), the output to ``<source>.<format>`` or ``outfile``
        (whose extension gives the format)."""
        if outfile is not None:
            outfile = os.fspath(outfile)
            if format is None:
                format = os.path.splitext(outfile)[1].lstrip(".").lower() or None
            if filename is None:
                filename = os.path.splitext(os.path.basename(outfile))[0] + ".gv"
                if directory is None:
                    directory = os.path.dirname(outfile)
        if filename is not None:
            self.filename = os.fspath(filename)
        if directory is not None:
            self.directory = os.fspath(directory)
        fmt_ = format or self.format
        source_path = self.filepath
        out_path = outfile if outfile is not None else f"{source_path}.{fmt_}"
        if os.path.abspath(out_path) == os.path.abspath(source_path) and not overwrite_source:
            raise ValueError(
                f"render(outfile={out_path!r}): the output would replace the "
                "DOT source; pass overwrite_source=True to allow it"
            )
        if raise_if_result_exists and os.path.exists(out_path):
            raise FileExistsError(errno.EEXIST, "output file exists", out_path)
        data = self.pipe(
            format=fmt_,
            renderer=renderer,
            formatter=formatter,
            neato_no_op=neato_no_op,
            engine=engine,
            quiet=quiet,
            timeout=timeout,
        )
        if not cleanup:
            self.save()
        atomic_write(out_path, lambda f: f.write(data), binary=True)
        if view:
            graphviz.view(out_path, quiet=quiet_view)
        return out_path


_UNSAFE = {"Cc", "Cs", "Cn"}  # control characters, lone surrogates, unassigned/noncharacters


def _visible(ch: str) -> str:
    o = ord(ch)
    if ch in "\n\t":
        return ch
    if ch == "\r":
        return "\n"
    if unicodedata.category(ch) not in _UNSAFE:
        return ch
    return f"\\x{o:02x}" if o < 0x100 else (f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")


def escape(text: Any) -> str:
    """Text made safe inside a Graphviz HTML-like label: ``<``, ``&``, quotes and
    backslashes (which ``dot`` would read as ``\\N``-style escapes) show as typed,
    newlines break the line, and control characters or lone surrogates (which ``dot``
    cannot take) show as Python-style escapes.

        >>> escape('a<b> | "c"\\nd')
        'a&lt;b&gt; | &quot;c&quot;<br/>d'
        >>> escape("a\\\\G\\x00")
        'a\\\\\\\\G\\\\\\\\x00'
    """
    s = str(text).replace("\r\n", "\n")
    if not s.isprintable():
        s = "".join(_visible(ch) for ch in s)
    s = html.escape(s, quote=True).replace("\\", "\\\\")
    return s.replace("\n", "<br/>")


def _num(x: Any) -> float:
    return x.data if isinstance(x, Value) else float(x)


def _check_args(root: Any, style: str, rankdir: str, precision: Any, max_nodes: Any) -> None:
    if not isinstance(root, (Value, ForeignNode)):
        raise TypeError(
            f"draw(root): expected a Value, got {type(root).__name__} (a gradwire "
            "Value, or a micrograd-style one with data, grad, _prev and _op); "
            "to draw a network use visualize.draw_network(model)"
        )
    if style not in ("circuit", "record"):
        raise ValueError(f"draw(style={style!r}): style must be 'circuit' or 'record'")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw(rankdir={rankdir!r}): rankdir must be 'LR', 'RL', 'TB' or 'BT'")
    if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 12:
        raise ValueError(f"draw(precision={precision!r}): precision must be an int from 0 to 12")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"draw(max_nodes={max_nodes!r}): max_nodes must be a positive int")


def _check_flag(value: Any, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"draw({name}={value!r}): {name} must be True or False")


def _nodes(root: Any, max_nodes: int, style: str) -> List[Any]:
    nodes = graph_order(root)
    if len(nodes) > max_nodes:
        other = "style='record' (more compact) or " if style == "circuit" else ""
        raise GraphTooLarge(
            f"this graph has {len(nodes)} nodes, more than max_nodes={max_nodes}: Graphviz "
            f"would take very long to lay it out and the picture would be unreadable. Draw a "
            f"smaller part of it, use {other}visualize.draw_network(model) for a network, or "
            f"pass max_nodes={len(nodes)} (or more) to draw it anyway."
        )
    return nodes


def _grad_lookup(grad_of: Any, nodes: List[Value], index: Dict[int, int]) -> Any:
    """``grad_of`` checked: a mapping with a real-number gradient for every node."""
    if not isinstance(grad_of, Mapping):
        raise TypeError(
            f"draw(grad_of=...): expected a dict {{id(node): gradient}} (as "
            f"autodiff.backward_steps gives), got {type(grad_of).__name__}"
        )
    for k, v in enumerate(nodes):
        g = grad_of.get(id(v), None)
        if not _is_real(g):
            what = "has no gradient" if id(v) not in grad_of else f"has gradient {g!r}"
            name = f" ({v.label})" if v.label else ""
            raise ValueError(
                f"draw(grad_of=...): node n{k}{name} {what}; grad_of must map "
                "id(node) to a number for every node of the graph"
            )
    return lambda v: float(grad_of[id(v)])


def _far_uses(nodes: List[Value], index: Dict[int, int], budget: int) -> Set[Tuple[int, int]]:
    """The uses ``(producer, consumer)`` to draw from a copy of the producer's wire.

    Each node is ranked as late as its nearest consumer allows (the ranking ``dot`` comes
    close to); a use then spans ``rank(consumer) - rank(producer) - 1`` extra ranks, each
    one more node for ``dot`` to place (two in the drawing: a gate and a wire per node).
    While the spans add up to more than ``budget``, the longest uses get copies."""
    consumers: List[Counter] = [Counter() for _ in nodes]
    for k, v in enumerate(nodes):
        for p in v.parents:
            consumers[index[id(p)]][k] += 1
    rank = [0] * len(nodes)
    for k in range(len(nodes) - 1, -1, -1):
        if consumers[k]:
            rank[k] = min(rank[c] for c in consumers[k]) - 1
    spans = [
        ((rank[c] - rank[k] - 1) * m, k, c)
        for k in range(len(nodes))
        for c, m in consumers[k].items()
    ]
    total = sum(s for s, _, _ in spans)
    far: Set[Tuple[int, int]] = set()
    for s, k, c in sorted(spans, reverse=True):
        if total <= budget:
            break
        far.add((k, c))
        total -= s
    return far


def draw(
    root: Any,  # a Value, or a micrograd-style object
    style: str = "circuit",
    rankdir: str = "LR",
    grads: bool = True,
    precision: int = 2,
    max_nodes: int = DEFAULT_MAX_NODES,
    ids: bool = False,
    grad_of: Optional[Dict[int, float]] = None,
    timeout: Optional[float] = DEFAULT_TIMEOUT,
    max_edges: Optional[int] = None,
    names: Optional[Dict[int, str]] = None,
    widest: Optional[Dict[int, str]] = None,
) -> Diagram:
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
    ``timeout`` bounds the layout in seconds (None: no limit); ``max_edges`` (default 3 *
    ``max_nodes``) refuses a graph with more uses than that, as ``max_nodes`` does.
    A use far from its producer is drawn from a grey copy of the producer's wire
    (``c<k>_<j>``) so the layout stays fast.

        >>> from autodiff import Value
        >>> x = Value(3.0, label="x"); y = x * x; y.backward()
        >>> d = draw(y, style="record")
        >>> d.source.count("n0 -> g1")      # x feeds the '*' gate twice
        2
    """
    if not isinstance(root, Value):
        root = as_graph(root, "draw(root)") if is_micrograd_style(root) else root
    _check_args(root, style, rankdir, precision, max_nodes)
    _check_flag(grads, "grads")
    _check_flag(ids, "ids")
    timeout = _check_timeout(timeout, "draw")
    if max_edges is None:
        max_edges = 3 * max_nodes
    elif isinstance(max_edges, bool) or not isinstance(max_edges, int) or max_edges < 1:
        raise ValueError(f"draw(max_edges={max_edges!r}): max_edges must be a positive int")
    nodes = _nodes(root, max_nodes, style)
    edges = sum(len(v.parents) for v in nodes)
    if edges > max_edges:
        raise GraphTooLarge(
            f"this graph has {edges} edges (uses of a node by a gate), more than max_edges="
            f"{max_edges}: Graphviz would take very long to lay it out. Draw a smaller part "
            f"of it, or pass max_edges={edges} (or more) to draw it anyway."
        )
    index: Dict[int, int] = {id(v): k for k, v in enumerate(nodes)}
    gfun = (lambda v: _num(v.grad)) if grad_of is None else _grad_lookup(grad_of, nodes, index)
    far = _far_uses(nodes, index, LONG_WIRE_BUDGET)
    d = Diagram(name="gradwire", format="svg")
    d.timeout = timeout
    d.attr(rankdir=rankdir)
    if style == "circuit":
        _draw_circuit(
            d, root, nodes, index, grads and gfun, precision, ids, far, names or {}, widest or {}
        )
    else:
        _draw_record(d, root, nodes, index, grads and gfun, precision, ids, far, names or {})
    return d


def _value_cell(v: Value, precision: int) -> str:
    return f'<font color="{GREEN}">{fmt(_num(v.data), precision)}</font>'


def _grad_cell(g: float, precision: int) -> str:
    return f'<font color="{RED}">{fmt(g, precision)}</font>'


def _gate(d: Diagram, k: int, v: Value, ids: bool, **extra: str) -> None:
    """Node ``g{k}``: the small circle of v's gate, labelled as the op table says."""
    size = "0.4" if len(v.gate) < 5 else "0.62"  # a neuron's 'w·x+b' needs a wider circle
    attrs = {
        "shape": "circle",
        "label": f"<{escape(v.gate)}>",
        "width": size,
        "height": size,
        "fixedsize": "true",
        **extra,
    }
    if ids:
        attrs["id"] = f"gate-n{k}"
    if isinstance(v, Value) and v.op == "affine":
        attrs["ordering"] = "in"  # b, w0, x0, w1, x1, ... top to bottom, as the formula
    d.node(f"g{k}", **attrs)


def _sources(
    d: Diagram,
    k: int,
    v: Any,
    index: Dict[int, int],
    far: Set[Tuple[int, int]],
    copy: Any,
    stubs: Dict[tuple, str],
    precision: int,
    port: str,
    record: bool,
) -> List[str]:
    """The DOT names feeding v's gate, in its formula's order: ``n<i>`` (with ``port``),
    or a copy of that wire drawn beside the gate when the use is far (one copy per
    producer and gate).  A fused ``w·x+b`` node's number inputs get a stub ``x<i>`` each,
    drawn as an input wire beside its weight (each gate its own, so every neuron reads
    as its formula) but not a node of the graph."""
    copies: Set[str] = set()

    def source(p: Any) -> str:
        i = index[id(p)]
        if (i, k) not in far:
            return f"n{i}{port}"
        name = f"c{i}_{k}"
        if name not in copies:
            copies.add(name)
            copy(name, i, p)
        return name + port

    if not (isinstance(v, Value) and v.op == "affine"):
        return [source(p) for p in v.parents]
    out = []
    for j, (p, q) in enumerate(zip(v._a, v._b)):
        out.append(source(p))
        if j == 0:
            continue  # the bias's partner, the 1 of b*1
        if isinstance(q, Value):
            out.append(source(q))
            continue
        key = (id(v), j - 1)
        if key not in stubs:
            stubs[key] = f"x{len(stubs)}s"
            name, val = f"x{j - 1}", f'<font color="{GREEN}">{fmt(q, precision)}</font>'
            if record:
                label = (
                    '<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
                    f"<tr><td>{name}</td><td>data {val}</td></tr></table>>"
                )
            else:
                label = (
                    '<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
                    f'<tr><td rowspan="2" align="right">{name}&nbsp;</td><td>{val}</td>'
                    f"</tr>{_wire_row(44)}</table>>"
                )
            d.node(stubs[key], shape="none", margin="0", label=label)
        out.append(stubs[key] + port)
    return out


def _wire_row(width: int) -> str:
    return f'<tr><td port="wire" height="1" width="{width}" sides="T" border="1"></td></tr>'


def _wire_width(text: Optional[str]) -> int:
    """Points for a wire: 44, or enough for ``text`` at the labels' 11pt (about 7.5pt
    per character of digits and signs)."""
    return 44 if not text else max(44, int(7.5 * len(text)) + 8)


def _draw_circuit(
    d: Diagram,
    root: Any,
    nodes: List[Any],
    index: Dict[int, int],
    grads: Any,
    precision: int,
    ids: bool,
    far: Set[Tuple[int, int]],
    names: Dict[int, str],
    widest: Dict[int, str],
) -> None:
    d.attr(nodesep="0.15", ranksep="0.25")
    d.attr("node", fontname=_FONT, fontsize="11")
    d.attr("edge", arrowsize="0.6")
    copied = {i for i, _ in far}
    stubs: Dict[tuple, str] = {}

    def copy(name: str, i: int, p: Any) -> None:  # a grey stub of wire n<i>: name, value
        label = (
            f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1"><tr>'
            f'<td rowspan="2" align="right"><font color="{GREY}">'
            f"{escape(p.label or f'n{i}')}</font>&nbsp;</td>"
            f"<td>{_value_cell(p, precision)}</td></tr>{_wire_row(44)}</table>>"
        )
        d.node(name, shape="none", margin="0", label=label, tooltip=f"the wire n{i} again")

    for k, v in enumerate(nodes):
        name = f"n{k}"
        left = right = top = ""
        rows = 3 if grads else 2
        # a gate's output: its label, or its name (copies name the wire they repeat)
        wire = v.label or names.get(id(v), "") or (name if k in copied else "")
        if v.is_leaf:
            left = f'<td rowspan="{rows}" align="right">{escape(v.label or name)}&nbsp;</td>'
        if v is root and wire and not v.is_leaf:
            right = f'<td rowspan="{rows}" align="left">&nbsp;{escape(wire)}</td>'
        elif wire and not v.is_leaf:
            top = f'<tr><td><font color="{GREY}" point-size="9">{escape(wire)}</font></td></tr>'
        rows_html = (
            f"{top}<tr>{left}<td>{_value_cell(v, precision)}</td>{right}</tr>"
            f"{_wire_row(_wire_width(widest.get(id(v))))}"
        )
        if grads:
            rows_html += f"<tr><td>{_grad_cell(grads(v), precision)}</td></tr>"
        label = (
            '<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
            f"{rows_html}</table>>"
        )
        attrs = {"shape": "none", "margin": "0", "label": label}
        if ids:
            attrs["id"] = f"wire-{name}"
        d.node(name, **attrs)
        if not v.is_leaf:
            _gate(d, k, v, ids, fontsize="11" if len(v.gate) < 4 else "9")
            for src in _sources(d, k, v, index, far, copy, stubs, precision, ":wire:e", False):
                d.edge(src, f"g{k}")
            d.edge(f"g{k}", f"{name}:wire:w", arrowhead="none")


def _draw_record(
    d: Diagram,
    root: Any,
    nodes: List[Any],
    index: Dict[int, int],
    grads: Any,
    precision: int,
    ids: bool,
    far: Set[Tuple[int, int]],
    names: Optional[Dict[int, str]] = None,
) -> None:
    d.attr("node", fontname=_FONT, fontsize="11")
    d.attr("edge", arrowsize="0.6")
    copied = {i for i, _ in far}
    stubs: Dict[tuple, str] = {}

    def copy(name: str, i: int, p: Any) -> None:  # a grey box repeating n<i>: name, data
        label = (
            f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4" '
            f'color="{GREY}"><tr><td><font color="{GREY}">{escape(p.label or f"n{i}")}'
            f"</font></td><td>data {_value_cell(p, precision)}</td></tr></table>>"
        )
        d.node(name, shape="none", margin="0", label=label, tooltip=f"the node n{i} again")

    for k, v in enumerate(nodes):
        name = f"n{k}"
        wire = v.label or (names or {}).get(id(v), "") or (name if k in copied else "")
        cells = [
            f"<td>{escape(wire) if wire else '&nbsp;'}</td>",
            f'<td>data <font color="{GREEN}">{fmt(_num(v.data), precision)}</font></td>',
        ]
        if grads:
            cells.append(f"<td>grad {_grad_cell(grads(v), precision)}</td>")
        label = (
            '<<table border="0" cellborder="1" cellspacing="0" cellpadding="4"><tr>'
            + "".join(cells)
            + "</tr></table>>"
        )
        attrs = {"shape": "none", "margin": "0", "label": label}
        if ids:
            attrs["id"] = f"wire-{name}"
        d.node(name, **attrs)
        if not v.is_leaf:
            _gate(d, k, v, ids)
            for src in _sources(d, k, v, index, far, copy, stubs, precision, "", True):
                d.edge(src, f"g{k}")
            d.edge(f"g{k}", name)


_FORMATS = ("svg", "png", "pdf")


def render(graph: Any, path: str, *, timeout: Any = "default", **draw_kwargs: Any) -> str:
    """Write a diagram to ``path``; the extension (.svg, .png, .pdf) picks the format.

    ``graph`` is a Value (drawn with ``draw(graph, **draw_kwargs)``) or a Digraph from
    :func:`draw` / :func:`draw_network`.  ``timeout`` bounds Graphviz's layout in seconds
    (default: the diagram's own, :data:`DEFAULT_TIMEOUT`; None: no limit); an overrun
    raises :class:`LayoutTimeout`.  The file is written atomically; returns ``path``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"render(path={path!r}): expected a file path (str or os.PathLike), "
            f"got {type(path).__name__}"
        )
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in _FORMATS:
        raise ValueError(
            f"render(path={path!r}): the extension must be one of "
            f".svg, .png, .pdf (it picks the file format), got {ext or 'none'!r}"
        )
    if timeout != "default":
        timeout = _check_timeout(timeout, "render")
    if isinstance(graph, Value) or is_micrograd_style(graph):
        if timeout != "default":
            draw_kwargs["timeout"] = timeout
        graph = draw(graph, **draw_kwargs)
    elif draw_kwargs:
        raise TypeError(
            f"render: drawing options ({', '.join(sorted(draw_kwargs))}) only "
            "apply when graph is a Value"
        )
    if isinstance(graph, Diagram):
        data = graph.pipe(format=ext, timeout=timeout)
    elif isinstance(graph, graphviz.Digraph):
        data = _run_dot(
            graph.source,
            ext,
            timeout=DEFAULT_TIMEOUT if timeout == "default" else timeout,
            encoding=graph.encoding,
        )
    else:
        raise TypeError(
            f"render(graph): expected a Value or a graphviz.Digraph, got {type(graph).__name__}"
        )
    return atomic_write(path, lambda f: f.write(data), binary=True)


def value_svg(v: Value, max_nodes: int = 40, timeout: float = 5.0) -> Optional[str]:
    """SVG of a Value's graph for Jupyter (record style), or None (so the text repr
    shows) for a leaf, a graph past ``max_nodes``, a layout past ``timeout`` seconds,
    or no ``dot``."""
    if v.is_leaf:
        return None
    try:
        return draw(v, style="record", max_nodes=max_nodes, timeout=timeout).pipe(
            format="svg", encoding="utf-8"
        )
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
