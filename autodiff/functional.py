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

import math
from numbers import Integral, Real
from typing import Any, Callable, Sequence, Union

from .backward import backprop as _backprop
from .value import Value, _as_number, enable_grad, topological_order

__all__ = ["gradients", "grad", "value_and_grad", "hessian", "gradcheck", "GradcheckError"]


def gradients(
    output: Value, inputs: Sequence[Value], grad: Any = 1.0, create_graph: bool = False
) -> list:
    """d output / d input for each input, without touching any node's ``.grad``.

    Inputs the output does not depend on get 0.0.

        >>> x, y = Value(2.0), Value(5.0)
        >>> gradients(x * y, [x, y])
        [5.0, 2.0]
        >>> x.grad
        0.0
    """
    inputs = _values_list(inputs)
    if not isinstance(output, Value):
        _check_output(output, "gradients(output): the output")
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


def _values_list(inputs: Any) -> list:
    if isinstance(inputs, Value):
        raise TypeError("gradients(inputs): expected a list of Values, got one Value; pass [x]")
    if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
        raise TypeError(
            f"gradients(inputs): expected a list of Values, got "
            f"{type(inputs).__name__} {inputs!r:.40}"
        )
    return list(inputs)


def _check_output(out: Any, who: str) -> None:
    """A function to differentiate returns one Value, or a number (a constant)."""
    if isinstance(out, Value) or (isinstance(out, Real) and not isinstance(out, bool)):
        return
    raise TypeError(
        f"{who} is {type(out).__name__} {out!r:.60}, not a Value or a number: "
        "differentiate one scalar at a time (e.g. sum a list first)"
    )


def _fn_name(f: Any) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


def _check_fn(f: Any, name: str) -> None:
    if not callable(f):
        raise TypeError(f"{name}(f): expected a function, got {type(f).__name__} {f!r:.40}")


def _check_argnums(argnums: Any, name: str) -> tuple:
    """``argnums`` as a tuple of ints, or a TypeError/ValueError naming it."""
    single = isinstance(argnums, Integral) and not isinstance(argnums, bool)
    nums = (argnums,) if single else argnums
    if not isinstance(nums, (tuple, list, range)):
        raise TypeError(
            f"{name}(argnums): expected an int or a tuple of ints, got "
            f"{type(argnums).__name__} {argnums!r:.40}"
        )
    for i in nums:
        if isinstance(i, bool) or not isinstance(i, Integral):
            raise TypeError(
                f"{name}(argnums): expected ints, got {type(i).__name__} "
                f"{i!r:.40} in {argnums!r:.60}"
            )
    if not nums:
        raise ValueError(
            f"{name}(argnums): empty; give the position of at least one argument to differentiate"
        )
    if len(set(nums)) != len(nums):
        raise ValueError(f"{name}(argnums): {argnums!r} names an argument twice")
    return tuple(int(i) for i in nums)


# How many transforms (grad, value_and_grad, hessian) are running.  A transform called
# inside another one keeps its result a Value even when called with floats: the
# function it differentiates may close over the outer transform's Values, as in
# ``grad(lambda x: grad(lambda y: x * y)(1.0))(3.0) == 1.0``.
_DEPTH = [0]


def _argnums(nums: tuple, n: int, name: str) -> tuple:
    """The positions ``nums`` for a call with n arguments (negative ones from the end)."""
    for i in nums:
        if not -n <= i < n:
            raise IndexError(
                f"{name}: argnums {i} out of range for a function called with {n} argument(s)"
            )
    fixed = tuple(i % n for i in nums)
    if len(set(fixed)) != len(fixed):
        raise ValueError(
            f"{name}: argnums {nums!r} name the same argument twice for a "
            f"function called with {n} argument(s)"
        )
    return nums


def value_and_grad(
    f: Callable[..., Any], argnums: Union[int, Sequence[int]] = 0
) -> Callable[..., tuple]:
    """``value_and_grad(f)(*args) -> (f(*args), df/dargs[argnums])``.

    Called with floats it returns floats; called with Values (inside another ``grad``)
    it returns Values, so transforms nest.  With a tuple ``argnums`` the gradient is a
    tuple.

        >>> value_and_grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 4.0)
        (12.0, (4.0, 3.0))
    """
    return _value_and_grad(f, argnums, "value_and_grad")


def _value_and_grad(f: Callable[..., Any], argnums: Any, name: str) -> Callable[..., tuple]:
    _check_fn(f, name)
    nums0 = _check_argnums(argnums, name)
    single = not isinstance(argnums, (tuple, list, range))
    label = f"{name}({_fn_name(f)})"

    def wrapped(*args: Any) -> tuple:
        nums = _argnums(nums0, len(args), label)
        nested = _DEPTH[0] > 0 or any(isinstance(a, Value) for a in args)
        xs = list(args)
        for i in nums:
            if not isinstance(xs[i], Value):
                xs[i] = Value(_as_number(xs[i], f"{label}: argument {i}"))
        _DEPTH[0] += 1
        try:
            with enable_grad():  # a transform differentiates even inside no_grad
                out = f(*xs)
                _check_output(out, f"{label}: the function's result")
                gs = gradients(out, [xs[i] for i in nums], create_graph=nested)
        finally:
            _DEPTH[0] -= 1
        if not nested:
            out = out.data if isinstance(out, Value) else out
            gs = [g.data if isinstance(g, Value) else g for g in gs]
        return out, (gs[0] if single else tuple(gs))

    wrapped.__name__ = label
    return wrapped


def grad(f: Callable[..., Any], argnums: Union[int, Sequence[int]] = 0) -> Callable[..., Any]:
    """The derivative of ``f`` as a function: ``grad(f)(x) == f'(x)``; nestable.

    >>> grad(lambda x: x.exp())(0.0)
    1.0
    """
    vg = _value_and_grad(f, argnums, "grad")

    def wrapped(*args: Any) -> Any:
        return vg(*args)[1]

    wrapped.__name__ = vg.__name__
    return wrapped


def hessian(f: Callable[..., Any]) -> Callable[..., list]:
    """The matrix of second derivatives of a scalar function of n numbers.

    >>> hessian(lambda x, y: x * x * y)(1.0, 2.0)
    [[4.0, 2.0], [2.0, 0.0]]
    """
    _check_fn(f, "hessian")
    label = f"hessian({_fn_name(f)})"

    def wrapped(*args: Any) -> list:
        xs = [Value(_as_number(a, f"{label}: argument {i}")) for i, a in enumerate(args)]
        _DEPTH[0] += 1
        try:
            with enable_grad():
                out = f(*xs)
                _check_output(out, f"{label}: the function's result")
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

    wrapped.__name__ = label
    return wrapped


class GradcheckError(AssertionError):
    """gradcheck found backward and finite differences disagreeing."""


def gradcheck(
    f: Callable[..., Any],
    inputs: Sequence[float],
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    order: int = 1,
) -> bool:
    """Check ``f``'s gradients against central finite differences.

    ``f`` takes ``len(inputs)`` Values and returns a Value.  Returns True, or raises a
    :class:`GradcheckError` naming the input and both numbers.  ``order=2`` also checks
    every second derivative (backward through backward) against finite differences of
    the first derivatives.

        >>> gradcheck(lambda x, y: (x * y).tanh(), [0.3, -0.7], order=2)
        True
    """
    xs = _check_gradcheck(f, inputs, eps, atol, rtol, order)

    def value(*a: float) -> float:
        out = f(*[Value(x) for x in a])
        return out.data if isinstance(out, Value) else float(out)

    def compare(what: str, analytic: float, numeric: float) -> None:
        if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
            raise GradcheckError(
                f"gradcheck: {what}: backward gives {analytic!r}, "
                f"finite differences give {numeric!r} "
                f"(eps={eps}, atol={atol}, rtol={rtol})"
            )

    vg = _value_and_grad(f, tuple(range(len(xs))), "gradcheck")

    def first(*a: Any) -> tuple:
        return vg(*a)[1]

    analytic = first(*xs)
    for i in range(len(xs)):
        numeric = _central(value, xs, i, eps)
        compare(f"d f / d input {i} at {xs}", analytic[i], numeric)

    def component(j: int) -> Callable[..., Any]:
        return lambda *a: first(*a)[j]

    if order == 2:
        for j in range(len(xs)):
            fj = component(j)
            hrow = grad(fj, tuple(range(len(xs))))(*xs)
            for i in range(len(xs)):
                numeric = _central(fj, xs, i, eps)
                compare(f"d2 f / d input {j} d input {i} at {xs}", hrow[i], numeric)
    return True


def _check_gradcheck(f: Any, inputs: Any, eps: Any, atol: Any, rtol: Any, order: Any) -> list:
    """gradcheck's arguments checked, with messages naming the bad one; the inputs as
    floats."""
    _check_fn(f, "gradcheck")
    if isinstance(inputs, (Value, Real)):
        raise TypeError(
            f"gradcheck(inputs): expected a list of numbers, one per argument "
            f"of f, got one {type(inputs).__name__}; pass [{inputs!r:.40}]"
        )
    if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
        raise TypeError(
            f"gradcheck(inputs): expected a list of numbers, one per argument "
            f"of f, got {type(inputs).__name__} {inputs!r:.40}"
        )
    xs = [_as_number(x, f"gradcheck(inputs): input {i}") for i, x in enumerate(inputs)]
    if not xs:
        raise ValueError("gradcheck(inputs): empty; give one number per argument of f")
    for i, x in enumerate(xs):
        if not math.isfinite(x):
            raise ValueError(
                f"gradcheck(inputs): input {i} is {x!r}; finite differences need finite inputs"
            )
    for name, v, positive in (("eps", eps, True), ("atol", atol, False), ("rtol", rtol, False)):
        if isinstance(v, bool) or not isinstance(v, Real):
            raise TypeError(
                f"gradcheck({name}): expected a number, got {type(v).__name__} {v!r:.40}"
            )
        if not math.isfinite(v) or v < 0 or (positive and v == 0):
            want = "> 0" if positive else ">= 0"
            raise ValueError(f"gradcheck({name}): {v!r}; it must be finite and {want}")
    for i, x in enumerate(xs):
        if x + eps == x - eps:
            raise ValueError(
                f"gradcheck(eps): {eps!r} is too small for input {i} = {x!r}: "
                "x + eps and x - eps round to the same float"
            )
    if isinstance(order, bool) or not isinstance(order, Integral):
        raise TypeError(
            f"gradcheck(order): expected 1 or 2, got {type(order).__name__} {order!r:.40}"
        )
    if order not in (1, 2):
        raise ValueError(
            f"gradcheck(order): {order!r}; 1 checks first derivatives, 2 also second derivatives"
        )
    return xs


def _central(fn: Callable[..., float], xs: list, i: int, eps: float) -> float:
    hi = list(xs)
    lo = list(xs)
    hi[i] += eps
    lo[i] -= eps
    return (fn(*hi) - fn(*lo)) / (2 * eps)
