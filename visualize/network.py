"""The neuron-level picture of an MLP, and its forward pass in numpy for plots.

:func:`draw_network` draws the lecture's network picture: inputs and neurons as circles
in layers, one edge per weight coloured by its sign (blue positive, orange negative) and
as wide as its size.  Given an input ``x`` each neuron shows its activation ``a`` (green);
after a ``backward()`` each shows ``dL/dz``, which for a neuron equals its bias's
gradient ``b.grad`` (red), and each edge's tooltip holds its weight and ``w.grad``.
Only the contract attributes are read: ``model.layers[i].neurons[j].w`` (list of Values),
``.b`` and ``.activation`` (or micrograd's ``.nonlin``), so micrograd's MLP draws too.
:func:`forward_numpy` evaluates such a model on many rows at once (for the decision
boundary plot); it computes values only, never gradients.

    >>> from nn import MLP
    >>> g = draw_network(MLP(2, [3, 1], seed=0), x=[0.5, -1.0])
    >>> g.source.count(" -> ")          # 2*3 + 3*1 weights
    9
"""
from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence

import numpy as np

from autodiff import Value, ops
from autodiff.explain import fmt

from .diagram import GREEN, RED, Diagram, escape

__all__ = ["draw_network", "forward_numpy", "layer_activations"]

POS = "#0969da"   # positive weight
NEG = "#d1660f"   # negative weight


def _layers(model: Any) -> list:
    layers = getattr(model, "layers", None)
    if not layers or not all(hasattr(layer, "neurons") for layer in layers):
        raise TypeError(f"draw_network(model): expected an MLP with .layers[i].neurons[j] "
                        f"(w, b), got {type(model).__name__}")
    return list(layers)


def _label(v: Any) -> str:
    label = getattr(v, "label", "")
    return label if isinstance(label, str) else ""


def _neuron_name(neuron: Any) -> str:
    """``'L1.N0'`` from the bias's label ``'L1.N0.b'`` ('' when it has none)."""
    label = _label(neuron.b)
    return label[:-2] if label.endswith(".b") else ""


def _activation(neuron: Any) -> str:
    act = getattr(neuron, "activation", None)
    if act is None:  # micrograd: nonlin means relu
        act = "relu" if getattr(neuron, "nonlin", True) else "linear"
    if act not in ("relu", "tanh", "sigmoid", "linear"):
        raise ValueError(f"draw_network: unknown activation {act!r} on {neuron!r}")
    return act


def _act(name: str, z: float) -> float:
    return z if name == "linear" else ops.get(name).forward(z)


def _float(v: Any) -> float:
    return v.data if isinstance(v, Value) else float(v)


def layer_activations(model: Any, x: Sequence[float]) -> List[List[float]]:
    """Each layer's neuron activations for one input (floats; no graph is recorded)."""
    a = [_float(v) for v in x]
    out = []
    for li, layer in enumerate(_layers(model)):
        nxt = []
        for n in layer.neurons:
            if len(n.w) != len(a):
                raise ValueError(f"draw_network: layer {li} expects {len(n.w)} inputs, "
                                 f"got {len(a)}")
            z = math.fsum(w.data * xi for w, xi in zip(n.w, a)) + n.b.data
            nxt.append(_act(_activation(n), z))
        out.append(nxt)
        a = nxt
    return out


def _np_act(name: str, Z: np.ndarray) -> np.ndarray:
    return Z if name == "linear" else ops.get(name).vforward(Z)  # the op table's forward


def forward_numpy(model: Any, X: Any) -> np.ndarray:
    """The model's outputs on every row of X as an (n, nouts) array, from its weights."""
    A = np.asarray(X, dtype=float)
    for layer in _layers(model):
        W = np.array([[w.data for w in n.w] for n in layer.neurons])
        b = np.array([n.b.data for n in layer.neurons])
        Z = A @ W.T + b
        acts = [_activation(n) for n in layer.neurons]
        A = np.column_stack([_np_act(a, Z[:, j]) for j, a in enumerate(acts)])
    return A


def draw_network(model: Any, x: Optional[Sequence[float]] = None, precision: int = 2,
                 rankdir: str = "LR", grads: bool = True, max_neurons: int = 400) -> Diagram:
    """The neuron-level view of an MLP as a ``graphviz.Digraph``.

    Edges: one per weight, blue if positive, orange if negative, width by ``|w|``.  With
    ``x``: activations in green.  ``grads`` (when any is non-zero): ``dL/dz = b.grad`` in
    red.  Renders a 2-16-16-1 network in well under a second.
    """
    layers = _layers(model)
    sizes = [len(layers[0].neurons[0].w)] + [len(layer.neurons) for layer in layers]
    if sum(sizes) > max_neurons:
        raise ValueError(f"draw_network: {sum(sizes)} neurons is more than max_neurons="
                         f"{max_neurons}; pass a larger max_neurons to draw it anyway")
    if x is not None and len(x) != sizes[0]:
        raise ValueError(f"draw_network: x has {len(x)} values, the model takes {sizes[0]}")
    acts = layer_activations(model, x) if x is not None else None
    show_grads = grads and any(n.b.grad != 0 for layer in layers for n in layer.neurons)
    d = Diagram(name="network", format="svg")
    d.attr(rankdir=rankdir, splines="line", nodesep="0.06", ranksep="1.4",
           outputorder="edgesfirst")
    d.attr("node", shape="circle", fixedsize="true", width="0.55", fontname="Helvetica",
           fontsize="8", style="filled", fillcolor="white")
    d.attr("edge", arrowhead="none")
    wmax = max((abs(w.data) for layer in layers for n in layer.neurons for w in n.w),
               default=1.0) or 1.0
    for i in range(sizes[0]):
        val = f'<br/><font color="{GREEN}">{fmt(_float(x[i]), precision)}</font>' \
            if x is not None else ""
        d.node(f"i{i}", label=f"<x{i}{val}>", fillcolor="#f6f8fa")
    prev = [f"i{i}" for i in range(sizes[0])]
    for li, layer in enumerate(layers):
        cur = []
        with d.subgraph(name=f"layer{li}") as s:
            s.attr(rank="same")
            for j, n in enumerate(layer.neurons):
                name = f"l{li}n{j}"
                where = _neuron_name(n)
                parts = ([f'<font point-size="7">{escape(where)}</font>'] if where else []) \
                    + [escape(_activation(n))]
                if acts is not None:
                    parts.append(f'<font color="{GREEN}">{fmt(acts[li][j], precision)}</font>')
                if show_grads:
                    parts.append(f'<font color="{RED}">{fmt(n.b.grad, precision)}</font>')
                s.node(name, label="<" + "<br/>".join(parts) + ">",
                       tooltip=f"{where or f'layer {li} neuron {j}'}: b={n.b.data:.4g}, "
                               f"dL/dz=b.grad={n.b.grad:.4g}")
                cur.append(name)
        for j, n in enumerate(layer.neurons):
            for k, w in enumerate(n.w):
                width = 0.2 + 2.0 * abs(w.data) / wmax
                d.edge(prev[k], cur[j], color=POS if w.data >= 0 else NEG,
                       penwidth=f"{width:.2f}",
                       tooltip=f"{_label(w) or 'w'}={w.data:.4g}, "
                               f"grad={w.grad:.4g}")
        prev = cur
    legend = "blue: w > 0, orange: w < 0, width ~ |w|"
    if acts is not None:
        legend += "; green: activation a"
    if show_grads:
        legend += "; red: dL/dz (= b.grad)"
    d.attr(label=legend, fontsize="10", fontname="Helvetica", labelloc="b")
    return d
