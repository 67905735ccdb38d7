"""`Value`, the scalar node of the computational graph, and its backward pass.

A Value holds a float (``data``), its gradient (``grad``), an optional ``label``, the
entry of the op table (:mod:`autodiff.ops`) that made it, and references to its inputs:
two slots, ``_a`` and ``_b`` (for a folded gate such as ``x + 1``, ``_b`` holds the
constant; for a neuron's fused ``w·x + b`` gate, made by :func:`affine`, they hold the
tuples ``(b, w0, w1, ...)`` and ``(1, x0, x1, ...)``).  There is no closure or dict per
node, so a node is one object for
Python's cyclic garbage collector to walk and the graph is freed by reference counting.
Every operator looks its op up in the table, computes the forward with the table's
function, and :meth:`Value.backward` multiplies each upstream gradient by the table's
local derivative, in an iterative topological order (Kahn's algorithm, with each node's
count of pending consumers kept in its ``_n`` slot), so graphs a million nodes deep work.

    >>> x = Value(2.0, label="x")
    >>> y = x * x + 1
    >>> y.backward()
    >>> y.data, x.grad
    (5.0, 4.0)
"""
from __future__ import annotations

import math
import sys
from numbers import Real
from typing import Any, Iterator, Optional, Sequence, Union

from . import ops
from .ops import Op

__all__ = ["Value", "affine", "local_terms", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly",
           "Number"]

Number = Union[int, float]


class _State:
    """Engine switches: graph recording, anomaly checks, and the tape's tracing guard.
    ``plain`` (recording on, no anomaly checks) is kept up to date for the hot path."""
    __slots__ = ("_grad_enabled", "_anomaly", "tracing", "plain")

    def __init__(self) -> None:
        self._grad_enabled = True
        self._anomaly = False
        self.tracing = False
        self.plain = True

    @property
    def grad_enabled(self) -> bool:
        return self._grad_enabled

    @grad_enabled.setter
    def grad_enabled(self, on: bool) -> None:
        self._grad_enabled = bool(on)
        self.plain = self._grad_enabled and not self._anomaly

    @property
    def anomaly(self) -> bool:
        return self._anomaly

    @anomaly.setter
    def anomaly(self, on: bool) -> None:
        self._anomaly = bool(on)
        self.plain = self._grad_enabled and not self._anomaly


STATE = _State()


def _as_number(x: Any, where: str) -> float:
    """A Python/numpy real number as a float, or a TypeError naming what it got."""
    if type(x) is float:
        return x
    if isinstance(x, Real):  # int, bool, numpy scalars
        return _to_float(x, where)
    raise TypeError(f"{where}: expected a number (int, float, numpy scalar) or a Value, "
                    f"got {type(x).__name__} {x!r:.60}")


def _to_float(x: Any, where: str) -> float:
    try:
        return float(x)
    except OverflowError:  # an int past 1.8e308: say which number and where
        raise OverflowError(f"{where}: the integer {x!r:.40} is too large for a "
                            "float") from None


def _describe(v: Any) -> str:
    if isinstance(v, Value):
        name = f"'{v.label}'" if v.label else "unlabelled"
        return f"{v.data!r} (node {name})"
    return repr(v)


def _forward_error(op: Op, err: Exception, a: "Value", b: Any) -> Exception:
    """Rewrite a bare ``math domain error`` into one naming op, inputs and labels."""
    if op.kind == "binary":
        inputs = f"inputs {_describe(a)} and {_describe(b)}"
    elif op.kind == "folded":
        inputs = f"input {_describe(a)} with constant {b!r}"
    else:
        inputs = f"input {_describe(a)}"
    why = _PLAIN.get(str(err)) or (
        "the result is too large for a float" if isinstance(err, OverflowError)
        else str(err) or type(err).__name__)
    domain = f"; defined for {op.domain}" if op.domain else ""
    cls = type(err) if isinstance(err, (ArithmeticError, ValueError)) else ValueError
    return cls(f"{op.name} ({op.doc}): {why} for {inputs}{domain}")


_PLAIN = {"math domain error": "outside the domain",
          "math range error": "the result is too large for a float",
          "float division by zero": "division by zero"}


def _check_finite(op: Op, data: float, a: "Value", b: Any) -> None:
    if not math.isfinite(data):
        what = _describe(a) + (f", {_describe(b)}" if b is not None else "")
        raise FloatingPointError(
            f"detect_anomaly: forward of {op.name} ({op.label(b if op.kind == 'folded' else None)}) "
            f"produced {data!r} from {what}")


def _node(data: float, op: Op, a: "Value", b: Any) -> "Value":
    """A recorded node (or, under ``no_grad``, a plain leaf); one object, no closure."""
    if STATE.anomaly:
        _check_finite(op, data, a, b)
    if not STATE.grad_enabled:
        return Value(data)
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v.label = ""
    v._op = op
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
        raise TypeError(f"a Value can only be combined with a number (int, float, numpy "
                        f"scalar) or a Value, not a {type(c).__name__} ({c!r:.40})")
    return NotImplemented


# The Value methods are made from the op table by the three factories below, one frame
# per operation: the engine's hot path (a training step records tens of thousands of
# nodes), so each builds its node inline unless a switch (no_grad, anomaly) is on.

def _binary_method(op: Op):
    """``x (op) y``: a binary node for two Values, the folded twin for a number."""
    forward = op.forward
    kop = op.number_op
    kforward = kop.forward
    reflected = "__r" + op.dunder[2:]

    def method(self: "Value", other: Any) -> "Value":
        if type(other) is Value:
            b = other
            try:
                data = forward(self.data, other.data)
            except (ArithmeticError, ValueError) as e:
                raise _forward_error(op, e, self, other) from None
            node_op = op
        else:
            b = _number_operand(other)
            if b is NotImplemented:
                if isinstance(other, Value):  # a traced node: it records `self (op) other`
                    return getattr(other, reflected)(self)
                return b
            try:
                data = kforward(self.data, b)
            except (ArithmeticError, ValueError) as e:
                raise _forward_error(kop, e, self, b) from None
            node_op = kop
        if STATE.plain:
            v = _new(Value)
            v.data = data
            v.grad = 0.0
            v.label = ""
            v._op = node_op
            v._a = self
            v._b = b
            v._n = 0
            return v
        return _node(data, node_op, self, b)
    return method


def _folded_method(op: Op):
    """A number on the left, ``c (op) x``, as one folded gate (``1 + x``, ``1 / x``)."""
    forward = op.forward
    direct = "__" + op.dunder[3:] if op.dunder else ""

    def method(self: "Value", other: Any) -> "Value":
        c = _number_operand(other)
        if c is NotImplemented:
            if isinstance(other, Value):  # a traced node: it records `other (op) self`
                return getattr(other, direct)(self)
            return c
        try:
            data = forward(self.data, c)
        except (ArithmeticError, ValueError) as e:
            raise _forward_error(op, e, self, c) from None
        if STATE.plain:
            v = _new(Value)
            v.data = data
            v.grad = 0.0
            v.label = ""
            v._op = op
            v._a = self
            v._b = c
            v._n = 0
            return v
        return _node(data, op, self, c)
    return method


def _unary_method(op: Op):
    """A one-input gate (``exp``, ``relu``...), as a method ``x.exp()``."""
    forward = op.forward

    def method(self: "Value") -> "Value":
        try:
            data = forward(self.data)
        except (ArithmeticError, ValueError) as e:
            raise _forward_error(op, e, self, None) from None
        if STATE.plain:
            v = _new(Value)
            v.data = data
            v.grad = 0.0
            v.label = ""
            v._op = op
            v._a = self
            v._b = None
            v._n = 0
            return v
        return _node(data, op, self, None)
    method.__doc__ = (f"{op.doc}; local derivative {op.rules[0]}. "
                      f"Records one '{op.label()}' node.")
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

    __slots__ = ("data", "grad", "label", "_op", "_a", "_b", "_n")

    def __init__(self, data: Number, label: str = "") -> None:
        if type(data) is not float:
            if isinstance(data, Value):
                raise TypeError("Value(data): got a Value; use v.detach() to copy one "
                                "without its graph")
            data = _as_number(data, "Value(data)")
        if not isinstance(label, str):
            raise TypeError(f"Value(label): expected a str, got {type(label).__name__}")
        self.data = data
        self.grad = 0.0
        self.label = label
        self._op = None
        self._a = None
        self._b = None
        self._n = 0

    # --- introspection -------------------------------------------------------------
    @property
    def op(self) -> Optional[str]:
        """Name of the op that made this node (``'mul'``, ``'exp'``...), None for a leaf."""
        return None if self._op is None else self._op.name

    @property
    def parents(self) -> tuple:
        """The Values this node was computed from (``()`` for a leaf; ``(a, a)`` for a+a;
        ``(b, w0, x0, w1, x1, ...)`` for a fused ``w·x+b``, numbers left out)."""
        op = self._op
        if op is None:
            return ()
        if op.binary:
            return (self._a, self._b)
        if op.nary:
            ps = []
            for p, q in zip(self._a, self._b):
                ps.append(p)
                if type(q) is Value:
                    ps.append(q)
            return tuple(ps)
        return (self._a,)

    @property
    def const(self) -> Optional[float]:
        """The number folded into this node's gate (1.0 for ``x + 1``), else None."""
        op = self._op
        return self._b if op is not None and op.kind == "folded" else None

    @property
    def gate(self) -> str:
        """The gate label a diagram draws (``'+1'``, ``'1/x'``, ``'exp'``); '' for a leaf."""
        op = self._op
        return "" if op is None else op.label(self.const)

    @property
    def is_leaf(self) -> bool:
        """True for an input or parameter (a Value not computed from others)."""
        return self._op is None

    def __repr__(self) -> str:
        lab = f", label={self.label!r}" if self.label else ""
        grad = self.grad
        g = f"{grad:.4g}" if type(grad) is float else repr(grad)
        return f"Value(data={self.data:.4g}, grad={g}{lab})"

    def _repr_svg_(self) -> Optional[str]:
        """Jupyter shows a Value as its graph (boxes; None past 40 nodes or without dot)."""
        from visualize.diagram import value_svg  # lazy: importing autodiff needs no graphviz
        return value_svg(self)

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
    def __neg__(self) -> "Value":
        return self * -1.0  # one '*-1' gate, as the lecture draws it

    def __pos__(self) -> "Value":
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
    def detach(self) -> "Value":
        """A new leaf with the same data and label, cut from the graph."""
        return Value(self.data, self.label)

    def walk(self) -> Iterator["Value"]:
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
        if type(grad) is not float:
            if isinstance(grad, Value):
                if not create_graph:
                    grad = grad.data
            else:
                grad = _as_number(grad, "backward(grad)")
        _backprop(self, grad, create_graph)


def _refuse_control_flow(what: str) -> None:
    raise TypeError(
        f"{what} of a Value while tracing: the result would depend on Python control "
        "flow over Values, which a compiled tape cannot replay for other inputs. Use an "
        "op instead (relu, abs, ...) or run this function eagerly.")


def _install_methods() -> None:
    """Give Value one method per table entry: ``__add__``, ``__rsub__``, ``exp``..."""
    makers = {"binary": _binary_method, "folded": _folded_method, "unary": _unary_method}
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


# --- tracing: the nodes a compiled tape's trace computes from its inputs ----------------
# While a tape traces, its inputs and every node computed from them are `_Traced`: the
# same node (one object, same slots), whose class adds guards against reading its number
# into plain Python, which the tape would replay as a constant.  Other Values (parameters,
# constants, `detach()` copies) stay plain Values; when the trace ends every `_Traced`
# node becomes a plain Value again.  Nothing here runs outside a trace.

def _refuse_number(call: str) -> None:
    unary = ", ".join(f"x.{op.name}()" for op in ops.UNARY if not op.dunder)
    raise TypeError(
        f"{call} of a Value while tracing: the traced sample's number would become a "
        "constant of the compiled tape, replayed unchanged for every other sample. "
        f"Compute with the Value instead ({unary}, abs(x), x ** c), read "
        "x.detach().data where a constant is meant (e.g. a stable shift), or run the "
        "function eagerly.")


_DATA = Value.__dict__["data"]  # the slot itself: _Traced.data guards it
_data_of = _DATA.__get__
_set_data = _DATA.__set__
_TRACED: list = []  # nodes made _Traced by the running trace, turned back at its end
_traced_append = _TRACED.append


class _Traced(Value):
    """A Value the running trace computed from its inputs.  ``.data`` read from code
    outside the engine, ``int()``, ``round()`` and ``math.trunc()`` are refused while
    tracing (``float()`` is refused for every Value)."""
    __slots__ = ()

    @property
    def data(self) -> float:
        if STATE.tracing:
            name = sys._getframe(1).f_globals.get("__name__", "")
            if name != "autodiff" and not name.startswith("autodiff."):
                _refuse_number("x.data (read outside the engine)")
        return _data_of(self)

    @data.setter
    def data(self, value: float) -> None:
        _set_data(self, value)

    def __int__(self) -> int:
        return _number_of_traced("int(x)", "__int__")

    def __round__(self, ndigits: Any = None) -> Any:
        return _number_of_traced("round(x)", "__round__")

    def __trunc__(self) -> int:
        return _number_of_traced("math.trunc(x)", "__trunc__")


def _number_of_traced(call: str, method: str) -> Any:
    if STATE.tracing:
        _refuse_number(call)
    raise TypeError(f"type Value doesn't define {method} method")


def _traced_node(data: float, op: Op, a: Any, b: Any) -> Value:
    if STATE.plain:
        v = _new(_Traced)
        _set_data(v, data)
        v.grad = 0.0
        v.label = ""
        v._op = op
        v._a = a
        v._b = b
        v._n = 0
    else:
        v = _node(data, op, a, b)  # anomaly checks, no_grad
        v.__class__ = _Traced
    _traced_append(v)
    return v


def _traced_method(op: Op, name: str):
    """``_Traced``'s version of Value's method ``name`` for ``op``: it also takes a Value
    on the other side (Python calls ``c.__radd__(v)`` first when c is a _Traced)."""
    forward = op.forward
    if op.kind == "unary":
        def method(self: Value) -> Value:
            try:
                data = forward(_data_of(self))
            except (ArithmeticError, ValueError) as e:
                raise _forward_error(op, e, self, None) from None
            return _traced_node(data, op, self, None)
        return method
    if op.kind == "binary":  # self (op) other
        kop = op.number_op
        binary, swap = op, False
    else:                    # folded, reflected: other (op) self
        kop = op
        binary = next(o for o in ops.BINARY if o.dunder == "__" + name[3:])
        swap = True

    def method(self: Value, other: Any) -> Any:
        if isinstance(other, Value):
            a, b = (other, self) if swap else (self, other)
            try:
                data = binary.forward(_data_of(a), _data_of(b))
            except (ArithmeticError, ValueError) as e:
                raise _forward_error(binary, e, a, b) from None
            return _traced_node(data, binary, a, b)
        c = _number_operand(other)
        if c is NotImplemented:
            return c
        try:
            data = kop.forward(_data_of(self), c)
        except (ArithmeticError, ValueError) as e:
            raise _forward_error(kop, e, self, c) from None
        return _traced_node(data, kop, self, c)
    return method


for _op in ops.ALL:  # the same names _install_methods gives Value
    _names = [_op.dunder] if _op.dunder else []
    if _op.kind == "unary":
        _names.append(_op.name)
    for _name in _names:
        _m = _traced_method(_op, _name)
        _m.__name__, _m.__qualname__ = _name, f"_Traced.{_name}"
        setattr(_Traced, _name, _m)
del _op, _names, _name, _m


def _trace_inputs(inputs: Sequence[Value]) -> None:
    """A trace starts: its inputs (fresh leaves) become _Traced, and so will every node
    computed from them until :func:`_end_trace`."""
    for v in inputs:
        v.__class__ = _Traced
        _TRACED.append(v)


def _end_trace() -> None:
    """A trace ended: its nodes become plain Values (once no outer trace is running)."""
    if STATE.tracing:
        return
    for v in _TRACED:
        v.__class__ = Value
    _TRACED.clear()


# --- a neuron's z = w·x + b as one node -------------------------------------------------

def affine(w: Sequence["Value"], x: Sequence[Any], b: "Value") -> "Value":
    """``b + w[0]*x[0] + w[1]*x[1] + ...``: a neuron's z = w·x + b, as one ``w·x+b`` node.

    The value is bit for bit what ``sum((wi*xi for wi, xi in zip(w, x)), b)`` computes
    (the same products, added in the same order), and so is each gradient it sends
    back: d z/d w_i = x_i, d z/d x_i = w_i, d z/d b = 1 (the op table's ``affine``
    entry).  An input's total gradient is then the same sum as the gate graph's when
    each input is used once, as in an MLP; a Value used several times may get its
    shares added in another order, so its last bits can differ.  It records one node where the sum records two per input, and a
    training step of an MLP is mostly these nodes: ten times fewer of them for the
    garbage collector to walk.  ``w`` and ``b`` are Values; an ``x_i`` may be a Value or
    a number.  Under ``no_grad`` or ``detect_anomaly``, and for weights that are not
    Values, it records the sum gate by gate instead.

        >>> w, x = [Value(2.0), Value(-3.0)], [Value(-1.0), Value(-2.0)]
        >>> z = affine(w, x, Value(-3.0))
        >>> z.data, z.op, z.gate, len(z.parents)
        (1.0, 'affine', 'w·x+b', 5)
    """
    if STATE.tracing:
        return _affine_traced(w, x, b)
    if not STATE.plain or type(b) is not Value:
        return _affine_gates(w, x, b)
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
            if any(type(wj) is not Value for wj in ws):  # the loop stops here: check
                return _affine_gates(ws[1:], xs[1:], b)   # the weights it did not reach
            xs = (1.0, *[xj if type(xj) is Value else _affine_number(xj, k)
                         for k, xj in enumerate(xs[1:])])
            z = _AFFINE_F(tuple(p.data for p in ws),
                          tuple(q.data if type(q) is Value else q for q in xs))
            break
    v = _new(Value)
    v.data = z
    v.grad = 0.0
    v.label = ""
    v._op = _AFFINE
    v._a = ws
    v._b = xs
    v._n = 0
    return v


def _affine_traced(w: Sequence[Any], x: Sequence[Any], b: Any) -> "Value":
    """``affine`` while a tape traces: one fused node, a ``_Traced`` one (inputs may be)."""
    ws = (b, *w)
    xs = (1.0, *[xi if isinstance(xi, Value) else _affine_number(xi, k)
                 for k, xi in enumerate(x)])
    if len(ws) != len(xs):
        raise ValueError(f"affine: {len(ws) - 1} weights but {len(xs) - 1} inputs")
    if not STATE.plain or not all(isinstance(wi, Value) for wi in ws):
        return _affine_gates(ws[1:], xs[1:], b)
    z = _AFFINE_F(tuple(_data_of(p) for p in ws),
                  tuple(_data_of(q) if isinstance(q, Value) else q for q in xs))
    return _traced_node(z, _AFFINE, ws, xs)


def _affine_number(c: Any, k: int) -> float:
    c2 = _number_operand(c)
    if c2 is NotImplemented:
        raise TypeError(f"affine: input x[{k}] must be a number or a Value, "
                        f"got {type(c).__name__} ({c!r:.40})")
    return c2


def _affine_gates(w: Sequence[Any], x: Sequence[Any], b: Any) -> "Value":
    """z = w·x + b recorded gate by gate (a ``*`` and a ``+`` node per input)."""
    w, x = tuple(w), tuple(x)  # iterators too: both are read twice
    if len(w) != len(x):
        raise ValueError(f"affine: {len(w)} weights but {len(x)} inputs")
    return sum((wi * xi for wi, xi in zip(w, x)), b)


_AFFINE = ops.AFFINE
_AFFINE_F = ops.AFFINE.forward


def local_terms(v: "Value") -> list:
    """``(input, local derivative, rule)`` for each of ``v.parents`` in order, the local
    derivative as a float from the op table, the rule as text (``'-1/x^2'``, ``'x3'``).

        >>> x = Value(2.0); [(p is x, d, r) for p, d, r in local_terms(x * x)]
        [(True, 2.0, 'y'), (True, 2.0, 'x')]
    """
    op = v._op
    if op is None:
        return []
    if op.nary:
        terms = []
        out = v.data
        for k, (p, q) in enumerate(zip(v._a, v._b)):
            qd = q.data if type(q) is Value else q
            terms.append((p, op.local(0, p.data, qd, out), op.rule(0, term=k - 1) if k else "1"))
            if type(q) is Value:
                terms.append((q, op.local(1, p.data, qd, out), op.rule(1, term=k - 1)))
        return terms
    x, y = v._a.data, (v._b.data if op.binary else v._b)
    return [(p, op.local(i, x, y, v.data), op.rule(i, v.const))
            for i, p in enumerate(v.parents)]


# --- the backward pass ----------------------------------------------------------------

def topological_order(root: Value) -> list:
    """All nodes reachable from ``root``, inputs before outputs (iterative, no recursion).

        >>> x = Value(1.0); y = x + x
        >>> [v.op for v in topological_order(y)]
        [None, 'add']
    """
    order = []
    for v in _reverse_order(root):
        order.append(v)
    order.reverse()
    return order


def _count_consumers(root: Value) -> None:
    """Pass 1 of Kahn's algorithm, for ``topological_order``: ``_n`` of every node (leaves
    too) = how many of its consumers lie in root's graph."""
    stack = [root]
    while stack:
        v = stack.pop()
        if v._op is None:
            continue
        for p in v.parents:
            if p._n == 0:
                stack.append(p)
            p._n += 1


def _count_pending(root: Value) -> None:
    """Pass 1 of backward: ``_n`` of each intermediate node of root's graph = how many of
    its consumers in the graph will send it a gradient, and its ``grad`` zeroed (it holds
    this pass's gradient only).  Leaves are neither stacked nor counted: they accumulate
    and have no inputs to pass anything on to.  ``root`` must not be a leaf."""
    stack = [root]
    pop = stack.pop
    push = stack.append
    while True:  # not `while stack:`; see _backprop
        v = pop()
        a = v._a
        op = v._op
        if op.binary:
            if a._op is not None:
                n = a._n
                if n == 0:
                    push(a)
                    a.grad = 0.0
                a._n = n + 1
            b = v._b
            if b._op is not None:
                n = b._n
                if n == 0:
                    push(b)
                    b.grad = 0.0
                b._n = n + 1
        elif op.nary:  # a fused w·x+b: a = (b, w0, ...), v._b = (1.0, x0, ...)
            for p in a:
                if p._op is not None:
                    n = p._n
                    if n == 0:
                        push(p)
                        p.grad = 0.0
                    p._n = n + 1
            for p in v._b:
                if type(p) is Value and p._op is not None:
                    n = p._n
                    if n == 0:
                        push(p)
                        p.grad = 0.0
                    p._n = n + 1
        elif a._op is not None:
            n = a._n
            if n == 0:
                push(a)
                a.grad = 0.0
            a._n = n + 1
        if not stack:
            return


def _reverse_order(root: Value) -> Iterator[Value]:
    """Yield root's graph outputs-first: a node comes once all its consumers came."""
    _count_consumers(root)
    ready = [root]
    try:
        while ready:
            v = ready.pop()
            yield v
            if v._op is None:
                continue
            for p in v.parents:
                p._n -= 1
                if p._n == 0:
                    ready.append(p)
    finally:
        if ready:  # abandoned part-way: clear the counts left behind
            _reset_counts(root)


def _reset_counts(root: Value) -> None:
    stack = [root]
    seen = set()
    while stack:
        v = stack.pop()
        v._n = 0
        if v._op is not None:
            for p in v.parents:
                if id(p) not in seen:
                    seen.add(id(p))
                    stack.append(p)


_OTHER = ops.OTHER_OPERAND  # a product's local derivative: backward reads the operand
assert ops.AFFINE.derivs == (_OTHER, ops.MUL.derivs[1])  # the nary branch relies on it


def _backprop(root: Value, seed: Any, create_graph: bool) -> None:
    """Pass 2: visit nodes outputs-first, adding ``upstream * local`` to each input; a
    node is visited once all its consumers in the graph have sent their share."""
    if root._op is None:
        root.grad = root.grad + seed
        return
    _count_pending(root)
    if create_graph:
        _backprop_graph(root, seed)
        return
    root.grad = seed
    anomaly = STATE.anomaly
    ready = [root]
    pop = ready.pop
    push = ready.append
    v = root
    # Three things keep this loop lean, none changes a result bit: a local derivative
    # that is the other operand (``mul``: the table's ``_y``/``_x``) is read straight
    # from it; a derivative of 1.0 passes the upstream float on as it is (``g * 1.0 ==
    # g``); and a node's first nonzero contribution is stored, not added to 0.0.  So
    # a chain of ``+`` nodes shares one gradient float and makes no new ones.
    # The loop is `while True` with a break at the bottom, not `while ready:`: CPython
    # 3.11 specializes a loop's bytecode during its first call only when the loop ends
    # in an unconditional jump; otherwise the first 8 backward passes run unspecialized,
    # about 2.5x slower.
    try:
        while True:
            v = pop()
            op = v._op
            g = v.grad
            a = v._a
            if op.binary:
                b = v._b
                da, db = op.derivs
                if da is _OTHER:  # mul: d/dx = y, d/dy = x
                    ga = g * b.data
                    gb = g * a.data
                elif type(da) is float:  # +, -
                    ga = g if da == 1.0 else g * da
                    gb = g if db == 1.0 else g * db
                else:
                    x = a.data
                    y = b.data
                    out = v.data
                    ga = g * da(x, y, out)
                    gb = g * db(x, y, out)
                if anomaly:
                    _check_grad(v, ga, gb)
                # A zero contribution changes nothing (but a -0.0's sign): skipping it
                # keeps the shared 0.0 in place of a new float per node, which the GC
                # would otherwise walk (most nodes of a ReLU/hinge graph get zero).
                if b._op is None:
                    if gb:
                        b.grad += gb  # a leaf accumulates, across passes too
                else:
                    if gb:
                        if b.grad:
                            b.grad += gb
                        else:
                            b.grad = gb
                    n = b._n - 1
                    b._n = n
                    if n == 0:
                        push(b)
            elif op.nary:
                # A fused w·x+b: a = (b, w0, w1, ...), v._b = (1.0, x0, x1, ...).  Each
                # term is a product (the table marks it OTHER_OPERAND), so each side's
                # local derivative is its partner.  Last pair first, x_i before w_i: the
                # reverse of `parents`, as a binary node sends to y before x.
                for p, q in zip(reversed(a), reversed(v._b)):
                    if type(q) is Value:
                        gp = g * q.data
                        gq = g * p.data
                        if anomaly:
                            _check_term(v, q, gq, g)
                        if q._op is None:
                            if gq:
                                q.grad += gq
                        else:
                            if gq:
                                if q.grad:
                                    q.grad += gq
                                else:
                                    q.grad = gq
                            n = q._n - 1
                            q._n = n
                            if n == 0:
                                push(q)
                    else:
                        gp = g * q
                    if anomaly:
                        _check_term(v, p, gp, g)
                    if p._op is None:
                        if gp:
                            p.grad += gp
                    else:
                        if gp:
                            if p.grad:
                                p.grad += gp
                            else:
                                p.grad = gp
                        n = p._n - 1
                        p._n = n
                        if n == 0:
                            push(p)
                if not ready:
                    break
                continue
            else:
                da = op.derivs[0]
                if type(da) is float:  # +c, -c, c-x
                    ga = g if da == 1.0 else g * da
                elif da is _OTHER:  # *c: the constant
                    ga = g * v._b
                else:
                    ga = g * da(a.data, v._b, v.data)
                if anomaly:
                    _check_grad(v, ga, None)
            if a._op is None:
                if ga:
                    a.grad += ga
            else:
                if ga:
                    if a.grad:
                        a.grad += ga
                    else:
                        a.grad = ga
                n = a._n - 1
                a._n = n
                if n == 0:
                    push(a)
            if not ready:
                break
    except (ArithmeticError, ValueError, TypeError) as e:
        _reset_counts(root)
        if isinstance(e, FloatingPointError):
            raise
        raise _backward_error(v, e) from None
    except BaseException:  # KeyboardInterrupt: leave no stale counts for the next pass
        _reset_counts(root)
        raise


def _backprop_graph(root: Value, seed: Any) -> None:
    """``create_graph=True``: the same pass, run on Values so gradients form a graph."""
    if type(seed) is not Value:
        seed = Value(seed)
    root.grad = seed
    ready = [root]
    prev = STATE.grad_enabled
    STATE.grad_enabled = True
    v = root
    i = 0
    try:
        while ready:
            v = ready.pop()
            op = v._op
            if op is None:
                continue
            g = v.grad
            if op.nary:  # the float pass's order: last pair first, x_i before w_i
                terms = []
                i = len(v.parents)  # each term's place in parents, for error messages
                for p, q in zip(reversed(v._a), reversed(v._b)):
                    if type(q) is Value:
                        i -= 1
                        terms.append((i, q, op.local(1, p, q, v)))
                    i -= 1
                    terms.append((i, p, op.local(0, p, q, v)))
                for i, p, local in terms:
                    p.grad = p.grad + (g if local == 1.0 else g * local)
                    if p._op is not None:
                        p._n -= 1
                        if p._n == 0:
                            ready.append(p)
                continue
            inputs = (v._a, v._b) if op.binary else (v._a,)
            for i, p in enumerate(inputs):
                local = op.local(i, v._a, v._b, v)
                p.grad = p.grad + (g if local == 1.0 else g * local)
            for p in reversed(inputs):  # the float pass's order: first input popped first
                if p._op is not None:  # leaves are not counted
                    p._n -= 1
                    if p._n == 0:
                        ready.append(p)
    except FloatingPointError as e:  # detect_anomaly caught a gradient node's forward
        _reset_counts(root)
        raise FloatingPointError(
            f"detect_anomaly: backward of {v._op.name} ({v.gate}) produced a non-finite "
            f"gradient for input {i} {_describe(v.parents[i])}; upstream grad "
            f"{_describe(v.grad)}, local derivative "
            f"{local_terms(v)[i][2] if v._op.nary else v._op.rule(i, v.const)}; output "
            f"{_describe(v)} [{e}]") from None
    except (ArithmeticError, ValueError, TypeError) as e:
        _reset_counts(root)
        raise _backward_error(v, e) from None
    except BaseException:
        _reset_counts(root)
        raise
    finally:
        STATE.grad_enabled = prev


def _check_grad(v: Value, ga: float, gb: Optional[float]) -> None:
    for i, g in enumerate((ga, gb)):
        if g is not None and not math.isfinite(g):
            op = v._op
            inp = v.parents[i]
            raise FloatingPointError(
                f"detect_anomaly: backward of {op.name} ({v.gate}) produced gradient {g!r} "
                f"for input {i} {_describe(inp)}; upstream grad {v.grad!r}, "
                f"local derivative {op.rule(i, v.const)}; output {_describe(v)}")


def _check_term(v: Value, inp: Value, g: float, upstream: float) -> None:
    """detect_anomaly for one term of a fused w·x+b node."""
    if not math.isfinite(g):
        raise FloatingPointError(
            f"detect_anomaly: backward of {v._op.name} ({v.gate}) produced gradient {g!r} "
            f"for input {_describe(inp)}; upstream grad {upstream!r}; output {_describe(v)}")


def _backward_error(v: Value, e: Exception) -> Exception:
    op = v._op
    ins = ", ".join(_describe(p) for p in v.parents)
    const = f" with constant {v._b!r}" if op is not None and op.kind == "folded" else ""
    cls = type(e) if isinstance(e, (ArithmeticError, ValueError)) else ValueError
    rules = ", ".join(op.rule(i, v.const) for i in range(len(op.derivs))) if op else ""
    return cls(f"backward of {op.name if op else 'leaf'} ({v.gate}): local derivative "
               f"{rules} failed ({e}) at input {ins}{const}, output {_describe(v)}")


# --- switches ---------------------------------------------------------------------------

class _Switch:
    """Base for the context managers that flip one engine switch and restore it."""
    attr = ""
    value = True

    def __enter__(self) -> "_Switch":
        self._prev = getattr(STATE, self.attr)
        setattr(STATE, self.attr, self.value)
        return self

    def __exit__(self, *exc: Any) -> None:
        setattr(STATE, self.attr, self._prev)

    def __call__(self, fn):
        """Also usable as a decorator."""
        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapped


class no_grad(_Switch):
    """Context manager: operations inside record no graph (results are leaves).

        >>> w = Value(2.0)
        >>> with no_grad():
        ...     y = w * 3
        >>> y.is_leaf
        True
    """
    attr = "grad_enabled"
    value = False


class enable_grad(_Switch):
    """Context manager: record the graph again inside a ``no_grad`` block."""
    attr = "grad_enabled"
    value = True


class detect_anomaly(_Switch):
    """Context manager: a NaN or inf made in a forward or backward step raises a
    ``FloatingPointError`` naming the op, its inputs and their labels.

        >>> with detect_anomaly():
        ...     Value(1e308, label="big") * 10      # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        FloatingPointError: detect_anomaly: forward of mul_const (*10) produced inf ...
    """
    attr = "anomaly"
    value = True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return STATE.grad_enabled
