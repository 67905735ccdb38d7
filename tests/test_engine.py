"""The Value engine: the lecture's sigmoid circuit step by step, gate folding, gradient
accumulation, higher-order gradients, the switches (no_grad, enable_grad, detach,
detect_anomaly), Python protocol behaviour, numerical stability, and the memory shape
of a graph (one gc object per node, freed by reference counting, a million deep)."""
import ast
import dataclasses
import gc
import inspect
import math
import random
import tracemalloc

import numpy as np
import pytest

import autodiff
from autodiff import Value, detect_anomaly, enable_grad, no_grad, ops
from autodiff.value import STATE

# --- the lecture's sigmoid circuit -----------------------------------------------------

def sigmoid_circuit():
    """f(w, x) = 1 / (1 + exp(-(w0*x0 + w1*x1 + w2))), every gate kept by name."""
    w0, x0 = Value(2.0, label="w0"), Value(-1.0, label="x0")
    w1, x1 = Value(-3.0, label="w1"), Value(-2.0, label="x1")
    w2 = Value(-3.0, label="w2")
    g = {}
    g["w0*x0"] = w0 * x0
    g["w1*x1"] = w1 * x1
    g["sum"] = g["w0*x0"] + g["w1*x1"]
    g["+w2"] = g["sum"] + w2
    g["*-1"] = -g["+w2"]
    g["exp"] = g["*-1"].exp()
    g["+1"] = g["exp"] + 1
    g["1/x"] = 1 / g["+1"]
    leaves = dict(w0=w0, x0=x0, w1=w1, x1=x1, w2=w2)
    return leaves, g


def test_sigmoid_circuit_lecture_numbers():
    leaves, g = sigmoid_circuit()
    f = g["1/x"]
    f.backward()
    assert round(f.data, 4) == 0.7311
    expected = dict(w0=-0.1966, x0=0.3932, w1=-0.3932, x1=-0.5898, w2=0.1966)
    for name, want in expected.items():
        assert round(leaves[name].grad, 4) == want, name


def test_sigmoid_circuit_matches_closed_form():
    leaves, g = sigmoid_circuit()
    g["1/x"].backward()
    w0, x0, w1, x1, w2 = (leaves[k].data for k in ("w0", "x0", "w1", "x1", "w2"))
    z = w0 * x0 + w1 * x1 + w2
    s = 1.0 / (1.0 + math.exp(-z))
    ds = s * (1.0 - s)  # dσ/dz
    assert abs(g["1/x"].data - s) <= 1e-15
    for name, want in dict(w0=ds * x0, x0=ds * w0, w1=ds * x1, x1=ds * w1, w2=ds).items():
        assert abs(leaves[name].grad - want) <= 1e-15, (name, leaves[name].grad, want)


def test_sigmoid_circuit_intermediates_and_gates():
    leaves, g = sigmoid_circuit()
    g["1/x"].backward()
    # forward values the slides write on the wires
    assert [g[k].data for k in ("w0*x0", "w1*x1", "sum", "+w2", "*-1")] == \
        [-2.0, 6.0, 4.0, 1.0, -1.0]
    assert round(g["exp"].data, 2) == 0.37
    assert round(g["+1"].data, 2) == 1.37
    assert round(g["1/x"].data, 2) == 0.73
    # gradients, derived gate by gate from the local derivatives
    e = math.exp(-1.0)
    d_plus1 = -1.0 / (1.0 + e) ** 2          # 1/x gate: d(1/u)/du = -1/u^2
    d_exp = d_plus1 * 1.0                   # +1 gate passes it on
    d_neg = d_exp * e                       # exp gate: times e^x
    d_sum = d_neg * -1.0                    # *-1 gate
    want = {"1/x": 1.0, "+1": d_plus1, "exp": d_exp, "*-1": d_neg, "+w2": d_sum,
            "sum": d_sum, "w0*x0": d_sum, "w1*x1": d_sum}
    for k, w in want.items():
        assert math.isclose(g[k].grad, w, rel_tol=1e-14), (k, g[k].grad, w)
    # the slides' rounded figures
    assert [round(g[k].grad, 2) for k in ("1/x", "+1", "exp", "*-1", "+w2")] == \
        [1.0, -0.53, -0.53, -0.2, 0.2]
    assert round(leaves["w0"].grad, 2) == -0.2 and round(leaves["x0"].grad, 2) == 0.39
    assert round(leaves["w1"].grad, 2) == -0.39 and round(leaves["x1"].grad, 2) == -0.59
    # gate labels as drawn
    assert [g[k].gate for k in g] == ["*", "*", "+", "+", "*-1", "exp", "+1", "1/x"]
    assert [g[k].op for k in g] == ["mul", "mul", "add", "add", "mul_const", "exp",
                                    "add_const", "rdiv_const"]


# --- folding numbers into gates ------------------------------------------------------

@pytest.mark.parametrize("expr, op, gate, const", [
    (lambda x: x + 1, "add_const", "+1", 1.0),
    (lambda x: 1 + x, "add_const", "+1", 1.0),
    (lambda x: -x, "mul_const", "*-1", -1.0),
    (lambda x: 1 / x, "rdiv_const", "1/x", 1.0),
    (lambda x: 2.5 * x, "mul_const", "*2.5", 2.5),
    (lambda x: x * 3, "mul_const", "*3", 3.0),
    (lambda x: x - 2, "sub_const", "-2", 2.0),
    (lambda x: 2 - x, "rsub_const", "2-x", 2.0),
    (lambda x: x / 4, "div_const", "/4", 4.0),
    (lambda x: x ** 2, "pow_const", "**2", 2.0),
    (lambda x: 2 ** x, "rpow_const", "2^x", 2.0),
])
def test_number_operand_folds_into_one_gate(expr, op, gate, const):
    x = Value(1.5, label="x")
    y = expr(x)
    assert (y.op, y.gate, y.const) == (op, gate, const)
    assert y.parents == (x,)
    assert list(y.walk()) == [x, y]  # one node, nothing hidden


def test_two_values_make_a_binary_node():
    a, x = Value(2.0), Value(3.0)
    for y, op, gate in ((a * x, "mul", "*"), (a + x, "add", "+"), (a - x, "sub", "-"),
                        (a / x, "div", "/"), (a ** x, "pow", "**")):
        assert (y.op, y.gate, y.parents, y.const) == (op, gate, (a, x), None)


def test_leaf_introspection():
    v = Value(1.0, label="v")
    assert (v.op, v.parents, v.const, v.gate, v.is_leaf) == (None, (), None, "", True)


def test_same_value_twice():
    a = Value(3.0)
    s = a + a
    assert s.parents == (a, a)
    s.backward()
    assert a.grad == 2.0
    x = Value(3.0)
    p = x * x
    assert p.parents == (x, x)
    p.backward()
    assert x.grad == 6.0


def test_diamond_accumulates_every_path():
    x = Value(0.7)
    a = x.tanh()
    y = a * x + a.exp() * a
    y.backward()
    t = math.tanh(0.7)
    dt = 1 - t * t
    want = (dt * 0.7 + t) + (math.exp(t) * t + math.exp(t)) * dt
    assert math.isclose(x.grad, want, rel_tol=1e-14)


# --- backward twice, higher order ------------------------------------------------------

def test_backward_twice_leaves_double_intermediates_latest():
    leaves, g = sigmoid_circuit()
    g["1/x"].backward()
    first_leaves = {k: v.grad for k, v in leaves.items()}
    first_inner = {k: v.grad for k, v in g.items()}
    g["1/x"].backward()
    for k, v in leaves.items():
        assert v.grad == 2 * first_leaves[k], k
    for k, v in g.items():
        assert v.grad == first_inner[k], k


def test_backward_seed_and_leaf_root():
    x = Value(2.0)
    y = x * 3
    y.backward(grad=0.5)
    assert x.grad == 1.5 and y.grad == 0.5
    y.backward(grad=np.float32(2))
    assert x.grad == 1.5 + 6.0
    leaf = Value(1.0)
    leaf.backward()
    leaf.backward()
    assert leaf.grad == 2.0


def test_create_graph_third_derivative():
    x = Value(2.0, label="x")
    y = x ** 3
    y.backward(create_graph=True)
    g1 = x.grad
    assert isinstance(g1, Value) and g1.data == 12.0  # 3x^2
    x.grad = 0.0
    g1.backward(create_graph=True)
    g2 = x.grad
    assert isinstance(g2, Value) and g2.data == 12.0  # 6x
    x.grad = 0.0
    g2.backward()
    assert x.grad == 6.0                              # 6


def test_create_graph_on_a_circuit_matches_float_backward():
    leaves, g = sigmoid_circuit()
    g["1/x"].backward()
    plain = {k: v.grad for k, v in leaves.items()}
    leaves, g = sigmoid_circuit()
    g["1/x"].backward(create_graph=True)
    for k, v in leaves.items():
        assert isinstance(v.grad, Value)
        assert math.isclose(v.grad.data, plain[k], rel_tol=1e-15), k


# --- switches ---------------------------------------------------------------------------

def test_no_grad_records_nothing():
    w = Value(2.0)
    with no_grad():
        assert not autodiff.is_grad_enabled()
        y = (w * 3 + w).exp()
        assert y.is_leaf and y.parents == () and y.op is None
        with enable_grad():
            z = w * 3
        assert z.op == "mul_const" and z.parents == (w,)
    assert autodiff.is_grad_enabled()
    assert (w * 3).op == "mul_const"


def test_no_grad_restores_on_error_and_as_decorator():
    with pytest.raises(RuntimeError), no_grad():
        raise RuntimeError("boom")
    assert autodiff.is_grad_enabled()

    @no_grad()
    def f(v):
        return v * 2
    assert f(Value(1.0)).is_leaf
    assert autodiff.is_grad_enabled()


def test_detach():
    x = Value(2.0, label="x")
    y = x * x
    d = y.detach()
    assert d is not y and d.is_leaf and d.data == 4.0 and d.label == y.label
    z = d * x
    z.backward()
    assert x.grad == 4.0  # only the direct path: d is a constant


# --- Python protocol behaviour -------------------------------------------------------------

def test_comparisons_compare_data_equality_is_identity():
    a, b = Value(1.0), Value(2.0)
    assert a < b and a <= b and b > a and b >= a and not a > b
    # a number on the left: Python turns `2 > a` into the Value's reflected `a < 2`
    assert a < 2 and 2 > a and a >= 1 and 1.0 <= a  # noqa: SIM300
    assert a <= np.float64(1.0)
    same = Value(1.0)
    assert a != same and not (a == same) and a == a  # noqa: SIM201 (both operators)
    d = {a: "a", same: "same"}
    assert d[a] == "a" and d[same] == "same" and len({a, same, a}) == 2


def test_bool_is_nonzero_data():
    assert bool(Value(0.0)) is False
    assert bool(Value(-0.0)) is False
    assert bool(Value(0.5)) is True
    assert float(Value(3)) == 3.0 and f"{Value(0.123456):.2f}" == "0.12"


def test_tracing_refuses_control_flow():
    x = Value(1.0)
    STATE.tracing = True
    try:
        with pytest.raises(TypeError, match="tracing"):
            bool(x)
        with pytest.raises(TypeError, match="tracing"):
            x < 2  # noqa: B015 (the comparison itself raises)
    finally:
        STATE.tracing = False


@pytest.mark.parametrize("number", [3, 2.5, True, np.float64(1.25), np.float32(0.5),
                                    np.int64(7)])
def test_number_types_accepted(number):
    want = float(number)
    v = Value(number)
    assert type(v.data) is float and v.data == want
    for y in (Value(1.0) + number, number + Value(1.0), Value(1.0) * number,
              number * Value(1.0)):
        assert isinstance(y, Value) and type(y.data) is float
        assert type(y.const) is float and y.const == want


@pytest.mark.parametrize("bad, name", [("a", "str"), ([1], "list"), (None, "NoneType"),
                                       ({}, "dict"), (1j, "complex")])
def test_non_numbers_are_type_errors_naming_the_type(bad, name):
    with pytest.raises(TypeError, match=name):
        Value(bad)
    x = Value(1.0)
    for op in (lambda: x + bad, lambda: x * bad, lambda: x - bad, lambda: x / bad,
               lambda: x ** bad, lambda: x < bad):
        with pytest.raises(TypeError, match=name):
            op()
    for op in (lambda: bad + x, lambda: bad * x, lambda: bad - x, lambda: bad / x,
               lambda: bad ** x, lambda: bad < x):
        with pytest.raises(TypeError, match=name):
            op()


def test_value_of_a_value_and_bad_label():
    with pytest.raises(TypeError, match="detach"):
        Value(Value(1.0))
    with pytest.raises(TypeError, match="int"):
        Value(1.0, label=3)


def test_repr():
    leaves, g = sigmoid_circuit()
    g["1/x"].backward()
    v = Value(g["1/x"].data)
    v.grad = leaves["w2"].grad
    assert repr(v) == "Value(data=0.7311, grad=0.1966)"
    assert repr(Value(1.0, label="w")) == "Value(data=1, grad=0, label='w')"


def test_type_checker_declarations_are_the_installed_methods(monkeypatch):
    """The operators and gate methods `_install_methods` sets on Value from the op table
    are exactly the ones `class Value` declares under TYPE_CHECKING, each with the same
    number of arguments and returning a Value: an entry added to the table without its
    declaration (or a declaration left after its entry went) fails here."""
    from autodiff import value as value_module

    class Probe:
        pass

    monkeypatch.setattr(value_module, "Value", Probe)
    value_module._install_methods()
    installed = {
        name: len(inspect.signature(f).parameters)
        for name, f in vars(Probe).items()
        if inspect.isfunction(f)
    }
    assert {"__add__", "__rpow__", "__abs__", "exp", "abs"} <= set(installed)

    (cls,) = ast.parse(inspect.getsource(Value)).body
    (block,) = [
        node
        for node in cls.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    defs = [node for node in block.body if isinstance(node, ast.FunctionDef)]
    assert {f.name: len(f.args.args) for f in defs} == installed
    assert all(f.returns is not None and ast.unparse(f.returns) == "Value" for f in defs)


# --- numerics -------------------------------------------------------------------------------

@pytest.mark.parametrize("x, method, data", [
    (-1000.0, "sigmoid", 0.0), (1000.0, "sigmoid", 1.0),
    (-1000.0, "tanh", -1.0), (1000.0, "tanh", 1.0),
    (-745.0, "sigmoid", math.exp(-745.0)), (40.0, "sigmoid", 1.0),
])
def test_saturating_ops_are_stable(x, method, data):
    v = Value(x)
    y = getattr(v, method)()
    y.backward()
    assert y.data == data
    assert math.isfinite(v.grad) and 0.0 <= v.grad <= 1e-300


def test_kinks_have_zero_gradient():
    for method in ("relu", "abs"):
        x = Value(0.0)
        getattr(x, method)().backward()
        assert x.grad == 0.0, method
    x = Value(-2.0)
    x.relu().backward()
    assert x.grad == 0.0
    x = Value(2.0)
    x.relu().backward()
    assert x.grad == 1.0


def test_inf_gradients_pass_silently_without_detect_anomaly():
    x = Value(1e-300)
    ((x * 1e200) * 1e200).backward()
    assert x.grad == math.inf


# --- detect_anomaly -------------------------------------------------------------------------

def test_detect_anomaly_forward():
    with detect_anomaly():
        with pytest.raises(FloatingPointError,
                           match=r"forward of mul_const \(\*10\).*inf.*1e\+308.*'big'"):
            Value(1e308, label="big") * 10
        a, b = Value(math.inf, label="a"), Value(math.inf, label="b")
        with pytest.raises(FloatingPointError, match=r"sub.*nan.*'a'.*'b'"):
            a - b
    assert not STATE.anomaly
    assert (Value(1e308) * 10).data == math.inf  # off again: plain floats


def test_detect_anomaly_backward():
    x = Value(1e-300, label="x")
    y = (x * 1e200) * 1e200
    with detect_anomaly(), pytest.raises(
        FloatingPointError, match=r"backward of mul_const \(\*1e\+200\).*inf.*'x'"
    ):
        y.backward()
    # the failed pass left no stale bookkeeping: a later pass is right
    x2 = Value(2.0)
    z = y * 0 + x2 * x2
    z.backward()
    assert x2.grad == 4.0


def test_detect_anomaly_backward_create_graph():
    x = Value(1e-300, label="x")
    y = (x * 1e200) * 1e200
    with detect_anomaly(), pytest.raises(FloatingPointError) as info:
        y.backward(create_graph=True)
    msg = str(info.value)
    assert msg.startswith("detect_anomaly: backward of mul_const (*1e+200)")
    assert "'x'" in msg and "inf" in msg


def test_interrupted_backward_leaves_no_stale_state(monkeypatch):
    x = Value(0.3, label="x")
    a = x.exp()
    t = a.tanh()
    y = t * a

    def interrupt(x, y, out):
        raise KeyboardInterrupt
    monkeypatch.setattr(t, "_fn", dataclasses.replace(ops.TANH, derivs=(interrupt,)))
    with pytest.raises(KeyboardInterrupt):
        y.backward()
    with pytest.raises(KeyboardInterrupt):
        y.backward(create_graph=True)
    monkeypatch.undo()
    x.grad = 0.0
    y.backward()
    e, t = math.exp(0.3), math.tanh(math.exp(0.3))
    assert math.isclose(x.grad, ((1 - t * t) * e + t) * e, rel_tol=1e-14)
    assert all(v._n == 0 for v in y.walk())


# --- graph utilities and memory -------------------------------------------------------------

def test_walk_and_zero_grad():
    leaves, g = sigmoid_circuit()
    f = g["1/x"]
    order = list(f.walk())
    assert len(order) == len(leaves) + len(g) and order[-1] is f
    pos = {id(v): i for i, v in enumerate(order)}
    assert all(pos[id(p)] < pos[id(v)] for v in order for p in v.parents)
    assert autodiff.topological_order(f) == order
    f.backward(create_graph=True)
    f.zero_grad()
    assert all(v.grad == 0.0 and type(v.grad) is float for v in order)


def test_million_deep_chain():
    gc.collect()
    x = Value(0.5, label="x")
    v = x
    for _ in range(500_000):
        v = v * 1.000001
        v = v + 0.5
    v.backward()
    assert math.isclose(x.grad, 1.000001 ** 500_000, rel_tol=1e-9)
    assert v.grad == 1.0
    v.zero_grad()
    assert x.grad == 0.0
    del v
    assert x._n == 0
    assert gc.collect() == 0  # freed by reference counting, no cycles


def build_graph(n):
    """n recorded nodes of mixed kinds over two leaves."""
    x, y = Value(0.5), Value(0.25)
    v = x
    for i in range(n):
        k = i % 4
        v = v * y if k == 0 else v + 1 if k == 1 else v.tanh() if k == 2 else v * 0.5
    return v


def test_graph_freed_by_reference_counting():
    gc.collect()
    v = build_graph(10_000)
    v.backward()
    del v
    assert gc.collect() == 0
    f = lambda x: (x * x).tanh() * x  # noqa: E731
    autodiff.grad(autodiff.grad(f))(0.3)
    assert gc.collect() == 0


def test_one_gc_object_per_node():
    gc.collect()
    gc.disable()
    try:
        counts = []
        for n in (1_000, 11_000):
            before = len(gc.get_objects())
            v = build_graph(n)
            counts.append(len(gc.get_objects()) - before)
            del v
    finally:
        gc.enable()
    assert counts[1] - counts[0] == 10_000


def bytes_per_node(n=100_000):
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        v = build_graph(n)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del v
    return (after - before) / n


def test_memory_per_node():
    per = bytes_per_node()
    print(f"bytes per recorded node: {per:.1f}")
    assert per <= 160


def test_engine_imports_nothing_above_it():
    """autodiff imports neither nn nor visualize (the SVG display of a Value is
    registered by visualize), and the op slot is free for micrograd's string ``_op``."""
    import subprocess
    import sys
    code = ("import sys, autodiff; autodiff.Value(1.0).exp().backward(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('nn', 'visualize')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
    assert "_fn" in Value.__slots__ and "_op" not in Value.__slots__


def test_a_shared_parameter_adds_its_shares_in_sample_order():
    """backward visits a node's first input first, so a parameter that every term of a
    sum uses adds its shares in the order of the terms, bit for bit."""
    differs = 0
    for seed in range(20):
        rng = random.Random(seed)
        xs = [rng.uniform(-3, 3) for _ in range(100)]
        w = Value(0.7)
        loss = sum((w * x).tanh() for x in xs)
        loss.backward()
        shares = []
        for x in xs:
            t = math.tanh(0.7 * x)
            shares.append((1.0 * (1.0 - t * t)) * x)  # upstream 1, tanh's local, mul's
        in_order = in_reverse = 0.0
        for s in shares:
            in_order += s
        for s in reversed(shares):
            in_reverse += s
        differs += in_order != in_reverse
        assert w.grad == in_order, seed
    assert differs  # the order shows in the last bits of some of these sums
