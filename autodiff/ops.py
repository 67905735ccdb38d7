"""The op table: every operation gradwire knows, each declared once as an :class:`Op`.

An entry names its op, the label a diagram draws on its gate, its forward on floats (and
on numpy arrays, for the compiled tape), its local derivatives, and those derivatives
as formula text in the names of its inputs.  A local derivative is a constant or a
function ``d(x, y, out)`` of the input ``x``, the second operand ``y`` (the other Value,
the folded-in constant, or ``None`` for a unary op) and the output ``out``, written with
polymorphic math (``+ - * / **`` and the helpers below), so one formula runs on floats
(``backward``), on Values (``create_graph=True``) and on arrays (the tape).  The engine,
the explainer, the diagrams and the tape all read these entries; ``tests/test_ops.py``
checks each against finite differences and PyTorch, and evaluates each formula text
against its derivative.  Ops come in four kinds, grouped below: *folded* (a Value and a
number, drawn as one gate such as ``+1`` or ``*-1``, as in the lecture's sigmoid
circuit), *binary* (two Values), *unary*, and one *n-ary* op, ``affine``: a neuron's
``z = b + w·x`` as one gate, which keeps an MLP's graph (and the garbage collector's
work) small.

    >>> ADD_C.label(1.0), MUL_C.label(-1.0), RDIV_C.label(1.0), DIV.rule(1)
    ('+1', '*-1', '1/x', '-x/y^2')
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Tuple

import numpy as np

# fmt: off
__all__ = ["Op", "BINARY", "FOLDED", "UNARY", "NARY", "ALL", "get", "fmt_number", "OTHER_OPERAND",
           "affine_inputs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "step", "sign"]
# fmt: on


def fmt_number(c: float) -> str:
    """Format a constant for a gate label: ``1.0 -> '1'``, ``0.5 -> '0.5'``."""
    if c == int(c) and abs(c) < 1e15:
        return str(int(c))
    return f"{c:.4g}"


# --- polymorphic math: floats go to `math`, Values to their own methods, numpy arrays
# (the compiled tape's batches, one row per node) to numpy -----------------------------


def _poly(
    name: str, fn: Callable[[float], float], vfn: Callable[[np.ndarray], np.ndarray]
) -> Callable[[Any], Any]:
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


# NaN goes through every op as in PyTorch: comparisons are written so that a NaN takes
# PyTorch's branch (relu(nan) = nan and relu'(nan) = 1, as `x <= 0` is False; sign(nan) = 0).


def step(x: Any) -> Any:
    """Heaviside step as a constant: 0.0 where x <= 0, else 1.0 (relu's derivative)."""
    if type(x) is np.ndarray:
        return np.logical_not(x <= 0).astype(float)  # np.where is ten times slower here
    return 0.0 if x <= 0 else 1.0


def sign(x: Any) -> Any:
    """Sign as a constant: 1.0, -1.0, or 0.0 at zero and NaN (abs's derivative, as PyTorch)."""
    if type(x) is np.ndarray:
        return (x > 0).astype(float) - (x < 0)
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def _relu(x: float) -> float:
    return 0.0 if x <= 0.0 else x


def _relu_d(x: Any, y: Any, out: Any) -> Any:
    """relu's local derivative, step(x); floats first, as backward calls it per node."""
    if type(x) is float:
        return 0.0 if x <= 0.0 else 1.0
    return step(x)


def _relu_array(x: np.ndarray) -> np.ndarray:
    # _relu's floats without a branch per element (np.where is ten times slower): maximum
    # keeps nan and maps -inf to 0; + 0.0 turns -0.0 into 0.0 and leaves the rest as is
    out = np.maximum(x, 0.0)
    out += 0.0
    return out


def _pow(x: float, y: float) -> float:
    r = x**y
    if type(r) is complex:  # Python returns a complex root for (-8.0) ** 0.5
        raise ValueError("a negative base with a fractional exponent has no real result")
    return r


def _pow_dx(x: Any, y: Any, out: Any) -> Any:
    """d(x**y)/dx = y*x**(y-1), and 0 where y == 0 (as PyTorch: also at x = 0 or NaN)."""
    if type(y) is np.ndarray:
        return np.where(y == 0, 0.0, y * x ** (y - 1.0))
    if (y if isinstance(y, (int, float)) else y.data) == 0:
        return 0.0
    return y * x ** (y - 1.0)


def _log_base(x: Any) -> Any:
    """d/dy x**y needs log(x); 0 where x == 0 (as PyTorch), nan where x < 0."""
    if type(x) is np.ndarray:
        pos = x > 0
        return np.where(pos, np.log(np.where(pos, x, 1.0)), np.where(x == 0, 0.0, math.nan))
    xd = x if isinstance(x, (int, float)) else x.data
    if xd > 0:
        return log(x)
    return 0.0 if xd == 0 else math.nan


def _y(x, y, out):
    return y


def _x(x, y, out):
    return x


# A product's local derivative is its other operand: d(x*y)/dx = y, d(x*y)/dy = x, and
# d(x*c)/dx = c.  Entries say so with ``(_y, _x)`` or ``(_y,)``; backward reads the
# operand itself where it sees this function (tests/test_ops.py checks the marking).
OTHER_OPERAND = _y


# --- the entry ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class Op:
    """One operation: its name, gate label, forward, local derivatives and their text.

    ``kind`` is ``"binary"``, ``"folded"``, ``"unary"`` or ``"nary"``.  ``derivs`` holds
    one local derivative per input named in ``inputs`` (a constant or ``d(x, y, out)``,
    see :meth:`local`) and ``formulas`` the same derivatives as text in those names; in a
    folded op ``{c}`` stands for the constant, in an n-ary op ``{i}`` for the term's
    number.  ``expr`` is the forward as text (``'{c}/{x}'``: its inputs in braces).
    ``gate`` is the label drawn on the gate (``{c}`` again for the constant),
    ``symbol`` the infix operator of a binary op, ``doc`` what it computes, ``domain``
    where its forward is defined (for error messages).  ``vforward`` is the forward on
    numpy arrays (default: ``forward``, when its arithmetic works elementwise).  ``dunder``
    is the Python operator it implements on Value, ``number_op`` a binary op's folded
    twin for a number operand, ``split`` an n-ary op's inputs (see :func:`affine_inputs`).

        >>> EXP.forward(0.0), EXP.local(0, 0.0, None, 1.0), EXP.rule(0)
        (1.0, 1.0, 'e^x')
    """

    name: str
    kind: str
    gate: str
    doc: str
    forward: Callable[..., Any]
    derivs: Tuple[Any, ...]
    formulas: Tuple[str, ...]
    inputs: Tuple[str, ...]
    expr: str
    # None means "the same as forward": __post_init__ puts forward in, so a reader never
    # sees None (a dataclass field cannot type its default apart from its value)
    vforward: Callable[..., Any] = None  # type: ignore[assignment]
    domain: str = ""
    symbol: str = ""
    dunder: str = ""
    number_op: Optional[Op] = None
    split: Optional[Callable[[Any, Any], Iterator[tuple]]] = None

    # ``kind`` as two flags, derived here: backward's loops test them on every node
    binary: bool = field(init=False)
    nary: bool = field(init=False)

    def __post_init__(self) -> None:
        if self.vforward is None:
            object.__setattr__(self, "vforward", self.forward)
        object.__setattr__(self, "binary", self.kind == "binary")
        object.__setattr__(self, "nary", self.kind == "nary")
        assert len(self.derivs) == len(self.formulas) == len(self.inputs), self.name
        assert (self.split is not None) == self.nary, self.name

    def label(self, const: Optional[float] = None) -> str:
        """The gate's label; folded ops put their constant in: ``'+{c}' -> '+1'``."""
        return _fill(self.gate, const, None)

    def local(self, i: int, x: Any, y: Any, out: Any) -> Any:
        """Local derivative d out / d input ``i`` at the given (float or Value) point."""
        d = self.derivs[i]
        return d if type(d) is float else d(x, y, out)

    def rule(self, i: int = 0, const: Optional[float] = None, term: Optional[int] = None) -> str:
        """Local derivative of input ``i`` as text, the constant put in; for an n-ary
        op, ``term`` numbers the pair: ``AFFINE.rule(1, term=3) -> 'x3'``."""
        return _fill(self.formulas[i], const, term)

    def text(self, x: str = "x", y: str = "y", const: Optional[float] = None) -> str:
        """The forward as a formula of the given input names: ``RDIV_C.text('n1',
        const=2.0) -> '2/n1'``."""
        return self.expr.format(x=x, y=y, c="" if const is None else fmt_number(const))

    def input_name(self, i: int, term: Optional[int] = None) -> str:
        """Name of input ``i`` in the formulas: ``DIV.input_name(1) -> 'y'``."""
        return _fill(self.inputs[i], None, term)

    def __repr__(self) -> str:
        return f"Op({self.name!r}, gate={self.gate!r}, kind={self.kind!r})"


def _fill(text: str, const: Optional[float], term: Optional[int]) -> str:
    if "{i}" in text:
        text = text.replace("{i}", "" if term is None else str(term))
    if "{c}" not in text:
        return text
    if const is None:
        raise TypeError(f"{text!r} needs the folded constant, got None")
    return text.replace("{c}", fmt_number(const))


# --- the table: one op per row, in the order of its factory's arguments ----------------
# (ruff format would put every argument on a line of its own; rows read better as rows)
# fmt: off


def _folded(name: str, gate: str, expr: str, forward: Callable, deriv: Any, formula: str,
            **more: Any) -> Op:
    """A Value and a number c as one gate (``+{c}``); ``deriv`` is d/dx."""
    return Op(name=name, kind="folded", gate=gate, expr=expr, forward=forward,
              doc=expr.replace("{", "").replace("}", ""), derivs=(deriv,),
              formulas=(formula,), inputs=("x",), **more)


def _binary(name: str, symbol: str, forward: Callable, derivs: tuple, formulas: tuple,
            number_op: Op, dunder: str, **more: Any) -> Op:
    """Two Values, ``x (symbol) y``; ``number_op`` is its folded twin, for a number y."""
    return Op(name=name, kind="binary", gate=symbol, symbol=symbol, doc=f"x {symbol} y",
              expr=f"{{x}} {symbol} {{y}}", forward=forward, derivs=derivs,
              formulas=formulas, inputs=("x", "y"), number_op=number_op, dunder=dunder,
              **more)


def _unary(name: str, doc: str, forward: Callable, vforward: Callable, deriv: Callable,
           formula: str, gate: str = "", **more: Any) -> Op:
    """One Value, ``x.name()``, its gate labelled with its name unless ``gate`` says."""
    gate = gate or name
    return Op(name=name, kind="unary", gate=gate, doc=doc, forward=forward,
              expr=gate + "({x})", vforward=vforward, derivs=(deriv,),
              formulas=(formula,), inputs=("x",), **more)


# folded: a Value and a number c, one gate as in the slides (``x + 1`` is the gate +1)
#                name          gate     expr         forward       d/dx  formula
ADD_C  = _folded("add_const",  "+{c}",  "{x} + {c}", operator.add, 1.0,  "1", dunder="__radd__")
SUB_C  = _folded("sub_const",  "-{c}",  "{x} - {c}", operator.sub, 1.0,  "1")
RSUB_C = _folded("rsub_const", "{c}-x", "{c} - {x}", lambda x, c: c - x, -1.0, "-1",
                 dunder="__rsub__")
MUL_C  = _folded("mul_const",  "*{c}",  "{x} * {c}", operator.mul, _y, "{c}", dunder="__rmul__")
DIV_C  = _folded("div_const",  "/{c}",  "{x} / {c}", operator.truediv,
                 lambda x, c, out: 1.0 / c, "1/{c}", domain="c != 0")
RDIV_C = _folded("rdiv_const", "{c}/x", "{c}/{x}",   lambda x, c: c / x,
                 lambda x, c, out: -out / x, "-{c}/x^2", domain="x != 0",
                 dunder="__rtruediv__")
POW_C  = _folded("pow_const",  "**{c}", "{x}^{c}",   _pow, _pow_dx, "{c}*x^({c}-1)",
                 domain="x > 0, or x < 0 with a whole exponent, or x == 0 with c >= 0")
RPOW_C = _folded("rpow_const", "{c}^x", "{c}^{x}",   lambda x, c: _pow(c, x),
                 lambda x, c, out: out * _log_base(c), "{c}^x*ln({c})",
                 domain="c > 0, or c < 0 with a whole exponent, or c == 0 with x >= 0",
                 dunder="__rpow__")

# binary: Value (op) Value
#             name   symbol forward       (d/dx, d/dy)  formulas     twin   operator
ADD = _binary("add", "+",   operator.add, (1.0, 1.0),   ("1", "1"),  ADD_C, "__add__")
SUB = _binary("sub", "-",   operator.sub, (1.0, -1.0),  ("1", "-1"), SUB_C, "__sub__")
MUL = _binary("mul", "*",   operator.mul, (_y, _x),     ("y", "x"),  MUL_C, "__mul__")
DIV = _binary("div", "/",   operator.truediv,
              (lambda x, y, out: 1.0 / y, lambda x, y, out: -out / y), ("1/y", "-x/y^2"),
              DIV_C, "__truediv__", domain="y != 0")
POW = _binary("pow", "**",  _pow, (_pow_dx, lambda x, y, out: out * _log_base(x)),
              ("y*x^(y-1)", "x^y*ln(x)"), POW_C, "__pow__",
              domain="x > 0, or x < 0 with a whole exponent, or x == 0 with y >= 0")

# unary: x.name()
#                  name       doc                   forward   on arrays  d/dx, formula
EXP     = _unary("exp",     "e^x",                math.exp,  np.exp,  lambda x, y, out: out,
                 "e^x", domain="x <= 709.78 (larger overflows a float)")
LOG     = _unary("log",     "natural logarithm",  math.log,  np.log,  lambda x, y, out: 1.0 / x,
                 "1/x", domain="x > 0")
SQRT    = _unary("sqrt",    "square root",        math.sqrt, np.sqrt,
                 lambda x, y, out: 0.5 / out, "1/(2*sqrt(x))", domain="x >= 0")
TANH    = _unary("tanh",    "hyperbolic tangent", math.tanh, np.tanh,
                 lambda x, y, out: 1.0 - out * out, "1-tanh(x)^2")
SIGMOID = _unary("sigmoid", "logistic sigmoid 1/(1+e^-x)", _sigmoid, _sigmoid_array,
                 lambda x, y, out: out * (1.0 - out), "σ(x)*(1-σ(x))", gate="σ")
RELU    = _unary("relu",    "max(0, x)",          _relu,     _relu_array, _relu_d,
                 "0 if x<=0 else 1")
ABS     = _unary("abs",     "|x|",                abs,       np.abs,  lambda x, y, out: sign(x),
                 "sign(x)", dunder="__abs__")
SIN     = _unary("sin",     "sine",               math.sin,  np.sin,  lambda x, y, out: cos(x),
                 "cos(x)", domain="x finite")
COS     = _unary("cos",     "cosine",             math.cos,  np.cos,  lambda x, y, out: -sin(x),
                 "-sin(x)", domain="x finite")

# fmt: on

# --- n-ary: a neuron's z = b + w0*x0 + w1*x1 + ..., one gate ---------------------------
# The node keeps its operands as two tuples, (b, w0, w1, ...) and (1, x0, x1, ...), so
# that the bias is the term b*1.  Each term is a product: d/dw_i = x_i, d/dx_i = w_i
# (marked OTHER_OPERAND, as mul's), d/db = 1.  An x_i may be a number.


def _dot(ws: Any, xs: Any) -> Any:
    """``ws[0]*xs[0] + ws[1]*xs[1] + ...`` added left to right.  A neuron stores
    ``(b, w0, w1, ...)`` and ``(1, x0, x1, ...)``; since ``b * 1.0 == b``, this is
    ``((b + w0*x0) + w1*x1) + ...``, the very floats ``sum((wi*xi ...), b)`` gives."""
    z = ws[0] * xs[0]
    for i in range(1, len(ws)):
        z = z + ws[i] * xs[i]
    return z


def affine_inputs(ws: tuple, xs: tuple) -> Iterator[tuple]:
    """The inputs of a fused node in the order of its parents (``b, w0, x0, w1, ...``),
    each as ``(input, j, term, x, y)``: ``j`` indexes the entry's ``derivs``,
    ``formulas`` and ``inputs``; ``(x, y) = (w_i, x_i)`` is the term's pair, at which the
    derivative is taken.  An ``x_i`` that is a number is no input."""
    yield ws[0], 0, None, ws[0], 1.0
    for i in range(1, len(ws)):
        w, x = ws[i], xs[i]
        yield w, 1, i - 1, w, x
        if not isinstance(x, (int, float)):
            yield x, 2, i - 1, w, x


# fmt: off
AFFINE = Op(name="affine", kind="nary", gate="w·x+b", expr="w·x+b", forward=_dot,
            doc="a neuron's z = b + w0*x0 + w1*x1 + ...", derivs=(1.0, _y, _x),
            formulas=("1", "x{i}", "w{i}"), inputs=("b", "w{i}", "x{i}"), split=affine_inputs)
# fmt: on

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
