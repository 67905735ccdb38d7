"""Error messages of the engine: each names the op, its inputs with their labels, and
where the op is defined, so that a bad number is found in the user's graph, not in a
traceback from deep inside.  The forward's messages are raised by the Value operators,
the backward's by the passes in :mod:`autodiff.backward`.

    >>> from autodiff import Value
    >>> Value(-1.0, label="x").log()      # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: log (natural logarithm): outside the domain for input -1.0 (node 'x'); ...
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

from .ops import UNARY, Op

if TYPE_CHECKING:
    from .value import Value, _OpNode


def _describe(v: Any) -> str:
    from .value import Value

    if isinstance(v, Value):
        name = f"'{v.label}'" if v.label else "unlabelled"
        return f"{v.data!r} (node {name})"
    return repr(v)


def _forward_error(op: Op, err: Exception, a: Value, b: Any) -> Exception:
    """Rewrite a bare ``math domain error`` into one naming op, inputs and labels."""
    if op.kind == "binary":
        inputs = f"inputs {_describe(a)} and {_describe(b)}"
    elif op.kind == "folded":
        inputs = f"input {_describe(a)} with constant {b!r}"
    else:
        inputs = f"input {_describe(a)}"
    why = _PLAIN.get(str(err)) or (
        "the result is too large for a float"
        if isinstance(err, OverflowError)
        else str(err) or type(err).__name__
    )
    domain = f"; defined for {op.domain}" if op.domain else ""
    cls = type(err) if isinstance(err, (ArithmeticError, ValueError)) else ValueError
    return cls(f"{op.name} ({op.doc}): {why} for {inputs}{domain}")


_PLAIN = {
    "math domain error": "outside the domain",
    "math range error": "the result is too large for a float",
    "float division by zero": "division by zero",
}


def _check_finite(op: Op, data: float, a: Value, b: Any) -> None:
    if not math.isfinite(data):
        what = _describe(a) + (f", {_describe(b)}" if b is not None else "")
        gate = op.label(b if op.kind == "folded" else None)
        raise FloatingPointError(
            f"detect_anomaly: forward of {op.name} ({gate}) produced {data!r} from {what}"
        )


def _check_grads(v: _OpNode, grads: tuple, inputs: Optional[tuple] = None) -> None:
    """detect_anomaly: refuse a non-finite gradient, naming the op, input and rule."""
    for i, g in enumerate(grads):
        if not math.isfinite(g):
            fn = v._fn
            if inputs is None:  # a binary or one-input gate: input i, its rule
                where = f"input {i} {_describe(v.parents[i])}"
                rule = f", local derivative {fn.rule(i, v.const)}"
            else:  # one term of a fused neuron
                where, rule = f"input {_describe(inputs[i])}", ""
            raise FloatingPointError(
                f"detect_anomaly: backward of {fn.name} ({v.gate}) produced gradient "
                f"{g!r} for {where}; upstream grad {v.grad!r}{rule}; output {_describe(v)}"
            )


def _backward_error(v: _OpNode, e: Exception) -> Exception:
    fn = v._fn
    ins = ", ".join(_describe(p) for p in v.parents)
    const = f" with constant {v._b!r}" if fn.kind == "folded" else ""
    cls = type(e) if isinstance(e, (ArithmeticError, ValueError)) else ValueError
    rules = ", ".join(fn.rule(i, v.const) for i in range(len(fn.derivs)))
    return cls(
        f"backward of {fn.name} ({v.gate}): local derivative "
        f"{rules} failed ({e}) at input {ins}{const}, output {_describe(v)}"
    )


# --- what tracing a compiled tape refuses (see autodiff.tracing) ---------------------


def _refuse_number(call: str) -> None:
    unary = ", ".join(f"x.{op.name}()" for op in UNARY if not op.dunder)
    raise TypeError(
        f"{call} of a Value while tracing: the traced sample's number would become a "
        "constant of the compiled tape, replayed unchanged for every other sample. "
        f"Compute with the Value instead ({unary}, abs(x), x ** c), read "
        "x.detach().data where a constant is meant (e.g. a stable shift), or run the "
        "function eagerly."
    )


def _refuse_control_flow(what: str) -> None:
    raise TypeError(
        f"{what} of a Value while tracing: the result would depend on Python control "
        "flow over Values, which a compiled tape cannot replay for other inputs. Use an "
        "op instead (relu, abs, ...) or run this function eagerly."
    )
