"""Property-based tests: random expression graphs against PyTorch float64.

A *recipe* (drawn by hypothesis) is a few input numbers and a list of steps; each step
applies one op of the table (:data:`autodiff.ops.ALL`, the fused ``w·x+b`` through
:func:`autodiff.affine`) to operands picked from everything made so far, so inputs and
intermediate nodes are shared by several consumers, and numbers enter as folded
constants.  A step whose operands lie outside its op's domain (log of a negative, a
division by almost zero, exp of a large number) is left out, so every graph is one both
engines compute finitely.  The same recipe builds a gradwire graph and a PyTorch
float64 graph; values, first-order gradients, second-order gradients (through
``backward(create_graph=True)``) and the step explainer's gradients are compared.

The examples are the same on every run (the ``ci`` profile in conftest derandomizes
them); ``HYPOTHESIS_PROFILE=explore`` searches new ones.
"""
import math

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from autodiff import Value, affine, backward_steps, gradients, ops, topological_order
from autodiff.explain import gradients_of

F64 = torch.float64


# --- one row per op: how to record it on both engines, and where it is defined -----------

def _binary(fn, ok=lambda x, y: True):
    def row(a, b, c, ks, pool):
        return (fn(a[0], b[0]), fn(a[1], b[1])) if ok(a[0].data, b[0].data) else None
    return row


def _folded(fn, ok=lambda x, c: True):
    def row(a, b, c, ks, pool):
        return (fn(a[0], c), fn(a[1], c)) if ok(a[0].data, c) else None
    return row


def _unary(name, ok=lambda x: True):
    tfn = getattr(torch, name)

    def row(a, b, c, ks, pool):
        return (getattr(a[0], name)(), tfn(a[1])) if ok(a[0].data) else None
    return row


def _affine(a, b, c, ks, pool):
    """b + w0*x0 + w1*x1 + ...: weights from the pool, inputs from the pool or numbers."""
    n = len(pool)
    ws = [pool[k % n] for k in ks]
    xs = [pool[(5 * k + 1) % n] if k % 2 == 0 else float(c + k % 3) for k in ks]
    ours = affine([w[0] for w in ws], [x[0] if type(x) is tuple else x for x in xs], a[0])
    theirs = a[1]
    for w, x in zip(ws, xs):
        theirs = theirs + w[1] * (x[1] if type(x) is tuple else x)
    return ours, theirs


def _whole(c):
    return c == int(c)


ROWS = {
    "add": _binary(lambda x, y: x + y),
    "sub": _binary(lambda x, y: x - y),
    "mul": _binary(lambda x, y: x * y),
    "div": _binary(lambda x, y: x / y, lambda x, y: abs(y) > 0.2),
    "pow": _binary(lambda x, y: x ** y, lambda x, y: 0.2 < x < 5 and abs(y) <= 3),
    "add_const": _folded(lambda x, c: c + x),
    "sub_const": _folded(lambda x, c: x - c),
    "rsub_const": _folded(lambda x, c: c - x),
    "mul_const": _folded(lambda x, c: x * c),
    "div_const": _folded(lambda x, c: x / c, lambda x, c: c != 0),
    "rdiv_const": _folded(lambda x, c: c / x, lambda x, c: abs(x) > 0.2),
    "pow_const": _folded(lambda x, c: x ** c,
                         lambda x, c: (0.2 < x < 5 and abs(c) <= 3) or
                                      (_whole(c) and 0 < c <= 3 and abs(x) < 5)),
    "rpow_const": _folded(lambda x, c: abs(c) ** x, lambda x, c: abs(c) > 0.2 and abs(x) < 5),
    "exp": _unary("exp", lambda x: x < 5),
    "log": _unary("log", lambda x: x > 0.2),
    "sqrt": _unary("sqrt", lambda x: x > 0.2),
    "tanh": _unary("tanh"),
    "sigmoid": _unary("sigmoid"),
    "relu": _unary("relu"),
    "abs": _unary("abs"),
    "sin": _unary("sin"),
    "cos": _unary("cos"),
    "affine": _affine,
}


def test_every_op_of_the_table_has_a_row():
    assert set(ROWS) == {op.name for op in ops.ALL}


# --- recipes -------------------------------------------------------------------------------

NUMBERS = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
CONSTANTS = st.sampled_from([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0]) | st.floats(-3.0, 3.0)
STEP = st.tuples(st.sampled_from(sorted(ROWS)), st.integers(0, 63), st.integers(0, 63),
                 CONSTANTS, st.lists(st.integers(0, 63), min_size=1, max_size=3))


def recipes(max_steps: int):
    return st.tuples(st.lists(NUMBERS, min_size=1, max_size=4),
                     st.lists(STEP, min_size=1, max_size=max_steps))


def build(recipe):
    """The recipe's graph on both engines: (output Value, output tensor, input Values,
    input tensors)."""
    numbers, steps = recipe
    xs = [Value(v, label=f"x{i}") for i, v in enumerate(numbers)]
    ts = [torch.tensor(v, dtype=F64, requires_grad=True) for v in numbers]
    pool = list(zip(xs, ts))
    for name, i, j, c, ks in steps:
        made = ROWS[name](pool[i % len(pool)], pool[j % len(pool)], c, ks, pool)
        if made is not None and math.isfinite(made[0].data) and abs(made[0].data) < 1e4:
            pool.append(made)
    nodes = pool[len(xs):] or [(xs[0] * 2.0, ts[0] * 2.0)]
    out, tout = nodes[-1]
    for v, t in nodes[:-1]:  # every node reaches the output, most by several paths
        out = out + v * 0.5
        tout = tout + t * 0.5
    return out, tout, xs, ts


# One recipe per op, in its domain, whose second step reuses the first's result.
EXAMPLES = {name: ([0.7, 1.3, -0.4], [(name, 0, 1, 1.5, [0, 1]), (name, 3, 0, 2.0, [3, 2])])
            for name in ROWS}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_op_example_records_its_op(name):
    out = build(EXAMPLES[name])[0]
    assert name in {v.op for v in topological_order(out)}


def _close(ours, theirs, what, rel=1e-9):
    assert math.isclose(ours, theirs, rel_tol=rel, abs_tol=rel), \
        f"{what}: gradwire {ours!r}, PyTorch {theirs!r}"


def _with_examples(test):
    for recipe in EXAMPLES.values():
        test = example(recipe)(test)
    return test


# --- the properties ------------------------------------------------------------------------

@_with_examples
@given(recipes(10))
def test_values_and_gradients_equal_pytorch(recipe):
    out, tout, xs, ts = build(recipe)
    out.backward()
    tout.backward()
    _close(out.data, tout.item(), "value")
    for i, (x, t) in enumerate(zip(xs, ts)):
        _close(x.grad, 0.0 if t.grad is None else t.grad.item(), f"d out / d x{i}")


@_with_examples
@given(recipes(6))
def test_second_derivatives_equal_pytorch(recipe):
    out, tout, xs, ts = build(recipe)
    first = gradients(out, xs, create_graph=True)
    tfirst = torch.autograd.grad(tout, ts, create_graph=True, allow_unused=True)
    for i, (g, tg) in enumerate(zip(first, tfirst)):
        _close(g.data if isinstance(g, Value) else g, 0.0 if tg is None else tg.item(),
               f"d out / d x{i}")
    # d/dx_j of the sum of the first derivatives: every second derivative has a share
    total = sum(g for g in first if isinstance(g, Value))
    ttotal = [tg for tg in tfirst if tg is not None and tg.requires_grad]
    if not isinstance(total, Value) or not ttotal:
        return
    second = gradients(total, xs)
    tsecond = torch.autograd.grad(sum(ttotal), ts, allow_unused=True)
    for j, (h, th) in enumerate(zip(second, tsecond)):
        _close(h, 0.0 if th is None else th.item(), f"d (sum of d out / d x) / d x{j}",
               rel=1e-7)


@_with_examples
@given(recipes(10))
def test_backward_steps_equal_grad_bit_for_bit(recipe):
    out = build(recipe)[0]
    steps = backward_steps(out)
    gates = [v for v in topological_order(out) if not v.is_leaf]  # one step per gate
    assert {id(s.node) for s in steps} == {id(v) for v in gates}
    assert len(steps) == len(gates)
    out.backward()
    for s in steps:
        assert s.upstream == s.node.grad, f"step {s.index} ({s.name}): {s.upstream!r} " \
                                          f"vs .grad {s.node.grad!r}"
    explained = gradients_of(out)  # the same steps' sums, leaves included
    for v in topological_order(out):
        assert explained[id(v)] == v.grad, f"{v!r}: explained {explained[id(v)]!r}"
