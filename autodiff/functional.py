"""Function transforms on top of `Value`: gradients as functions, Hessians, gradcheck.

``grad(f)`` turns a function of floats into the function computing its derivative;
they nest (``grad(grad(f))`` is the second derivative) because each level runs
``backward`` with ``create_graph=True`` whenever its inputs are Values from an outer
level.  ``gradients`` is the building block (like ``torch.autograd.grad``): it returns
the gradients of one output with respect to chosen inputs and leaves every ``.grad``
in the graph as it found it.  ``gradcheck`` compares backward against central finite
differences, to first or second order.

    >>> grad(lambda x: x ** 3)(2.0)
    12.0
    >>> grad(grad(lambda x: x ** 3))(2.0)
    12.0
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, Union

from .backward import backprop as _backprop
from .value import Value, _as_number, enable_grad, topological_order

__all__ = ["gradients", "grad", "value_and_grad", "hessian", "gradcheck",
           "GradcheckError"]


def gradients(output: Value, inputs: Sequence[Value], grad: Any = 1.0,
              create_graph: bool = False) -> list:
    """d output / d input for each input, without touching any node's ``.grad``.

    Inputs the output does not depend on get 0.0.

        >>> x, y = Value(2.0), Value(5.0)
        >>> gradients(x * y, [x, y])
        [5.0, 2.0]
        >>> x.grad
        0.0
    """
    if not isinstance(output, Value):
        return [0.0 for _ in inputs]
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"gradients: input {i} is a {type(x).__name__}, not a Value")
    if type(grad) is not Value:
        grad = _as_number(grad, "gradients(grad)")
    # Save every grad in the graph (intermediates would otherwise keep this pass's,
    # leaves would accumulate), and start from 0.0: an input the output does not reach
    # reads 0.0, not the gradient an earlier backward left on it.
    saved = [(v, v.grad) for v in topological_order(output)]
    saved += [(x, x.grad) for x in inputs]
    for v, _ in saved:
        v.grad = 0.0
    try:
        _backprop(output, grad, create_graph)
        return [x.grad for x in inputs]
    finally:
        for v, old in saved:
            v.grad = old


# How many transforms (grad, value_and_grad, hessian) are running.  A transform called
# inside another one keeps its result a Value even when called with floats: the
# function it differentiates may close over the outer transform's Values, as in
# ``grad(lambda x: grad(lambda y: x * y)(1.0))(3.0) == 1.0``.
_DEPTH = [0]


def _argnums(argnums: Union[int, Sequence[int]], n: int) -> tuple:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -n <= i < n:
            raise IndexError(f"argnums {i} out of range for a function called with "
                             f"{n} argument(s)")
    return nums


def value_and_grad(f: Callable[..., Any], argnums: Union[int, Sequence[int]] = 0
                   ) -> Callable[..., tuple]:
    """``value_and_grad(f)(*args) -> (f(*args), df/dargs[argnums])``.

    Called with floats it returns floats; called with Values (inside another ``grad``)
    it returns Values, so transforms nest.  With a tuple ``argnums`` the gradient is a
    tuple.

        >>> value_and_grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 4.0)
        (12.0, (4.0, 3.0))
    """
    def wrapped(*args: Any) -> tuple:
        nums = _argnums(argnums, len(args))
        nested = _DEPTH[0] > 0 or any(isinstance(a, Value) for a in args)
        xs = list(args)
        for i in nums:
            if not isinstance(xs[i], Value):
                xs[i] = Value(_as_number(xs[i], f"argument {i}"))
        _DEPTH[0] += 1
        try:
            with enable_grad():  # a transform differentiates even inside no_grad
                out = f(*xs)
                gs = gradients(out, [xs[i] for i in nums], create_graph=nested)
        finally:
            _DEPTH[0] -= 1
        if not nested:
            out = out.data if isinstance(out, Value) else out
            gs = [g.data if isinstance(g, Value) else g for g in gs]
        return out, (gs[0] if isinstance(argnums, int) else tuple(gs))
    wrapped.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return wrapped


def grad(f: Callable[..., Any], argnums: Union[int, Sequence[int]] = 0
         ) -> Callable[..., Any]:
    """The derivative of ``f`` as a function: ``grad(f)(x) == f'(x)``; nestable.

        >>> grad(lambda x: x.exp())(0.0)
        1.0
    """
    vg = value_and_grad(f, argnums)

    def wrapped(*args: Any) -> Any:
        return vg(*args)[1]
    wrapped.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return wrapped


def hessian(f: Callable[..., Any]) -> Callable[..., list]:
    """The matrix of second derivatives of a scalar function of n numbers.

        >>> hessian(lambda x, y: x * x * y)(1.0, 2.0)
        [[4.0, 2.0], [2.0, 0.0]]
    """
    def wrapped(*args: Any) -> list:
        xs = [Value(_as_number(a, f"argument {i}")) for i, a in enumerate(args)]
        _DEPTH[0] += 1
        try:
            with enable_grad():
                out = f(*xs)
                if not isinstance(out, Value):
                    return [[0.0] * len(xs) for _ in xs]
                first = gradients(out, xs, create_graph=True)
        finally:
            _DEPTH[0] -= 1
        rows = []
        for g in first:
            row = gradients(g, xs) if isinstance(g, Value) else [0.0] * len(xs)
            rows.append([r.data if isinstance(r, Value) else r for r in row])
        return rows
    return wrapped


class GradcheckError(AssertionError):
    """gradcheck found backward and finite differences disagreeing."""


def gradcheck(f: Callable[..., Any], inputs: Sequence[float], eps: float = 1e-6,
              atol: float = 1e-6, rtol: float = 1e-4, order: int = 1) -> bool:
    """Check ``f``'s gradients against central finite differences.

    ``f`` takes ``len(inputs)`` Values and returns a Value.  Returns True, or raises a
    :class:`GradcheckError` naming the input and both numbers.  ``order=2`` also checks
    every second derivative (backward through backward) against finite differences of
    the first derivatives.

        >>> gradcheck(lambda x, y: (x * y).tanh(), [0.3, -0.7], order=2)
        True
    """
    xs = [_as_number(x, f"gradcheck input {i}") for i, x in enumerate(inputs)]

    def value(*a: float) -> float:
        out = f(*[Value(x) for x in a])
        return out.data if isinstance(out, Value) else float(out)

    def compare(what: str, analytic: float, numeric: float) -> None:
        if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
            raise GradcheckError(f"gradcheck: {what}: backward gives {analytic!r}, "
                                 f"finite differences give {numeric!r} "
                                 f"(eps={eps}, atol={atol}, rtol={rtol})")

    first = grad(f, tuple(range(len(xs))))
    analytic = first(*xs)
    for i in range(len(xs)):
        numeric = _central(value, xs, i, eps)
        compare(f"d f / d input {i} at {xs}", analytic[i], numeric)
    if order >= 2:
        for j in range(len(xs)):
            hrow = grad(lambda *a: first(*a)[j], tuple(range(len(xs))))(*xs)
            for i in range(len(xs)):
                numeric = _central(lambda *a: first(*a)[j], xs, i, eps)
                compare(f"d2 f / d input {j} d input {i} at {xs}", hrow[i], numeric)
    return True


def _central(fn: Callable[..., float], xs: list, i: int, eps: float) -> float:
    hi = list(xs)
    lo = list(xs)
    hi[i] += eps
    lo[i] -= eps
    return (fn(*hi) - fn(*lo)) / (2 * eps)
