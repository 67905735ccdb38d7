"""Micrograd's vocabulary, both ways: gradwire's Value runs the lecture's code, and
gradwire's views read graphs built from micrograd-style classes.

gradwire's :class:`~autodiff.Value` gets micrograd's node attributes, computed on access
so a node stays one small object: ``v._prev`` (the set of its input Values) and
``v._backward()``, which sends the node's gradient to its inputs once, reading the op
table, so the lecture's manual backprop (``o.grad = 1.0; o._backward(); n._backward()``)
gives the gradients ``backward()`` gives.  :func:`micrograd_op` is the op as micrograd
writes it (``'+'``, ``'*'``, ``'tanh'``, ``'exp'``, ``'ReLU'``, ``'**2'``; for gates
micrograd lacks, the gate label as drawn: ``'+1'``, ``'1/x'``, ``'w·x+b'``), installed
as ``v._op`` when the engine's own op slot has another name.

The other way, :func:`as_graph` reads any object with ``data``, ``grad``, ``_prev`` and
``_op`` (and ``label`` when it has one), such as micrograd's ``Value`` or the one written
in the micrograd lecture, into :class:`ForeignNode` views that the diagrams, the step
explainer and the stepper page draw.  Ops it recognises (``+ - * / **k tanh exp ReLU``
and gradwire's other unary ops) get their local derivative from the op table; any other
op is shown with its values and gradients and the words "formula unknown".

    >>> from autodiff import Value
    >>> a, b = Value(2.0, "a"), Value(-3.0, "b")
    >>> c = a * b; micrograd_op(c), c._prev == {a, b}
    ('*', True)
    >>> c.grad = 1.0; c._backward(); a.grad, b.grad
    (-3.0, 2.0)
"""

from __future__ import annotations

import contextlib
import math
import re
from typing import Any, Dict, List, Optional, Tuple

from . import ops
from .ops import Op
from .value import Value, local_terms

__all__ = ["micrograd_op", "ForeignNode", "as_graph", "is_micrograd_style", "install"]


# --- gradwire's Value, in micrograd's words ---------------------------------------------


def micrograd_op(v: Value) -> str:
    """The op that made ``v`` as micrograd writes it: ``'+'``, ``'*'``, ``'tanh'``,
    ``'exp'``, ``'ReLU'``, ``'**2'``; a gate micrograd lacks by its label (``'+1'``,
    ``'1/x'``, ``'w·x+b'``); ``''`` for a leaf.

        >>> from autodiff import Value
        >>> x = Value(3.0)
        >>> [micrograd_op(y) for y in (x + x, x ** 2, x.relu(), 1 / x, x)]
        ['+', '**2', 'ReLU', '1/x', '']
    """
    if v.op is None:
        return ""
    op = ops.get(v.op)
    if op.kind == "binary":
        return op.symbol
    if op.name == "relu":
        return "ReLU"
    return op.label(v.const)


def _prev(v: Value) -> set:
    """micrograd's ``_prev``: the set of Values ``v`` was computed from."""
    return set(v.parents)


def _backward(v: Value) -> None:
    """micrograd's ``_backward()``: add ``v.grad`` times each local derivative to the
    input's ``grad``, once, in the order ``backward()`` adds them (a leaf does nothing).

        >>> from autodiff import Value
        >>> x = Value(0.5); y = x.tanh(); y.grad = 1.0; y._backward(); round(x.grad, 4)
        0.7864
    """
    g = v.grad
    for p, local, _ in reversed(local_terms(v)):
        p.grad = p.grad + g * local


def install(cls: type = Value) -> None:
    """Give ``cls`` micrograd's ``_prev`` and ``_backward`` (and ``_op`` when the engine
    keeps its op table entry under another name)."""
    c: Any = cls  # a class given new attributes
    c._prev = property(_prev, doc="micrograd's set of input Values (computed on access)")
    c._backward = _backward
    if "_op" not in getattr(c, "__slots__", ()):
        c._op = property(micrograd_op, doc="the op as micrograd writes it ('+', 'tanh')")


# --- micrograd-style graphs, read for the views ---------------------------------------


def is_micrograd_style(obj: Any) -> bool:
    """True for an object with ``data``, ``grad``, ``_prev`` and ``_op``."""
    return all(hasattr(obj, a) for a in ("data", "grad", "_prev", "_op"))


_UNARY = {op.name: op for op in ops.UNARY}
_UNARY["ReLU"] = ops.RELU
_BINARY = {op.symbol: op for op in ops.BINARY}
_POW = re.compile(r"^\*\*\s*\(?([-+0-9.eE]+)\)?$")


class ForeignNode:
    """One node of a micrograd-style graph as gradwire's views read it.

    ``obj`` is the original object; ``data``, ``grad`` and ``label`` are read from it;
    ``parents`` are ForeignNodes (a binary op whose ``_prev`` holds one object, as
    micrograd's ``a * a``, gets it twice); ``op`` is the op table entry that matches its
    ``_op`` (None for a leaf or an op gradwire does not know), ``const`` the exponent of
    ``**k``; ``gate`` the label to draw (the object's own ``_op``, as its class writes it).
    """

    __slots__ = ("obj", "data", "grad", "label", "parents", "op", "const", "gate", "symbol")

    def __init__(self, obj: Any, parents: Tuple[ForeignNode, ...]) -> None:
        self.obj = obj
        self.data = _real(obj.data, "data", obj)
        self.grad = _real(obj.grad, "grad", obj)
        label = getattr(obj, "label", "")
        self.label = label if isinstance(label, str) else ""
        self.symbol = str(obj._op or "")
        self.parents = parents
        self.op: Optional[Op] = None
        self.const: Optional[float] = None
        self.gate = self.symbol if parents else ""
        if parents:
            self._match()

    def _match(self) -> None:
        """Find the op table entry for ``symbol`` and put the parents in its order."""
        s, ps = self.symbol, self.parents
        if s in _BINARY and len(ps) in (1, 2):
            op = _BINARY[s]
            a, b = (ps[0], ps[0]) if len(ps) == 1 else ps
            for x, y in ((a, b), (b, a)):  # _prev is a set: find which order made data
                if _close(_try(op.forward, x.data, y.data), self.data):
                    self.op, self.parents = op, (x, y)
                    return
            return
        m = _POW.match(s)
        if m and len(ps) == 1:
            with contextlib.suppress(ValueError):
                self.op, self.const = ops.POW_C, float(m.group(1))
            return
        if s in _UNARY and len(ps) == 1:
            self.op = _UNARY[s]

    @property
    def is_leaf(self) -> bool:
        return not self.parents

    @property
    def known(self) -> bool:
        """True for a leaf or an op whose local derivative gradwire knows."""
        return self.is_leaf or self.op is not None

    def terms(self) -> List[Tuple[ForeignNode, Optional[float], str]]:
        """``(input, local derivative, rule)`` per input, as :func:`local_terms`;
        ``(input, None, '')`` for an op gradwire does not know."""
        op = self.op
        if op is None:
            return [(p, None, "") for p in self.parents]
        if op.kind == "binary":
            x, y = self.parents[0].data, self.parents[1].data
            return [
                (p, float(op.local(i, x, y, self.data)), op.rule(i))
                for i, p in enumerate(self.parents)
            ]
        c = self.const
        return [
            (self.parents[0], float(op.local(0, self.parents[0].data, c, self.data)), op.rule(0, c))
        ]

    def __repr__(self) -> str:
        lab = f", label={self.label!r}" if self.label else ""
        return (
            f"ForeignNode({type(self.obj).__name__}, data={self.data:.4g}, op={self.symbol!r}{lab})"
        )


def _real(x: Any, what: str, obj: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(
            f"{type(obj).__name__}.{what} must be a number, got {type(x).__name__} {x!r:.40}"
        ) from None


def _try(fn: Any, x: float, y: float) -> Optional[float]:
    try:
        return fn(x, y)
    except (ArithmeticError, ValueError):
        return None


def _close(a: Optional[float], b: float) -> bool:
    if a is None:
        return False
    return (
        a == b
        or (math.isnan(a) and math.isnan(b))
        or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300)
    )


def as_graph(obj: Any, where: str = "root", max_nodes: Optional[int] = None) -> Any:
    """``obj`` itself for a gradwire Value; a :class:`ForeignNode` (with its whole graph
    below it) for a micrograd-style object; a TypeError naming ``where`` otherwise.
    With ``max_nodes``, a graph larger than that raises ``ValueError`` before any view
    of it is built (see :func:`count_nodes`)."""
    if isinstance(obj, (Value, ForeignNode)):
        return obj
    if not is_micrograd_style(obj):
        raise TypeError(
            f"{where}: expected a Value, got {type(obj).__name__} (a gradwire "
            "Value, or a micrograd-style one with data, grad, _prev and _op)"
        )
    made: Dict[int, ForeignNode] = {}
    stack: List[Tuple[Any, bool]] = [(obj, False)]
    prevs: Dict[int, list] = {}
    expanded = 0
    while stack:  # iterative post-order: inputs are made before the nodes that use them
        o, done = stack.pop()
        if id(o) in made:
            continue
        if done:
            made[id(o)] = ForeignNode(o, tuple(made[id(p)] for p in prevs.pop(id(o))))
            continue
        ps = list(_prev_of(o))
        prevs[id(o)] = ps
        expanded += 1
        if max_nodes is not None and expanded > max_nodes:
            raise ValueError(f"{where}: the graph has more than max_nodes={max_nodes} nodes")
        stack.append((o, True))
        for p in ps:
            if id(p) not in made:
                if not is_micrograd_style(p):
                    raise TypeError(
                        f"{where}: an input of {type(o).__name__}"
                        f"(data={o.data!r:.20}) is a {type(p).__name__}, "
                        "not a micrograd-style Value"
                    )
                stack.append((p, False))
    return made[id(obj)]


def _prev_of(o: Any) -> tuple:
    ps = o._prev
    if isinstance(ps, (set, frozenset, list, tuple)):
        return tuple(ps)
    raise TypeError(f"{type(o).__name__}._prev must be a set of inputs, got {type(ps).__name__}")


def count_nodes(root: Any, limit: int) -> int:
    """How many nodes the graph below ``root`` has, counting no further than
    ``limit + 1`` (so refusing a huge graph costs almost nothing)."""
    seen = {id(root)}
    stack = [root]
    while stack and len(seen) <= limit:
        v = stack.pop()
        ps = v.parents if isinstance(v, (Value, ForeignNode)) else _prev_of(v)
        for p in ps:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen)


install(Value)
