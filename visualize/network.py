"""The neuron-level picture of an MLP, and its forward pass in numpy for plots.

:func:`draw_network` draws the lecture's network picture: inputs and neurons as circles
in layers, one edge per weight coloured by its sign (blue positive, orange negative) and
as wide as its size.  Given an input ``x`` each neuron shows its activation ``a`` (green);
after a ``backward()`` each shows ``dL/dz``, which for a neuron equals its bias's
gradient ``b.grad`` (red), and each edge's tooltip holds its weight and ``w.grad``.
Only the contract attributes are read: ``model.layers[i].neurons[j].w`` (list of Values),
``.b`` and ``.activation`` (or micrograd's ``.nonlin``), so micrograd's MLP draws too;
they are checked first, and a model or input that does not fit raises a TypeError or
ValueError naming the argument (and the layer and neuron).  :func:`forward_numpy`
evaluates such a model on many rows at once (for the decision boundary plot); it
computes values only, never gradients.

    >>> from nn import MLP
    >>> g = draw_network(MLP(2, [3, 1], seed=0), x=[0.5, -1.0])
    >>> g.source.count(" -> ")          # 2*3 + 3*1 weights
    9
"""

from __future__ import annotations

import math
from typing import Any, Iterator, List, Optional, Sequence

import numpy as np

from autodiff import Value, ops
from autodiff.explain import fmt
from autodiff.value import _is_real
from nn.modules import ACTIVATIONS

from .diagram import DEFAULT_TIMEOUT, GREEN, RED, Diagram, GraphTooLarge, _check_timeout, escape

__all__ = ["draw_network", "forward_numpy", "layer_activations"]

POS = "#0969da"  # positive weight
NEG = "#d1660f"  # negative weight
ODD = "#6e7781"  # a NaN or infinite weight (drawn dashed)


def _param(p: Any, what: str, where: str) -> None:
    """A weight or bias: anything with a real-number ``.data`` (and ``.grad``)."""
    if not _is_real(getattr(p, "data", None)):
        raise TypeError(
            f"{where}(model): {what} should be a Value with a number .data, got {type(p).__name__}"
        )
    if not _is_real(getattr(p, "grad", 0.0)):
        raise TypeError(
            f"{where}(model): {what}.grad should be a number, got {type(p.grad).__name__}"
        )


def _layers(model: Any, where: str = "draw_network") -> list:
    """The model's layers, checked: each a non-empty ``.neurons`` list whose neurons have
    ``.w`` (one Value per input of the layer), ``.b`` and a known activation."""
    raw: Any = getattr(model, "layers", None)
    layers: Optional[list]
    try:
        layers = list(raw)
    except TypeError:
        layers = None
    if not layers or not all(hasattr(layer, "neurons") for layer in layers):
        raise TypeError(
            f"{where}(model): expected an MLP with .layers[i].neurons[j] "
            f"(w, b), got {type(model).__name__}"
        )
    nin = None
    for li, layer in enumerate(layers):
        try:
            neurons = list(layer.neurons)
        except TypeError:
            raise TypeError(
                f"{where}(model): layer {li}'s .neurons is not a list "
                f"({type(layer.neurons).__name__})"
            ) from None
        if not neurons:
            raise ValueError(f"{where}(model): layer {li} has no neurons")
        for j, n in enumerate(neurons):
            at = f"layer {li} neuron {j}"
            try:
                w = list(n.w)
            except (AttributeError, TypeError):
                raise TypeError(f"{where}(model): {at} has no list of weights .w") from None
            if not hasattr(n, "b"):
                raise TypeError(f"{where}(model): {at} has no bias .b")
            if nin is None:
                nin = len(w)
                if nin == 0:
                    raise ValueError(f"{where}(model): {at} has no weights (no inputs)")
                expected = f"neuron 0 of layer 0 has {nin}"
            if len(w) != nin:
                raise ValueError(
                    f"{where}(model): {at} has {len(w)} weights, but {expected}"
                    " (one weight per input)"
                )
            for k, wk in enumerate(w):
                _param(wk, f"{at} weight {k}", where)
            _param(n.b, f"{at} bias", where)
            _activation(n, where)
        nin = len(neurons)
        expected = f"layer {li} has {nin} neurons"
    return layers


def _label(v: Any) -> str:
    label = getattr(v, "label", "")
    return label if isinstance(label, str) else ""


def _neuron_name(neuron: Any) -> str:
    """``'L1.N0'`` from the bias's label ``'L1.N0.b'`` ('' when it has none)."""
    label = _label(neuron.b)
    return label[:-2] if label.endswith(".b") else ""


def _activation(neuron: Any, where: str = "draw_network") -> str:
    act = getattr(neuron, "activation", None)
    if act is None:  # micrograd: nonlin means relu
        act = "relu" if getattr(neuron, "nonlin", True) else "linear"
    if not isinstance(act, str) or act not in ACTIVATIONS:
        raise ValueError(
            f"{where}(model): unknown activation {act!r} on {neuron!r} "
            f"(known: {', '.join(ACTIVATIONS)})"
        )
    return act


def _float(v: Any) -> float:
    return v.data if isinstance(v, Value) else float(v)


def _inputs(x: Any, nin: int, where: str) -> List[float]:
    """``x`` checked: a sequence of ``nin`` numbers (or Values) as floats."""
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__") or not hasattr(x, "__iter__"):
        raise TypeError(
            f"{where}(x={x!r}): x must be a list of {nin} numbers, one per input of the model"
        )
    xs = list(x)
    if len(xs) != nin:
        raise ValueError(f"{where}: x has {len(xs)} values, the model takes {nin}")
    out = []
    for i, v in enumerate(xs):
        if isinstance(v, Value):
            v = v.data
        if not _is_real(v) and not (
            isinstance(v, np.ndarray) and v.ndim == 0 and np.issubdtype(v.dtype, np.number)
        ):
            raise TypeError(f"{where}(x): x[{i}] is {v!r}, not a number")
        out.append(float(v))
    return out


def layer_activations(model: Any, x: Sequence[float]) -> List[List[float]]:
    """Each layer's neuron activations for one input (floats; no graph is recorded).

    >>> from nn import MLP
    >>> [len(a) for a in layer_activations(MLP(2, [3, 1], seed=0), [1.0, 2.0])]
    [3, 1]
    """
    layers = _layers(model, "layer_activations")
    a = _inputs(x, len(layers[0].neurons[0].w), "layer_activations")
    return [A[0].tolist() for A in _layer_outputs(layers, np.array([a]))]


def _np_act(name: str, Z: np.ndarray) -> np.ndarray:
    # the op table's forward, applied to the whole array
    return Z if name == "linear" else np.asarray(ops.get(name).vforward(Z))


def forward_numpy(model: Any, X: Any) -> np.ndarray:
    """The model's outputs on every row of X as an (n, nouts) array, from its weights.

    >>> from nn import MLP
    >>> forward_numpy(MLP(2, [3, 1], seed=0), [[1.0, 2.0], [0.0, 0.0]]).shape
    (2, 1)
    """
    layers = _layers(model, "forward_numpy")
    nin = len(layers[0].neurons[0].w)
    try:
        A = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"forward_numpy(X): X must be a 2-D array of numbers, one row of {nin} per sample"
        ) from None
    if A.ndim != 2 or A.shape[1] != nin:
        raise ValueError(
            f"forward_numpy(X): X has shape {A.shape}, expected (n, {nin}): "
            f"one row of {nin} inputs per sample"
        )
    return list(_layer_outputs(layers, A))[-1]  # _layers checked there is one


def _layer_outputs(layers: list, A: np.ndarray) -> Iterator[np.ndarray]:
    """Each layer's activations on the rows of A, read from the contract attributes
    (``.w``, ``.b``, the activation): the one numpy forward of a network's views."""
    for layer in layers:
        W = np.array([[w.data for w in n.w] for n in layer.neurons], dtype=float)
        b = np.array([n.b.data for n in layer.neurons], dtype=float)
        Z = A @ W.T + b
        acts = [_activation(n) for n in layer.neurons]
        A = np.column_stack([_np_act(a, Z[:, j]) for j, a in enumerate(acts)])
        yield A


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"draw_network({name}={value!r}): {name} must be a positive int")
    return value


def draw_network(
    model: Any,
    x: Optional[Sequence[float]] = None,
    precision: int = 2,
    rankdir: str = "LR",
    grads: bool = True,
    max_neurons: int = 400,
    max_weights: int = 5000,
    timeout: Optional[float] = DEFAULT_TIMEOUT,
) -> Diagram:
    """The neuron-level view of an MLP as a ``graphviz.Digraph``.

    Edges: one per weight, blue if positive, orange if negative, width by ``|w|`` (a NaN
    or infinite weight: grey, dashed).  With ``x``: activations in green.  ``grads`` (when
    any is non-zero): ``dL/dz = b.grad`` in red.  Renders a 2-16-16-1 network in well
    under a second; a network with more than ``max_neurons`` circles or ``max_weights``
    edges raises :class:`~visualize.diagram.GraphTooLarge` (pass larger limits to draw it
    anyway), and ``timeout`` bounds Graphviz's layout in seconds.

        >>> from nn import MLP
        >>> draw_network(MLP(2, [3, 1], seed=0), x=1.0)
        Traceback (most recent call last):
        ...
        TypeError: draw_network(x=1.0): x must be a list of 2 numbers, one per input of the model
    """
    layers = _layers(model)
    if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 12:
        raise ValueError(
            f"draw_network(precision={precision!r}): precision must be an int from 0 to 12"
        )
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(
            f"draw_network(rankdir={rankdir!r}): rankdir must be 'LR', 'RL', 'TB' or 'BT'"
        )
    if not isinstance(grads, bool):
        raise TypeError(f"draw_network(grads={grads!r}): grads must be True or False")
    _positive_int(max_neurons, "max_neurons")
    _positive_int(max_weights, "max_weights")
    timeout = _check_timeout(timeout, "draw_network")
    sizes = [len(layers[0].neurons[0].w)] + [len(layer.neurons) for layer in layers]
    if sum(sizes) > max_neurons:
        raise GraphTooLarge(
            f"draw_network: {sum(sizes)} neurons is more than max_neurons="
            f"{max_neurons}; pass a larger max_neurons to draw it anyway"
        )
    n_weights = sum(len(n.w) for layer in layers for n in layer.neurons)
    if n_weights > max_weights:
        raise GraphTooLarge(
            f"draw_network: {n_weights} weights (one edge each) is more than "
            f"max_weights={max_weights}: Graphviz would take long to lay "
            f"them out and the edges would be a blur; pass "
            f"max_weights={n_weights} to draw it anyway"
        )
    xs = _inputs(x, sizes[0], "draw_network") if x is not None else None
    acts = layer_activations(model, xs) if xs is not None else None
    show_grads = grads and any(n.b.grad != 0 for layer in layers for n in layer.neurons)
    d = Diagram(name="network", format="svg")
    d.timeout = timeout
    d.attr(rankdir=rankdir, splines="line", nodesep="0.06", ranksep="1.4", outputorder="edgesfirst")
    d.attr(
        "node",
        shape="circle",
        fixedsize="true",
        width="0.55",
        fontname="Helvetica",
        fontsize="8",
        style="filled",
        fillcolor="white",
    )
    d.attr("edge", arrowhead="none")
    wmax = (
        max(
            (
                abs(w.data)
                for layer in layers
                for n in layer.neurons
                for w in n.w
                if math.isfinite(w.data)
            ),
            default=1.0,
        )
        or 1.0
    )
    for i in range(sizes[0]):
        val = f'<br/><font color="{GREEN}">{fmt(xs[i], precision)}</font>' if xs is not None else ""
        d.node(f"i{i}", label=f"<x{i}{val}>", fillcolor="#f6f8fa")
    prev = [f"i{i}" for i in range(sizes[0])]
    for li, layer in enumerate(layers):
        cur = []
        with d.subgraph(name=f"layer{li}") as s:
            s.attr(rank="same")
            for j, n in enumerate(layer.neurons):
                name = f"l{li}n{j}"
                where = _neuron_name(n)
                parts = ([f'<font point-size="7">{escape(where)}</font>'] if where else []) + [
                    escape(_activation(n))
                ]
                if acts is not None:
                    parts.append(f'<font color="{GREEN}">{fmt(acts[li][j], precision)}</font>')
                if show_grads:
                    parts.append(f'<font color="{RED}">{fmt(n.b.grad, precision)}</font>')
                s.node(
                    name,
                    label="<" + "<br/>".join(parts) + ">",
                    tooltip=f"{where or f'layer {li} neuron {j}'}: b={n.b.data:.4g}, "
                    f"dL/dz=b.grad={n.b.grad:.4g}",
                )
                cur.append(name)
        for j, n in enumerate(layer.neurons):
            for k, w in enumerate(n.w):
                tip = f"{_label(w) or 'w'}={w.data:.4g}, grad={w.grad:.4g}"
                if math.isfinite(w.data):
                    width = 0.2 + 2.0 * abs(w.data) / wmax
                    d.edge(
                        prev[k],
                        cur[j],
                        color=POS if w.data >= 0 else NEG,
                        penwidth=f"{width:.2f}",
                        tooltip=tip,
                    )
                else:
                    d.edge(prev[k], cur[j], color=ODD, style="dashed", tooltip=tip)
        prev = cur
    legend = "blue: w > 0, orange: w < 0, width ~ |w|"
    if acts is not None:
        legend += "; green: activation a"
    if show_grads:
        legend += "; red: dL/dz (= b.grad)"
    d.attr(label=legend, fontsize="10", fontname="Helvetica", labelloc="b")
    return d
