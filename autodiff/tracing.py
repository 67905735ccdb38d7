"""Tracing for the compiled tape: the nodes a trace records, and what they refuse.

While :mod:`autodiff.program` traces a function, its inputs and every node recorded are
``_Traced``: the same node (one object, the same slots) whose class refuses to have its
number read into plain Python (``.data`` from outside the engine, ``int()``,
``round()``), which the tape would replay as a constant for every sample; ``float()``
and comparisons are refused for every Value while tracing (in :mod:`autodiff.value`).
``x.detach().data`` is the sanctioned constant read.  When the trace ends every traced
node becomes a plain Value again.  Nothing here runs outside a trace.

    >>> from autodiff import compile
    >>> compile(lambda x: x[0] * int(x[0]), [1.0])
    Traceback (most recent call last):
    TypeError: compile(<lambda>): int(x) of a Value while tracing: the traced sample's ...
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

from . import ops
from .errors import _refuse_number
from .modes import STATE
from .ops import Op
from .value import Value, _affine_gates, _affine_number, _record

_DATA = Value.__dict__["data"]  # the slot itself: _Traced.data guards it
_data_of = _DATA.__get__
_set_data = _DATA.__set__
_TRACED: list = []  # nodes made _Traced by the running trace, turned back at its end


class _Traced(Value):
    """A node of the running trace: ``.data`` read from code outside the engine,
    ``int()``, ``round()`` and ``math.trunc()`` are refused while tracing."""

    __slots__ = ()

    @property  # the slot of Value, guarded
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


def traced_node(data: float, fn: Op, a: Any, b: Any) -> Value:
    """The node ``_record`` makes while tracing: a ``_Traced`` node of ``fn`` (a leaf
    under ``no_grad``)."""
    v = Value(data)
    v.__class__ = _Traced
    _TRACED.append(v)
    if STATE.grad_enabled:
        v._fn = fn
        v._a = a
        v._b = b
    return v


def affine(w: Sequence[Any], x: Sequence[Any], b: Any) -> Value:
    """``autodiff.affine`` while tracing: one fused node, whose inputs may be traced."""
    ws = (b, *w)
    xs = (1.0, *[xi if isinstance(xi, Value) else _affine_number(xi, k) for k, xi in enumerate(x)])
    if len(ws) != len(xs):
        raise ValueError(f"affine: {len(ws) - 1} weights but {len(xs) - 1} inputs")
    if STATE.anomaly or not all(isinstance(wi, Value) for wi in ws):
        return _affine_gates(ws[1:], xs[1:], b)
    z = ops.AFFINE.forward(
        tuple(p.data for p in ws), tuple(q.data if isinstance(q, Value) else q for q in xs)
    )
    return _record(z, ops.AFFINE, ws, xs)


def trace_inputs(inputs: Sequence[Value]) -> None:
    """A trace starts: its inputs (fresh leaves) become traced nodes."""
    for v in inputs:
        v.__class__ = _Traced
        _TRACED.append(v)


def end_trace() -> None:
    """A trace ended: its nodes become plain Values (once no outer trace is running)."""
    if STATE.tracing:
        return
    for v in _TRACED:
        v.__class__ = Value
    _TRACED.clear()
