"""`Value`, the scalar node of the computational graph, its operators, and ``affine``,
a neuron's ``w·x+b`` as one node.

A Value holds a float (``data``), its gradient (``grad``), an optional ``label``, the
op-table entry that made it (``_fn``, see :mod:`autodiff.ops`) and its operands in two
slots, ``_a`` and ``_b``: the inputs of a binary gate; the input and the constant of a
folded gate such as ``x + 1``; the input and None of a unary gate; for a neuron's fused
``w·x+b`` gate (:func:`affine`) the tuples ``(b, w0, w1, ...)`` and ``(1, x0, x1, ...)``.
The slot ``_n`` is the backward schedule's per-node counter (zero between passes).
There is no closure or dict per node: a node is one object for Python's cyclic garbage
collector, and a graph is freed by reference counting.  Every operator looks its op up
in the table and records one node through :func:`_record`, unless a switch of
:mod:`autodiff.modes` (``no_grad``) says otherwise; the backward pass lives in
:mod:`autodiff.backward`.

    >>> x = Value(2.0, label="x")
    >>> y = x * x + 1
    >>> y.backward()
    >>> y.data, x.grad
    (5.0, 4.0)
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence, Union

from . import ops
from .errors import _check_finite, _forward_error, _refuse_control_flow, _refuse_number
from .modes import STATE, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .ops import Op

__all__ = [
    "Value",
    "affine",
    "local_terms",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "topological_order",
    "Number",
]

Number = Union[int, float]


def _is_real(x: object) -> bool:
    """True for a real number (Python's or numpy's), bools excluded."""
    return isinstance(x, Real) and not isinstance(x, bool)


def _is_int(x: object) -> bool:
    """True for an integer (Python's or numpy's), bools excluded."""
    return isinstance(x, Integral) and not isinstance(x, bool)


def _as_number(x: Any, where: str) -> float:
    """A Python/numpy real number as a float, or a TypeError naming what it got."""
    if type(x) is float:
        return x
    if isinstance(x, Real):  # int, bool, numpy scalars
        return _to_float(x, where)
    raise TypeError(
        f"{where}: expected a number (int, float, numpy scalar) or a Value, "
        f"got {type(x).__name__} {x!r:.60}"
    )


def _to_float(x: Any, where: str) -> float:
    try:
        return float(x)
    except OverflowError:  # an int past 1.8e308: say which number and where
        raise OverflowError(f"{where}: the integer {x!r:.40} is too large for a float") from None


def _record(data: float, fn: Op, a: Any, b: Any) -> Value:
    """The one place a node is made: a recorded node of ``fn`` over operands ``a, b``
    (or, under ``no_grad``, a plain leaf).  One object, no closure."""
    if not STATE.plain:
        if STATE.anomaly:
            _check_finite(fn, data, a, b)
        if STATE.tracing:  # a node of a compiled tape's trace: see autodiff.tracing
            return _tracing.traced_node(data, fn, a, b)
        if not STATE.grad_enabled:
            return Value(data)
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v.label = ""
    v._fn = fn
    v._a = a
    v._b = b
    v._n = 0
    return v


def _number_operand(c: Any) -> Any:
    """The other operand as a float, or NotImplemented (so Python names its type)."""
    if type(c) is float:
        return c
    if isinstance(c, Real):
        try:  # inline, not _to_float: `x * 2` passes here (zero-cost try in 3.11)
            return float(c)
        except OverflowError:
            return _to_float(c, "Value operand")
    if isinstance(c, (str, bytes, list, tuple)):
        # Returning NotImplemented would let Python try sequence repetition and report
        # "can't multiply sequence by non-int of type 'Value'": name the real culprit.
        raise TypeError(
            f"a Value can only be combined with a number (int, float, numpy "
            f"scalar) or a Value, not a {type(c).__name__} ({c!r:.40})"
        )
    return NotImplemented


# Value's operators are made from the op table by the two factories below.


def _operator(op: Op):
    """``x (op) y``: for a binary op, a node of it on two Values, else of its folded twin
    (``x + 1``); for a folded op, ``c (op) x`` with the number on the left (``1 / x``)."""
    twin = op.number_op or op
    forward, tforward = op.forward, twin.forward
    # The class of operand that makes a node of `op` itself: Value for a binary op; None
    # (no operand's type) for a folded one, whose other operand is always a number.
    vtype = Value if twin is not op else None

    def method(self: Value, other: Any) -> Value:
        # (a traced node is a Value of a subclass: looked for only off the plain path)
        if type(other) is vtype or (
            not STATE.plain and vtype is not None and isinstance(other, Value)
        ):
            fn, b = op, other
            try:
                data = forward(self.data, other.data)
            except (ArithmeticError, ValueError) as e:
                raise _forward_error(op, e, self, other) from None
        else:
            fn, b = twin, _number_operand(other)
            if b is NotImplemented:
                return b
            try:
                data = tforward(self.data, b)
            except (ArithmeticError, ValueError) as e:
                raise _forward_error(twin, e, self, b) from None
        if not STATE.plain:
            return _record(data, fn, self, b)
        v = _new(Value)  # _record's node, made here: a call less per node (5% of a step)
        v.data = data
        v.grad = 0.0
        v.label = ""
        v._fn = fn
        v._a = self
        v._b = b
        v._n = 0
        return v

    return method


def _unary_method(op: Op):
    """A one-input gate (``exp``, ``relu``...), as a method ``x.exp()``."""
    forward = op.forward

    def method(self: Value) -> Value:
        try:
            data = forward(self.data)
        except (ArithmeticError, ValueError) as e:
            raise _forward_error(op, e, self, None) from None
        if not STATE.plain:
            return _record(data, op, self, None)
        v = _new(Value)  # as in _operator
        v.data = data
        v.grad = 0.0
        v.label = ""
        v._fn = op
        v._a = self
        v._b = None
        v._n = 0
        return v

    method.__doc__ = f"{op.doc}; local derivative {op.rule(0)}. Records one '{op.label()}' node."
    return method


class Value:
    """A scalar in a computational graph: its value, its gradient, and how it was made.

    Arithmetic with Values or numbers (``+ - * / **``, unary ``-``, ``abs``) and the
    methods ``exp log sqrt tanh sigmoid relu abs sin cos`` each record one node.  A
    number operand is folded into its gate, as in the lecture's circuit diagrams
    (``x + 1`` is one node ``+1``).  Comparisons (``< <= > >=``) compare ``data``;
    ``==`` is identity, so Values can be dict keys.

        >>> w, x = Value(2.0, label="w"), Value(-1.0, label="x")
        >>> f = (w * x).sigmoid()
        >>> f.backward()
        >>> f
        Value(data=0.1192, grad=1)
        >>> round(w.grad, 4), round(x.grad, 4)
        (-0.105, 0.21)
    """

    __slots__ = ("data", "grad", "label", "_fn", "_a", "_b", "_n")

    data: float
    grad: Any  # a float; a Value after backward(create_graph=True)
    label: str
    _fn: Optional[Op]  # None for a leaf
    _a: Any  # see the module's docstring for what the two operand slots hold
    _b: Any
    _n: int

    if TYPE_CHECKING:
        # The operators and gate methods below are made from the op table and set on
        # the class by `_install_methods`: declared here for the type checker only, one
        # per entry's `dunder` and per unary entry's name (tests/test_engine.py checks
        # that the two lists agree).
        def __add__(self, other: Union[Value, float]) -> Value: ...
        def __radd__(self, other: Union[Value, float]) -> Value: ...
        def __sub__(self, other: Union[Value, float]) -> Value: ...
        def __rsub__(self, other: Union[Value, float]) -> Value: ...
        def __mul__(self, other: Union[Value, float]) -> Value: ...
        def __rmul__(self, other: Union[Value, float]) -> Value: ...
        def __truediv__(self, other: Union[Value, float]) -> Value: ...
        def __rtruediv__(self, other: Union[Value, float]) -> Value: ...
        def __pow__(self, other: Union[Value, float]) -> Value: ...
        def __rpow__(self, other: Union[Value, float]) -> Value: ...
        def __abs__(self) -> Value: ...
        def exp(self) -> Value: ...
        def log(self) -> Value: ...
        def sqrt(self) -> Value: ...
        def tanh(self) -> Value: ...
        def sigmoid(self) -> Value: ...
        def relu(self) -> Value: ...
        def abs(self) -> Value: ...
        def sin(self) -> Value: ...
        def cos(self) -> Value: ...

    def __init__(self, data: Number, label: str = "") -> None:
        if type(data) is not float:
            if isinstance(data, Value):
                raise TypeError(
                    "Value(data): got a Value; use v.detach() to copy one without its graph"
                )
            data = _as_number(data, "Value(data)")
        if not isinstance(label, str):
            raise TypeError(f"Value(label): expected a str, got {type(label).__name__}")
        self.data = data
        self.grad = 0.0
        self.label = label
        self._fn = None
        self._a = None
        self._b = None
        self._n = 0

    # --- introspection -------------------------------------------------------------
    @property
    def op(self) -> Optional[str]:
        """Name of the op that made this node (``'mul'``, ``'exp'``...), None for a leaf."""
        return None if self._fn is None else self._fn.name

    @property
    def parents(self) -> tuple:
        """The Values this node was computed from (``()`` for a leaf; ``(a, a)`` for a+a;
        ``(b, w0, x0, w1, x1, ...)`` for a fused ``w·x+b``, numbers left out)."""
        fn = self._fn
        if fn is None:
            return ()
        if fn.kind == "binary":
            return (self._a, self._b)
        if fn.split is not None:  # an n-ary op
            return tuple(p for p, *_ in fn.split(self._a, self._b))
        return (self._a,)

    @property
    def const(self) -> Optional[float]:
        """The number folded into this node's gate (1.0 for ``x + 1``), else None."""
        fn = self._fn
        return self._b if fn is not None and fn.kind == "folded" else None

    @property
    def gate(self) -> str:
        """The gate label a diagram draws (``'+1'``, ``'1/x'``, ``'exp'``); '' for a leaf."""
        fn = self._fn
        return "" if fn is None else fn.label(self.const)

    @property
    def is_leaf(self) -> bool:
        """True for an input or parameter (a Value not computed from others)."""
        return self._fn is None

    def __repr__(self) -> str:
        lab = f", label={self.label!r}" if self.label else ""
        grad = self.grad
        g = f"{grad:.4g}" if type(grad) is float else repr(grad)
        return f"Value(data={self.data:.4g}, grad={g}{lab})"

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)

    def __float__(self) -> float:
        if STATE.tracing:
            _refuse_number("float(x) or math.exp(x) (any math.* function)")
        return float(self.data)

    def __bool__(self) -> bool:
        if STATE.tracing:
            _refuse_control_flow("bool()")
        return self.data != 0.0

    # --- arithmetic: each looks its op up in the table ------------------------------
    def __neg__(self) -> Value:
        return self * -1.0  # one '*-1' gate, as the lecture draws it

    def __pos__(self) -> Value:
        return self

    # --- comparisons compare data; == stays identity ---------------------------------
    def _cmp_data(self, other: Any, name: str) -> float:
        if STATE.tracing:
            _refuse_control_flow(f"comparison {name}")
        if type(other) is Value:
            return other.data
        return _as_number(other, f"Value {name}")

    def __lt__(self, other: Any) -> bool:
        return self.data < self._cmp_data(other, "<")

    def __le__(self, other: Any) -> bool:
        return self.data <= self._cmp_data(other, "<=")

    def __gt__(self, other: Any) -> bool:
        return self.data > self._cmp_data(other, ">")

    def __ge__(self, other: Any) -> bool:
        return self.data >= self._cmp_data(other, ">=")

    __hash__ = object.__hash__

    # --- graph utilities --------------------------------------------------------------
    def detach(self) -> Value:
        """A new leaf with the same data and label, cut from the graph."""
        return Value(self.data, self.label)

    def walk(self) -> Iterator[Value]:
        """Every node of the graph below (and including) this one, each once, in
        topological order: inputs before the nodes computed from them."""
        return iter(topological_order(self))

    def zero_grad(self) -> None:
        """Set ``grad`` to 0 on this node and every node below it."""
        for v in topological_order(self):
            v.grad = 0.0

    def backward(self, grad: Any = 1.0, create_graph: bool = False) -> None:
        """Backpropagate from this node: set ``.grad`` on every node of its graph.

        Leaves accumulate (``+=``, like PyTorch: call ``zero_grad`` between steps);
        intermediate nodes hold the gradient of this pass.  With ``create_graph=True``
        gradients are Values themselves, so they can be differentiated again.

            >>> x = Value(3.0); y = x ** 2
            >>> y.backward(create_graph=True); g = x.grad   # g = 2x, a Value
            >>> x.grad = 0.0; g.backward(); x.grad
            2.0
        """
        backprop(self, grad, create_graph)


if TYPE_CHECKING:

    class _OpNode(Value):
        """For the type checker only: a Value an op made (``_fn`` set), as the nodes
        backward's schedule lists and its passes visit (a leaf has nothing to send)."""

        _fn: Op


def _install_methods() -> None:
    """Give Value one method per table entry: ``__add__``, ``__rsub__``, ``exp``..."""
    makers = {"binary": _operator, "folded": _operator, "unary": _unary_method}
    for op in ops.ALL:
        names = [op.dunder] if op.dunder else []
        if op.kind == "unary":
            names.append(op.name)
        for name in names:
            method = makers[op.kind](op)
            method.__name__ = name
            method.__qualname__ = f"Value.{name}"
            setattr(Value, name, method)


_new = object.__new__
_install_methods()


# --- a neuron's z = w·x + b as one node -------------------------------------------------


def affine(w: Sequence[Value], x: Sequence[Any], b: Value) -> Value:
    """``b + w[0]*x[0] + w[1]*x[1] + ...``: a neuron's z = w·x + b, as one ``w·x+b`` node.

    The value is bit for bit what ``sum((wi*xi for wi, xi in zip(w, x)), b)`` computes
    (the same products, added in the same order), and so is each gradient it sends
    back: d z/d w_i = x_i, d z/d x_i = w_i, d z/d b = 1 (the op table's ``affine``
    entry).  An input's total gradient is then the same sum as the gate graph's when
    each input is used once, as in an MLP; a Value used several times may get its
    shares added in another order, so its last bits can differ.  It records one node
    where the sum records two per input, and a training step of an MLP is mostly these
    nodes: ten times fewer of them for the garbage collector to walk.  ``w`` and ``b``
    are Values; an ``x_i`` may be a Value or a number.  Under ``no_grad`` or
    ``detect_anomaly``, and for weights that are not Values, it records the sum gate by
    gate instead.

        >>> w, x = [Value(2.0), Value(-3.0)], [Value(-1.0), Value(-2.0)]
        >>> z = affine(w, x, Value(-3.0))
        >>> z.data, z.op, z.gate, len(z.parents)
        (1.0, 'affine', 'w·x+b', 5)
    """
    if not STATE.plain or type(b) is not Value:
        return _tracing.affine(w, x, b) if STATE.tracing else _affine_gates(w, x, b)
    ws = (b, *w)
    xs = (1.0, *x)
    if len(ws) != len(xs):
        raise ValueError(f"affine: {len(ws) - 1} weights but {len(xs) - 1} inputs")
    z = b.data
    for wi, xi in zip(ws[1:], xs[1:]):
        if type(wi) is not Value:
            return _affine_gates(ws[1:], xs[1:], b)
        if type(xi) is Value:
            z += wi.data * xi.data
        elif type(xi) is float:
            z += wi.data * xi
        else:  # an int or numpy number: as a float, as `wi * xi` would take it
            return affine(
                ws[1:],
                [xj if type(xj) is Value else _affine_number(xj, k) for k, xj in enumerate(xs[1:])],
                b,
            )
    return _record(z, _AFFINE, ws, xs)


def _affine_number(c: Any, k: int) -> float:
    c2 = _number_operand(c)
    if c2 is NotImplemented:
        raise TypeError(
            f"affine: input x[{k}] must be a number or a Value, got {type(c).__name__} ({c!r:.40})"
        )
    return c2


def _affine_gates(w: Sequence[Any], x: Sequence[Any], b: Any) -> Value:
    """z = w·x + b recorded gate by gate (a ``*`` and a ``+`` node per input)."""
    w, x = tuple(w), tuple(x)  # iterators too: both are read twice
    if len(w) != len(x):
        raise ValueError(f"affine: {len(w)} weights but {len(x)} inputs")
    return sum((wi * xi for wi, xi in zip(w, x)), b)


_AFFINE = ops.AFFINE


# --- the passes and tracing, which need Value ------------------------------------------

from . import tracing as _tracing  # noqa: E402 (needs Value)
from .backward import backprop, local_terms, topological_order  # noqa: E402 (needs Value)
