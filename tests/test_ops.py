"""Every entry of the op table, checked one way: finite differences (first and second
order), PyTorch float64 (forward, first and second derivatives, to 1e-12), and for the
arithmetic operators, forwards bit-identical to plain Python floats.

Adding an op to ``autodiff.ops`` adds one row to ``ROWS`` below: how to draw inputs
in its domain, the Python expression that records it, and the same in PyTorch.
"""
import dataclasses
import math
import random

import numpy as np
import pytest
import torch

import autodiff
from autodiff import Value, ops

N_POINTS = 4


def uniform(lo, hi):
    return lambda r: r.uniform(lo, hi)


def away_from_zero(lo, hi):
    """|t| in [lo, hi] with a random sign (relu, abs, divisors: keep off the kink/pole)."""
    return lambda r: r.choice((-1.0, 1.0)) * r.uniform(lo, hi)


ANY = uniform(-2.0, 2.0)
POS = uniform(0.2, 3.0)

# name: (samplers for the inputs; for a folded op the second is the constant,
#        expression recording the op (works on Values and, for arithmetic, on floats),
#        the same in torch)
ROWS = {
    # binary: two Values
    "add": ((ANY, ANY), lambda x, y: x + y, lambda x, y: x + y),
    "sub": ((ANY, ANY), lambda x, y: x - y, lambda x, y: x - y),
    "mul": ((ANY, ANY), lambda x, y: x * y, lambda x, y: x * y),
    "div": ((ANY, away_from_zero(0.3, 2.0)), lambda x, y: x / y, lambda x, y: x / y),
    "pow": ((POS, uniform(-2.0, 2.5)), lambda x, y: x ** y, lambda x, y: x ** y),
    # folded: a Value and a number
    "add_const": ((ANY, ANY), lambda x, c: x + c, lambda x, c: x + c),
    "sub_const": ((ANY, ANY), lambda x, c: x - c, lambda x, c: x - c),
    "rsub_const": ((ANY, ANY), lambda x, c: c - x, lambda x, c: c - x),
    "mul_const": ((ANY, ANY), lambda x, c: x * c, lambda x, c: x * c),
    "div_const": ((ANY, away_from_zero(0.3, 2.0)), lambda x, c: x / c,
                  lambda x, c: x / c),
    "rdiv_const": ((away_from_zero(0.3, 2.0), ANY), lambda x, c: c / x,
                   lambda x, c: c / x),
    "pow_const": ((POS, uniform(-2.5, 3.0)), lambda x, c: x ** c, lambda x, c: x ** c),
    "rpow_const": ((ANY, POS), lambda x, c: c ** x, lambda x, c: c ** x),
    # unary
    "exp": ((ANY,), lambda x: x.exp(), torch.exp),
    "log": ((POS,), lambda x: x.log(), torch.log),
    "sqrt": ((POS,), lambda x: x.sqrt(), torch.sqrt),
    "tanh": ((ANY,), lambda x: x.tanh(), torch.tanh),
    "sigmoid": ((uniform(-6.0, 6.0),), lambda x: x.sigmoid(), torch.sigmoid),
    "relu": ((away_from_zero(0.2, 2.0),), lambda x: x.relu(), torch.relu),
    "abs": ((away_from_zero(0.2, 2.0),), lambda x: abs(x), torch.abs),
    "sin": ((uniform(-4.0, 4.0),), lambda x: x.sin(), torch.sin),
    "cos": ((uniform(-4.0, 4.0),), lambda x: x.cos(), torch.cos),
    # n-ary: a neuron's z = w·x + b, inputs in the order of its parents (b, w0, x0, w1, x1)
    "affine": ((ANY, ANY, ANY, ANY, ANY),
               lambda b, w0, x0, w1, x1: autodiff.affine([w0, w1], [x0, x1], b),
               lambda b, w0, x0, w1, x1: b + w0 * x0 + w1 * x1),
}


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def test_every_op_has_exactly_one_row():
    names = [op.name for op in ops.ALL]
    assert len(names) == len(set(names))
    missing = set(names) - set(ROWS)
    assert not missing, f"ops without a test row in tests/test_ops.py ROWS: {missing}"
    assert not set(ROWS) - set(names), "rows for ops the table does not have"


def test_other_operand_marks_only_products():
    """Backward reads the other operand instead of calling ``OTHER_OPERAND``; that is only
    right where the entry really is a product: d(x*y) = (y, x), d(x*c) = c, and in a
    neuron's b*1 + w0*x0 + ..., d/db = 1, d/dw_i = x_i, d/dx_i = w_i."""
    marked = {op.name for op in ops.ALL if ops.OTHER_OPERAND in op.derivs}
    assert marked == {"mul", "mul_const", "affine"}
    x, y = 1.5, -2.25
    assert [ops.MUL.local(i, x, y, x * y) for i in (0, 1)] == [y, x]
    assert ops.MUL_C.local(0, x, y, x * y) == y
    out = ops.AFFINE.forward((x,), (y,))
    assert out == x * y
    assert [ops.AFFINE.local(j, x, y, out) for j in (0, 1, 2)] == [1.0, y, x]


def points(op):
    """N_POINTS input tuples in the op's domain, seeded by its name."""
    rnd = random.Random(op.name)
    samplers = ROWS[op.name][0]
    return [tuple(s(rnd) for s in samplers) for _ in range(N_POINTS)]


def n_diff(op):
    """How many of the inputs are Values (differentiable)."""
    if op.nary:
        return len(ROWS[op.name][0])
    return 2 if op.kind == "binary" else 1


def record(op, inputs):
    """Build the op on leaves; return (leaves, output, constant operands)."""
    k = n_diff(op)
    leaves = [Value(t, label=f"in{i}") for i, t in enumerate(inputs[:k])]
    out = ROWS[op.name][1](*leaves, *inputs[k:])
    return leaves, out


def torch_reference(op, inputs):
    """Forward, gradient and Hessian (over the Value inputs) from PyTorch float64."""
    k = n_diff(op)
    ts = [torch.tensor(t, dtype=torch.float64, requires_grad=True) for t in inputs[:k]]
    out = ROWS[op.name][2](*ts, *inputs[k:])
    first = torch.autograd.grad(out, ts, create_graph=True)
    hess = []
    for g in first:
        if g.requires_grad:
            row = torch.autograd.grad(g, ts, allow_unused=True)
            hess.append([0.0 if r is None else r.item() for r in row])
        else:  # a constant derivative (+, -): nothing to differentiate
            hess.append([0.0] * k)
    return out.item(), [g.item() for g in first], hess


@pytest.mark.parametrize("op", ops.ALL, ids=lambda op: op.name)
def test_op(op):
    row = ROWS[op.name]  # KeyError here: add the op's row above
    k = n_diff(op)
    for inputs in points(op):
        where = f"{op.name} at {inputs}"
        leaves, out = record(op, inputs)
        # the row records this op, as one node on the leaves
        assert out.op == op.name, where
        assert out.parents == tuple(leaves), where
        if op.kind == "folded":
            assert out.const == inputs[1]

        # (a) finite differences, first and second order
        const = inputs[k:]
        assert autodiff.gradcheck(lambda *xs, c=const: row[1](*xs, *c), inputs[:k], order=2)

        # (b) PyTorch float64: forward, backward, backward of backward
        t_out, t_grad, t_hess = torch_reference(op, inputs)
        assert close(out.data, t_out), (where, out.data, t_out)
        out.backward()
        for i, leaf in enumerate(leaves):
            assert type(leaf.grad) is float
            assert close(leaf.grad, t_grad[i]), (where, i, leaf.grad, t_grad[i])

        leaves, out = record(op, inputs)
        out.backward(create_graph=True)
        firsts = [leaf.grad for leaf in leaves]
        for i, g in enumerate(firsts):
            assert isinstance(g, Value), where
            assert close(g.data, t_grad[i]), (where, i, g.data, t_grad[i])
            second = autodiff.gradients(g, leaves)
            for j in range(k):
                assert close(second[j], t_hess[i][j]), (where, i, j, second[j], t_hess[i][j])


@pytest.mark.parametrize("op", [op for op in ops.ALL if op.kind != "unary"],
                         ids=lambda op: op.name)
def test_arithmetic_forward_is_plain_python(op):
    """Each arithmetic row on Values gives exactly what the same expression on floats
    gives: no rewriting (x / y is a true division, not x * y**-1)."""
    expr = ROWS[op.name][1]
    for inputs in points(op):
        k = n_diff(op)
        vs = [Value(t) for t in inputs[:k]] + list(inputs[k:])
        assert expr(*vs).data == expr(*inputs), (op.name, inputs)


EXPRESSIONS = {
    "x+2": lambda x, y: x + 2, "2+x": lambda x, y: 2 + x,
    "x-2": lambda x, y: x - 2, "2-x": lambda x, y: 2 - x,
    "2*x": lambda x, y: 2 * x, "x*0.1": lambda x, y: x * 0.1,
    "x/3": lambda x, y: x / 3, "3/x": lambda x, y: 3 / x,
    "x**2.5": lambda x, y: x ** 2.5, "x**2": lambda x, y: x ** 2,
    "x**-1": lambda x, y: x ** -1, "2**x": lambda x, y: 2 ** x,
    "x**y": lambda x, y: x ** y, "x+y": lambda x, y: x + y, "x-y": lambda x, y: x - y,
    "x*y": lambda x, y: x * y, "x/y": lambda x, y: x / y, "-x": lambda x, y: -x,
    "(x+y)*(x-y)/x": lambda x, y: (x + y) * (x - y) / x,
}


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_forward_bit_identical_to_python(name, rng):
    f = EXPRESSIONS[name]
    for _ in range(200):
        a, b = rng.uniform(0.01, 10.0), rng.uniform(-3.0, 3.0)
        got = f(Value(a), Value(b)).data
        want = f(a, b)
        assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want), \
            (name, a, b, got, want)


def test_negative_zero_survives():
    assert math.copysign(1.0, (Value(0.0) * -1.0).data) == -1.0
    assert math.copysign(1.0, (-Value(0.0)).data) == -1.0


# --- the formula text of every entry is its derivative ---------------------------------

def _sig(t):
    return 1.0 / (1.0 + math.exp(-t))


_NAMES = {"ln": math.log, "e": math.e, "sqrt": math.sqrt, "tanh": math.tanh, "sin": math.sin,
          "cos": math.cos, "exp": math.exp, "σ": _sig, "sign": ops.sign}


def formula_mismatches(op, n_points=N_POINTS):
    """Evaluate each formula text of ``op`` (``^`` read as ``**``, the constant and term
    number put in) in the names of its inputs, against ``op.local`` at the same points;
    return the disagreements."""
    bad = []
    for inputs in points(op):
        for j, text in enumerate(op.formulas):
            if op.kind == "nary":  # one term w0*x0 (and the bias, b*1)
                w, x = inputs[1], inputs[2]
                env = {"w0": w, "x0": x, "b": inputs[0]}
                want = op.local(j, inputs[0] if j == 0 else w, 1.0 if j == 0 else x, None)
                src = text.replace("{i}", "0")
            else:
                x = inputs[0]
                y = inputs[1] if len(inputs) > 1 else None
                out = op.forward(x) if op.kind == "unary" else op.forward(x, y)
                env = {"x": x, "y": y}
                want = op.local(j, x, y, out)
                src = text.replace("{c}", f"({y!r})")
            got = eval(src.replace("^", "**"), {"__builtins__": {}}, {**_NAMES, **env})
            if not close(got, want):
                bad.append((op.name, j, text, inputs, got, want))
    return bad


@pytest.mark.parametrize("op", ops.ALL, ids=lambda op: op.name)
def test_formula_text_is_the_derivative(op):
    assert len(op.formulas) == len(op.derivs) == len(op.inputs)
    assert not formula_mismatches(op)


@pytest.mark.parametrize("name, wrong", [
    ("log", "1/x^2"), ("sqrt", "1/sqrt(x)"), ("sin", "-cos(x)"), ("cos", "sin(x)"),
    ("tanh", "1-tanh(x)"), ("sigmoid", "σ(x)"), ("rdiv_const", "{c}/x^2")])
def test_an_edited_formula_fails_the_check(name, wrong):
    op = ops.get(name)
    assert formula_mismatches(dataclasses.replace(op, formulas=(wrong,)))


def test_an_edited_binary_formula_fails_the_check():
    assert formula_mismatches(dataclasses.replace(ops.DIV, formulas=("1/y", "-x/y")))
    assert formula_mismatches(dataclasses.replace(ops.POW, formulas=("y*x^(y-1)", "x^y")))
    assert formula_mismatches(dataclasses.replace(ops.AFFINE, formulas=("1", "w{i}", "w{i}")))


def test_entries_are_frozen_and_keyword_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ops.EXP.derivs = ()
    with pytest.raises(TypeError):
        ops.Op("exp", "unary")  # positional arguments are refused
    assert ops.DIV.rule(1) == "-x/y^2" and ops.DIV.input_name(1) == "y"
    assert ops.RDIV_C.rule(0, 2.0) == "-2/x^2" and ops.RDIV_C.text("n1", const=2.0) == "2/n1"
    assert ops.AFFINE.rule(1, term=3) == "x3" and ops.AFFINE.input_name(2, 3) == "x3"


# --- NaN goes through every op as in PyTorch --------------------------------------------

def same_or_both_nan(a, b):
    return (math.isnan(a) and math.isnan(b)) or close(a, b)


@pytest.mark.parametrize("op", ops.ALL, ids=lambda op: op.name)
def test_nan_propagates_as_in_pytorch(op):
    """A NaN in each input (and constant) in turn: forward and gradients match PyTorch
    float64, NaN for NaN (relu(nan) is nan, relu'(nan) = 1, abs'(nan) = 0, as there)."""
    k = n_diff(op)
    base = points(op)[0]
    for pos in range(len(base)):
        inputs = list(base)
        inputs[pos] = math.nan
        leaves, out = record(op, inputs)
        t_out, t_grad, _ = torch_reference(op, inputs)
        assert same_or_both_nan(out.data, t_out), (op.name, inputs, out.data, t_out)
        out.backward()
        for i in range(k):
            assert same_or_both_nan(leaves[i].grad, t_grad[i]), \
                (op.name, inputs, i, leaves[i].grad, t_grad[i])


def test_relu_of_nan_is_nan():
    x = Value(math.nan)
    y = x.relu()
    y.backward()
    assert math.isnan(y.data) and x.grad == 1.0  # as torch.relu
    assert ops.RELU.vforward(np.array([math.nan, -1.0, 2.0]))[0] != 0.0


def test_pow_with_exponent_zero_has_derivative_zero():
    """d(x**0)/dx = 0 everywhere, also at x = 0 (PyTorch's convention; it raised
    ZeroDivisionError) and at NaN."""
    for xv in (0.0, 2.0, math.nan):
        x = Value(xv)
        (x ** 0.0).backward()
        assert x.grad == 0.0
        x, y = Value(xv), Value(0.0)
        (x ** y).backward()
        assert x.grad == 0.0
