"""The op table: every operation gradwire knows, defined exactly once.

Each entry is an :class:`Op` holding the op's name, the label a diagram draws on its
gate, its forward function on plain floats, and its local derivatives.  A local
derivative is a function ``d(x, y, out)`` of the op's input ``x``, its second operand
``y`` (the other Value, the folded-in constant, or ``None`` for a unary op) and its
output ``out``; it is written with polymorphic math (``+ - * / **`` and the helpers
below) so the same formula runs on floats (ordinary ``backward``) and on Values
(``create_graph=True``, higher-order gradients).  The engine, the step explainer, the
diagrams and the compiled tape all read these entries; adding an op is one entry here
plus its row in the tests.  Ops come in four kinds, grouped below: *binary* (two
Values), *folded* (a Value and a number, drawn as one gate such as ``+1`` or ``*-1``,
as in the lecture's sigmoid circuit), *unary*, and one *n-ary* op, ``affine``: a
neuron's ``z = w·x + b`` as a single gate, which is what keeps an MLP's graph (and the
garbage collector's work) small.

    >>> ADD_C.label(1.0), MUL_C.label(-1.0), RDIV_C.label(1.0)
    ('+1', '*-1', '1/x')
"""
from __future__ import annotations

import math
import operator
from typing import Any, Callable, Optional

import numpy as np

__all__ = ["Op", "BINARY", "FOLDED", "UNARY", "NARY", "ALL", "get", "fmt_number",
           "OTHER_OPERAND", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "step", "sign"]


def fmt_number(c: float) -> str:
    """Format a constant for a gate label: ``1.0 -> '1'``, ``0.5 -> '0.5'``."""
    if c == int(c) and abs(c) < 1e15:
        return str(int(c))
    return f"{c:.4g}"


# --- polymorphic math: floats go to `math`, Values to their own methods, numpy arrays
# (the compiled tape's batches, one row per node) to numpy -----------------------------

def _poly(name: str, fn: Callable[[float], float],
          vfn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Any], Any]:
    def f(x):
        if isinstance(x, (int, float)):
            return fn(x)
        if isinstance(x, np.ndarray):
            return vfn(x)
        return getattr(x, name)()
    f.__name__ = name
    f.__doc__ = f"{name}(x) on a float, a Value or a numpy array."
    return f


def _sigmoid(x: float) -> float:
    # Two branches so that neither exp() can overflow: sigmoid(+-1000) -> 1.0 / 0.0.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid_array(x: np.ndarray) -> np.ndarray:
    # The same two branches, elementwise: exp(-|x|) never overflows.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


exp = _poly("exp", math.exp, np.exp)
log = _poly("log", math.log, np.log)
sqrt = _poly("sqrt", math.sqrt, np.sqrt)
sin = _poly("sin", math.sin, np.sin)
cos = _poly("cos", math.cos, np.cos)
tanh = _poly("tanh", math.tanh, np.tanh)
sigmoid = _poly("sigmoid", _sigmoid, _sigmoid_array)


def step(x: Any) -> Any:
    """Heaviside step as a constant: 1.0 where x > 0, else 0.0 (relu's derivative)."""
    if type(x) is np.ndarray:
        return (x > 0).astype(float)       # (np.where is ten times slower here)
    return 1.0 if x > 0 else 0.0


def sign(x: Any) -> Any:
    """Sign as a constant: 1.0, -1.0, or 0.0 at zero (abs's derivative, as PyTorch)."""
    if type(x) is np.ndarray:
        return (x > 0).astype(float) - (x < 0)
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def _relu(x: float) -> float:
    return x if x > 0.0 else 0.0


def _relu_array(x: np.ndarray) -> np.ndarray:
    # _relu's floats, without a branch per element: fmax gives 0 for nan and -inf, and
    # + 0.0 turns -0.0 into 0.0 (and leaves every other number as it is)
    out = np.fmax(x, 0.0)
    out += 0.0
    return out


def _relu_local(x: Any, y: Any, out: Any) -> Any:
    """relu's local derivative, step(x); floats first, as backward calls it per node."""
    if type(x) is float:
        return 1.0 if x > 0.0 else 0.0
    return step(x)


def _pow(x: float, y: float) -> float:
    r = x ** y
    if type(r) is complex:  # Python returns a complex root for (-8.0) ** 0.5
        raise ValueError("a negative base with a fractional exponent has no real result")
    return r


def _log_base(x: Any) -> Any:
    """d/dy x**y needs log(x); 0 where x == 0 (as PyTorch), nan where x < 0."""
    if type(x) is np.ndarray:
        pos = x > 0
        return np.where(pos, np.log(np.where(pos, x, 1.0)), np.where(x == 0, 0.0, math.nan))
    xd = x if isinstance(x, (int, float)) else x.data
    if xd > 0:
        return log(x)
    return 0.0 if xd == 0 else math.nan


# --- the entry ------------------------------------------------------------------------

class Op:
    """One operation: name, gate label, forward, local derivatives, and its rule text.

    ``kind`` is ``"binary"``, ``"folded"``, ``"unary"`` or ``"nary"``.  ``derivs`` holds one
    local derivative per differentiable input (two for binary ops, one otherwise), each a
    constant or a function ``d(x, y, out)`` (see :meth:`local`); an n-ary op is a sum over
    pairs ``(w_i, x_i)`` and its two derivatives are those of one pair's term.  ``rules``
    the same derivatives as text, for the explainer, e.g. ``"-1/x^2"``.  ``domain`` says
    in words where the forward is defined, for error messages.  ``vforward`` is the
    forward on numpy arrays (the compiled tape's replay); the derivative functions
    accept arrays as they are, through the polymorphic helpers.

        >>> EXP.forward(0.0), EXP.local(0, 0.0, None, 1.0)
        (1.0, 1.0)
    """

    __slots__ = ("name", "_label", "kind", "forward", "vforward", "derivs", "rules",
                 "domain", "binary", "nary", "doc", "symbol", "dunder", "number_op")

    def __init__(self, name: str, label: str, kind: str, forward: Callable[..., float],
                 derivs: tuple, rules: tuple, doc: str, domain: str = "",
                 symbol: str = "", dunder: str = "",
                 number_op: Optional["Op"] = None,
                 vforward: Optional[Callable[..., Any]] = None) -> None:
        self.name = name
        self._label = label
        self.kind = kind
        self.forward = forward
        # The same forward on numpy arrays (the compiled tape's replay); the float
        # forward itself when its arithmetic already works elementwise.
        self.vforward = forward if vforward is None else vforward
        self.derivs = derivs
        self.rules = rules
        self.doc = doc
        self.domain = domain
        self.binary = kind == "binary"
        self.nary = kind == "nary"
        self.symbol = symbol  # infix symbol for formulas ("+", "*", ...), "" for calls
        # The Python operator this op implements on Value ("__add__", "__rsub__"), and
        # for a binary op, its folded twin used when the other operand is a number.
        self.dunder = dunder
        self.number_op = number_op

    def label(self, const: Optional[float] = None) -> str:
        """The gate's label; folded ops put their constant in: ``'+{c}' -> '+1'``."""
        if "{c}" in self._label:
            return self._label.replace("{c}", fmt_number(const))
        return self._label

    def local(self, i: int, x: Any, y: Any, out: Any) -> Any:
        """Local derivative d out / d input ``i`` at the given (float or Value) point."""
        d = self.derivs[i]
        return d if type(d) is float else d(x, y, out)

    def rule(self, i: int = 0, const: Optional[float] = None,
             term: Optional[int] = None) -> str:
        """Local derivative of input ``i`` as text, constant substituted; for an n-ary
        op, ``term`` numbers the pair: ``AFFINE.rule(0, term=3) -> 'x3'``."""
        r = self.rules[i]
        if "{i}" in r:
            r = r.replace("{i}", "" if term is None else str(term))
        return r.replace("{c}", fmt_number(const)) if "{c}" in r else r

    def __repr__(self) -> str:
        return f"Op({self.name!r}, label={self._label!r}, kind={self.kind!r})"


def _y(x, y, out):
    return y


def _x(x, y, out):
    return x


# A product's local derivative is its other operand: d(x*y)/dx = y, d(x*y)/dy = x, and
# d(x*c)/dx = c.  Entries say so with ``(_y, _x)`` or ``(_y,)``, and the engine's backward
# reads the operand directly when it sees this function, instead of calling it.
OTHER_OPERAND = _y


def _dot(ws: Any, xs: Any) -> Any:
    """``ws[0]*xs[0] + ws[1]*xs[1] + ...`` added left to right.  A neuron stores
    ``(b, w0, w1, ...)`` and ``(1, x0, x1, ...)``; since ``b * 1.0 == b``, this is
    ``((b + w0*x0) + w1*x1) + ...``, the very floats ``sum((wi*xi ...), b)`` gives."""
    z = ws[0] * xs[0]
    for i in range(1, len(ws)):
        z = z + ws[i] * xs[i]
    return z


# --- folded: a Value and a number c, one gate as in the slides ------------------------

ADD_C = Op("add_const", "+{c}", "folded", operator.add, (1.0,), ("1",), "x + c",
           dunder="__radd__")
SUB_C = Op("sub_const", "-{c}", "folded", operator.sub, (1.0,), ("1",), "x - c")
RSUB_C = Op("rsub_const", "{c}-x", "folded", lambda x, c: c - x, (-1.0,), ("-1",),
            "c - x", dunder="__rsub__")
MUL_C = Op("mul_const", "*{c}", "folded", operator.mul, (_y,), ("{c}",), "x * c",
           dunder="__rmul__")
DIV_C = Op("div_const", "/{c}", "folded", operator.truediv,
           (lambda x, c, out: 1.0 / c,), ("1/{c}",), "x / c", domain="c != 0")
RDIV_C = Op("rdiv_const", "{c}/x", "folded", lambda x, c: c / x,
            (lambda x, c, out: -out / x,), ("-{c}/x^2",), "c / x", domain="x != 0",
            dunder="__rtruediv__")
POW_C = Op("pow_const", "**{c}", "folded", _pow,
           (lambda x, c, out: c * x ** (c - 1.0),), ("{c}*x^({c}-1)",), "x ** c",
           domain="x > 0, or x < 0 with a whole exponent, or x == 0 with c >= 0")
RPOW_C = Op("rpow_const", "{c}^x", "folded", lambda x, c: _pow(c, x),
            (lambda x, c, out: out * _log_base(c),), ("{c}^x*ln({c})",), "c ** x",
            domain="c > 0, or c < 0 with a whole exponent, or c == 0 with x >= 0",
            dunder="__rpow__")

# --- binary: Value (op) Value ----------------------------------------------------------

ADD = Op("add", "+", "binary", operator.add, (1.0, 1.0), ("1", "1"),
         "x + y", symbol="+", dunder="__add__", number_op=ADD_C)
SUB = Op("sub", "-", "binary", operator.sub, (1.0, -1.0), ("1", "-1"),
         "x - y", symbol="-", dunder="__sub__", number_op=SUB_C)
MUL = Op("mul", "*", "binary", operator.mul, (_y, _x), ("y", "x"), "x * y", symbol="*",
         dunder="__mul__", number_op=MUL_C)
DIV = Op("div", "/", "binary", operator.truediv,
         (lambda x, y, out: 1.0 / y, lambda x, y, out: -out / y),
         ("1/y", "-x/y^2"), "x / y", domain="y != 0", symbol="/",
         dunder="__truediv__", number_op=DIV_C)
POW = Op("pow", "**", "binary", _pow,
         (lambda x, y, out: y * x ** (y - 1.0), lambda x, y, out: out * _log_base(x)),
         ("y*x^(y-1)", "x^y*ln(x)"), "x ** y",
         domain="x > 0, or x < 0 with a whole exponent, or x == 0 with y >= 0", symbol="**",
         dunder="__pow__", number_op=POW_C)

# --- unary ------------------------------------------------------------------------------

EXP = Op("exp", "exp", "unary", math.exp, (lambda x, y, out: out,), ("e^x",), "e^x",
         domain="x <= 709.78 (larger overflows a float)", vforward=np.exp)
LOG = Op("log", "log", "unary", math.log, (lambda x, y, out: 1.0 / x,), ("1/x",),
         "natural logarithm", domain="x > 0", vforward=np.log)
SQRT = Op("sqrt", "sqrt", "unary", math.sqrt, (lambda x, y, out: 0.5 / out,),
          ("1/(2*sqrt(x))",), "square root", domain="x >= 0", vforward=np.sqrt)
TANH = Op("tanh", "tanh", "unary", math.tanh, (lambda x, y, out: 1.0 - out * out,),
          ("1-tanh(x)^2",), "hyperbolic tangent", vforward=np.tanh)
SIGMOID = Op("sigmoid", "σ", "unary", _sigmoid,
             (lambda x, y, out: out * (1.0 - out),), ("σ(x)*(1-σ(x))",),
             "logistic sigmoid 1/(1+e^-x)", vforward=_sigmoid_array)
RELU = Op("relu", "relu", "unary", _relu, (_relu_local,),
          ("1 if x>0 else 0",), "max(0, x)", vforward=_relu_array)
ABS = Op("abs", "abs", "unary", abs, (lambda x, y, out: sign(x),), ("sign(x)",), "|x|",
         dunder="__abs__")
SIN = Op("sin", "sin", "unary", math.sin, (lambda x, y, out: cos(x),), ("cos(x)",),
         "sine", domain="x finite", vforward=np.sin)
COS = Op("cos", "cos", "unary", math.cos, (lambda x, y, out: -sin(x),), ("-sin(x)",),
         "cosine", domain="x finite", vforward=np.cos)

# --- n-ary: a neuron's z = w·x + b, one gate ------------------------------------------
# The node keeps its operands as two tuples, (b, w0, w1, ...) and (1, x0, x1, ...): each
# term is a product, so each pair's local derivatives are the other operand (d/dw_i =
# x_i, d/dx_i = w_i, d/db = 1), marked OTHER_OPERAND like mul's.  An x_i may be a number.

AFFINE = Op("affine", "w·x+b", "nary", _dot, (_y, _x), ("x{i}", "w{i}"),
            "a neuron's z = b + w0*x0 + w1*x1 + ...")

BINARY = (ADD, SUB, MUL, DIV, POW)
FOLDED = (ADD_C, SUB_C, RSUB_C, MUL_C, DIV_C, RDIV_C, POW_C, RPOW_C)
UNARY = (EXP, LOG, SQRT, TANH, SIGMOID, RELU, ABS, SIN, COS)
NARY = (AFFINE,)
ALL = BINARY + FOLDED + UNARY + NARY
_BY_NAME = {op.name: op for op in ALL}


def get(name: str) -> Op:
    """Look an op up by name: ``get('exp') is EXP``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; known ops: {', '.join(_BY_NAME)}") from None
