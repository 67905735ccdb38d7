"""The fused ``w·x+b`` node (``autodiff.affine``): the same floats as the gate-by-gate sum
``sum((wi*xi for wi, xi in zip(w, x)), b)``, PyTorch's derivatives, the explainer's
numbers, its fallbacks (no_grad, detect_anomaly, non-Value weights) and its errors."""
import collections
import math
import random

import numpy as np
import pytest
import torch

import autodiff
from autodiff import (
    Value,
    affine,
    backward_steps,
    chain_rule,
    detect_anomaly,
    forward_steps,
    no_grad,
    topological_order,
)
from autodiff.explain import gradients_of
from nn import MLP


def gate_sum(w, x, b):
    """The reference: micrograd's graph, a '*' and a '+' node per input."""
    return sum((wi * xi for wi, xi in zip(w, x)), b)


def same_float(a, b):
    """Bit-identical floats, -0.0 told apart from 0.0 (and nan equal to nan)."""
    return type(a) is float and type(b) is float and (
        (math.isnan(a) and math.isnan(b))
        or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b)))


def ops_of(root):
    return collections.Counter(v.op for v in topological_order(root))


# --- 1. forward ----------------------------------------------------------------------------

def _number(rng, t):
    """t as a float, int or numpy scalar (what a caller may pass as an x_i)."""
    k = rng.randrange(5)
    if k == 0:
        return float(t)
    if k == 1:
        return round(t * 4)
    if k == 2:
        return np.float64(t)
    if k == 3:
        return np.int64(round(t * 4))
    return np.float32(t)


def test_forward_bit_identical_to_the_gate_sum_on_random_cases(rng):
    """Over 2000 random cases (n from 1 to 20, x_i Values or float/int/numpy numbers,
    values from tiny to huge, signed zeros) the fused node's data is the gate sum's
    float, bit for bit, and a Python float."""
    for case in range(2000):
        n = rng.choice((1, 1, 2, 3, 5, 8, 20)) if case else 20
        scale = 10.0 ** rng.randint(-5, 5)
        w = [Value(rng.uniform(-1, 1) * scale) for _ in range(n)]
        x = []
        for _ in range(n):
            t = rng.uniform(-3, 3)
            x.append(Value(t) if rng.random() < 0.5 else _number(rng, t))
        b = Value(rng.choice((0.0, -0.0, rng.uniform(-2, 2) * scale)))
        z, ref = affine(w, x, b), gate_sum(w, x, b)
        assert z.op == "affine" and z.gate == "w·x+b"
        assert type(z.data) is float
        assert same_float(z.data, ref.data), (case, z.data, ref.data)


def test_forward_negative_zero_bias_and_signed_zero_products():
    """-0.0 + (-0.0) stays -0.0 and -0.0 + 0.0 is 0.0, as in the gate sum."""
    nz = Value(-0.0)
    for w, x, b in [([Value(0.0)], [-1.0], nz),           # -0.0 + -0.0 = -0.0
                    ([Value(0.0)], [1.0], nz),            # -0.0 + 0.0 = 0.0
                    ([Value(-0.0), Value(5.0)], [2, -0.0], nz),
                    ([Value(3.0)], [Value(0.0)], nz)]:
        z = affine(w, x, b)
        assert z.op == "affine"
        assert same_float(z.data, gate_sum(w, x, b).data)
    assert math.copysign(1.0, affine([Value(0.0)], [-1.0], nz).data) == -1.0


def test_forward_n1_n20_and_a_value_used_several_times(rng):
    """n = 1 and n = 20 by hand-checkable sums, and the same Value as bias, weight and
    input several times: parents list every use, the value is the gate sum's."""
    a, c = Value(1.5), Value(-0.25)
    z1 = affine([a], [c], Value(2.0))
    assert z1.data == 2.0 + 1.5 * -0.25 == 1.625
    w = [Value(float(i)) for i in range(20)]
    z20 = affine(w, [0.5] * 20, Value(1.0))
    assert z20.data == 1.0 + 0.5 * sum(range(20)) == 96.0
    assert len(z20.parents) == 21  # b and 20 weights; the number inputs are not parents
    for _ in range(200):
        x, y = Value(rng.uniform(-3, 3)), Value(rng.uniform(-3, 3))
        z = affine([x, x, x], [x, y, x], x)
        assert z.parents == (x, x, x, x, y, x, x)
        assert same_float(z.data, gate_sum([x, x, x], [x, y, x], x).data)
        assert same_float(z.data, ((x.data + x.data * x.data) + x.data * y.data)
                          + x.data * x.data)


# --- 2. gradients equal the gate graph's --------------------------------------------------

def layered_graph(rng, affine_fn):
    """A random network of affine nodes in layers, built the same way whatever
    ``affine_fn`` is (fused ``affine`` or the ``gate_sum``).  Each node draws distinct
    inputs from the previous layer (so inputs are shared by several affine nodes, and
    affine nodes feed affine nodes directly), sometimes a number among them; weights
    and biases are leaves, non-leaf Values (``tanh(p)``, ``p * c``) or a weight tied
    across the nodes of one layer; relu, tanh, * and + sit between layers; the loss
    also reads nodes of every layer.  No affine node uses a Value twice or an input
    that lies below another of its inputs: the gate graph interleaves its pairs with
    their subgraphs, the fused node sends to all pairs at once, and under this rule
    both add the same numbers in the same order.  Returns (loss, leaves, built nodes)."""
    leaves = [Value(rng.uniform(-1.5, 1.5), f"in{i}") for i in range(rng.randint(2, 4))]
    built = []
    tied = []

    def weight(node):
        """A weight for one node; a tied weight is used once per node at most."""
        p = Value(rng.uniform(-1.2, 1.2))
        leaves.append(p)
        k = rng.randrange(5)
        free = [t for t in tied if all(t is not u for u in node)]
        if k == 0 and free:
            leaves.pop()
            node.append(rng.choice(free))
            return node[-1]
        if k == 1:
            w = p.tanh()
        elif k == 2:
            w = p * rng.uniform(0.5, 2.0)
        else:
            w = p
        if not w.is_leaf:
            built.append(w)
            tied.append(w)
        node.append(w)
        return w

    layer = list(leaves)
    for _ in range(rng.randint(2, 4)):
        zs = []
        tied.clear()  # tied within a layer: a weight never sits below a node's x_i
        for _ in range(rng.randint(2, 5)):
            xs = rng.sample(layer, rng.randint(1, len(layer)))
            if rng.random() < 0.3:
                xs.insert(rng.randrange(len(xs) + 1), rng.uniform(-1, 1))
            mine = []
            w = [weight(mine) for _ in xs]
            z = affine_fn(w, xs, weight(mine))
            zs.append(z)
            built.append(z)
        kinds = [rng.choice(("id", "relu", "tanh", "mul", "add")) for _ in zs]
        # a raw z passed on must not also sit below another node of the next layer
        partners = [z for z, k in zip(zs, kinds) if k != "id"]
        nxt = []
        for z, k in zip(zs, kinds):
            if k in ("mul", "add") and not partners:
                k = "relu"
            if k == "id":
                h = z
            elif k == "relu":
                h = z.relu()
            elif k == "tanh":
                h = z.tanh()
            elif k == "mul":
                h = z * rng.choice(partners)
            else:
                h = z + rng.choice(partners)
            if h is not z:
                built.append(h)
            nxt.append(h)
        layer = nxt
    out = layer[0]
    for v in layer[1:]:
        out = out * v if rng.random() < 0.5 else out + v
    for v in rng.sample(built, min(5, len(built))):
        out = out + v * v
    return out, leaves, built


def _two_graphs(seed, passes=1):
    """The fused and the gate-by-gate graph for one seed, each backpropagated
    ``passes`` times: [(output, leaves, built nodes)] * 2."""
    result = []
    for fn in (affine, gate_sum):
        out, leaves, built = layered_graph(random.Random(seed), fn)
        for _ in range(passes):
            out.backward()
        result.append((out, leaves, built))
    return result


@pytest.mark.parametrize("seed", range(40))
def test_gradients_equal_the_gate_graph_bit_for_bit(seed):
    """In layered graphs (affine feeding affine and relu/tanh/*/+, inputs shared by
    several affine nodes, non-leaf and tied weights, numbers among the x_i), every
    leaf's and every built node's gradient is the gate graph's float, bit for bit."""
    (fo, fl, fb), (go, gl, gb) = _two_graphs(seed)
    assert sum(v.op == "affine" for v in topological_order(fo)) >= 3
    assert "affine" not in ops_of(go)
    assert same_float(fo.data, go.data)
    assert len(fl) == len(gl) and len(fb) == len(gb)
    for i, (a, b) in enumerate(zip(fl, gl)):
        assert same_float(a.grad, b.grad), (seed, "leaf", i, a.grad, b.grad)
    for i, (a, b) in enumerate(zip(fb, gb)):  # affine outputs vs the sums' last '+'
        assert same_float(a.data, b.data), (seed, "node", i)
        assert same_float(a.grad, b.grad), (seed, "node", i, a.op, a.grad, b.grad)


@pytest.mark.parametrize("seed", range(15))
def test_backward_twice_doubles_the_leaves(seed):
    """A second backward() adds the same gradients again: a leaf with one use holds
    exactly twice the first pass's; every leaf equals the gate graph's after the
    same two passes, bit for bit, and is 2x the first pass up to rounding."""
    first = [v.grad for v in _two_graphs(seed)[0][1]]
    (fo, fl, _), (_, gl, _) = _two_graphs(seed, passes=2)
    uses = collections.Counter(id(p) for v in topological_order(fo) for p in v.parents)
    single = 0
    for g1, a, b in zip(first, fl, gl):
        assert same_float(a.grad, b.grad)
        assert math.isclose(a.grad, 2.0 * g1, rel_tol=1e-12, abs_tol=1e-300)
        if uses[id(a)] == 1:
            single += 1
            assert a.grad == 2.0 * g1
    assert single >= 3


def test_repeated_input_in_one_node_sums_last_pair_first(rng):
    """A Value used several times by one fused node gets its contributions added last
    pair first, x_i before w_i, the bias last (the reverse of ``parents``).  (The gate
    graph adds them bias first, pair 0 first, so there the last bit may differ: fused
    and gate gradients are equal bit for bit only when no input repeats within a node.)"""
    for _ in range(300):
        xv, yv, gv = rng.uniform(-3, 3), rng.uniform(-3, 3), rng.uniform(-2, 2)
        x, y = Value(xv), Value(yv)
        z = affine([x, x, x], [x, y, x], x)
        z.backward(gv)
        # pair 2: x (as x2) gets g*x, x (as w2) gets g*x; pair 1: y gets g*x, x gets g*y;
        # pair 0: g*x twice; the bias: g
        want = 0.0
        for t in (gv * xv, gv * xv, gv * yv, gv * xv, gv * xv, gv):
            want += t
        assert same_float(x.grad, want)
        assert same_float(y.grad, gv * xv)
        ref_x, ref_y = Value(xv), Value(yv)
        gate_sum([ref_x] * 3, [ref_x, ref_y, ref_x], ref_x).backward(gv)
        assert math.isclose(x.grad, ref_x.grad, rel_tol=1e-13, abs_tol=1e-13)


def _random_dag(rng, affine_fn):
    """Any DAG: affine nodes whose bias, weights and inputs are any earlier nodes, the
    same one repeated, numbers among the x_i; relu, tanh, * and + between."""
    leaves = [Value(rng.uniform(-1.2, 1.2), f"x{i}") for i in range(5)]
    nodes = list(leaves)
    for _ in range(rng.randint(5, 30)):
        k = rng.randrange(7)
        if k <= 2:
            n = rng.randint(1, 5)
            w = [rng.choice(nodes) for _ in range(n)]
            x = [rng.choice(nodes) if rng.random() < 0.8 else rng.uniform(-1, 1)
                 for _ in range(n)]
            v = affine_fn(w, x, rng.choice(nodes))
        elif k == 3:
            v = rng.choice(nodes).tanh()
        elif k == 4:
            v = rng.choice(nodes).relu()
        elif k == 5:
            v = rng.choice(nodes) * rng.choice(nodes)
        else:
            v = rng.choice(nodes) + rng.choice(nodes)
        nodes.append(v)
    out = affine_fn(rng.sample(nodes, 3), [rng.choice(nodes), 0.5, rng.choice(nodes)],
                    rng.choice(nodes))
    for v in rng.sample(nodes, min(6, len(nodes))):
        out = out + v * v
    return out, leaves


@pytest.mark.parametrize("seed", range(30))
def test_any_dag_same_forward_and_gradients_up_to_summation_order(seed):
    """With inputs repeated within a node and skip connections, the forward is still
    bit-identical; gradients agree with the gate graph's to rounding (the sums of a
    node's contributions may be added in another order)."""
    (fo, fl), (go, gl) = [_random_dag(random.Random(seed), fn) for fn in (affine, gate_sum)]
    assert same_float(fo.data, go.data)
    fo.backward()
    go.backward()
    for a, b in zip(fl, gl):
        assert math.isclose(a.grad, b.grad, rel_tol=1e-12, abs_tol=1e-12), (a.grad, b.grad)


# --- 3. PyTorch float64: value, gradient, Hessian --------------------------------------------

def composite(a, b, c):
    """tanh(w·x+b) * (w·x+b) with a repeated input: a is weight, input and bias."""
    z1 = affine([a, b], [c, a], b)            # b + a*c + b*a
    z2 = affine([c, a, b], [a, 2.0, c], a)   # a + c*a + a*2 + b*c
    return z1.tanh() * z2


def torch_composite(a, b, c):
    return torch.tanh(b + a * c + b * a) * (a + c * a + a * 2.0 + b * c)


def _close(x, y):
    return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("point", [(0.3, -0.7, 1.1), (-1.2, 0.4, 0.25), (0.9, 0.8, -1.6)])
def test_composite_matches_pytorch_to_second_order(point):
    """Value, first derivatives (float pass and create_graph pass) and the Hessian (via
    ``autodiff.hessian`` and by differentiating the create_graph gradients) of a
    composite of two fused nodes agree with PyTorch float64 to 1e-12."""
    ts = [torch.tensor(t, dtype=torch.float64, requires_grad=True) for t in point]
    t_out = torch_composite(*ts)
    t_first = torch.autograd.grad(t_out, ts, create_graph=True)
    t_hess = [[h.item() for h in torch.autograd.grad(g, ts, retain_graph=True)]
              for g in t_first]
    t_grad = [g.item() for g in t_first]

    leaves = [Value(t) for t in point]
    out = composite(*leaves)
    assert ops_of(out)["affine"] == 2
    assert _close(out.data, t_out.item())
    out.backward()
    for leaf, want in zip(leaves, t_grad):
        assert type(leaf.grad) is float and _close(leaf.grad, want)

    leaves = [Value(t) for t in point]
    out = composite(*leaves)
    out.backward(create_graph=True)
    firsts = [leaf.grad for leaf in leaves]
    for i, g in enumerate(firsts):
        assert isinstance(g, Value) and _close(g.data, t_grad[i])
        second = autodiff.gradients(g, leaves)
        for j in range(3):
            assert _close(second[j], t_hess[i][j]), (i, j, second[j], t_hess[i][j])

    hess = autodiff.hessian(composite)(*point)
    for i in range(3):
        for j in range(3):
            assert _close(hess[i][j], t_hess[i][j]), (i, j)
    assert autodiff.gradcheck(composite, list(point), order=2)


def test_create_graph_gradients_equal_the_float_pass_bit_for_bit(rng):
    """backward(create_graph=True) sends the same products in the same order as the
    float pass, so the gradient Values hold the float pass's numbers exactly."""
    for seed in range(20):
        fo, fl = _random_dag(random.Random(seed), affine)
        fo.backward()
        floats = [v.grad for v in fl]
        go, gl = _random_dag(random.Random(seed), affine)
        go.backward(create_graph=True)
        for f, v in zip(floats, gl):
            g = v.grad.data if isinstance(v.grad, Value) else v.grad
            assert same_float(f, g) or (f == 0.0 and g == 0.0), (seed, f, g)


# --- 4. the step explainer ---------------------------------------------------------------

@pytest.mark.parametrize("seed", range(25))
def test_backward_steps_equal_grad_bit_for_bit(seed):
    """On random graphs with fused nodes (inputs repeated within a node, numbers among
    the x_i), each gate step's upstream and each input's final running total is the
    node's ``.grad`` bit for bit."""
    out, _ = _random_dag(random.Random(500 + seed), affine)
    assert ops_of(out)["affine"] >= 1
    steps = backward_steps(out)
    for v in topological_order(out):
        v.grad = 0.0
    out.backward()
    for s in steps:  # complete when its step comes
        assert same_float(s.upstream, s.node.grad) or (s.upstream == 0.0 == s.node.grad)
    g = gradients_of(out)  # every node's, leaves included: the steps' running totals
    assert set(g) == {id(v) for v in topological_order(out)}
    for v in topological_order(out):
        assert same_float(g[id(v)], v.grad) or (g[id(v)] == 0.0 == v.grad), v
    for s in steps:
        if s.node.op == "affine":
            assert len(s.products) == len(s.node.parents)
            assert s.products == tuple(s.upstream * d for d in s.local)


def test_backward_steps_repeated_input_shows_every_use():
    """affine([x, x, x], [x, y, x], x): the one step sends x six shares, whose running
    sum (in the engine's order) ends at x.grad exactly."""
    x, y = Value(0.1, "x"), Value(0.7, "y")
    z = affine([x, x, x], [x, y, x], x)
    (step,) = backward_steps(z)
    z.backward()
    xs = [i for i, q in enumerate(step.inputs) if q is x]
    assert len(xs) == 6
    # the engine adds last term first: x2's share (w2 = 0.1), w2's (x2 = 0.1), ...
    last = min(xs, key=lambda i: step.sums[i].count("+") if step.sums[i] else 0)
    assert step.totals[0] == x.grad  # the bias's share comes last
    assert step.sums[0] == "dL/dx = 1.10 + 1.00 = 2.10"  # its sum so far + the last share
    assert step.sums[last] == ""  # the first share to arrive has no sum yet


def test_forward_and_backward_step_text_of_one_fused_node():
    """One small fused node, its numbers by hand: 0.5 + 2*(-1) + (-3)*2 = -7.5."""
    b, w0, x0, w1 = Value(0.5, "b"), Value(2.0, "w0"), Value(-1.0, "x0"), Value(-3.0, "w1")
    z = affine([w0, w1], [x0, 2.0], b)
    z.label = "z"
    rules = [s.rule for s in forward_steps(z)]
    assert rules == ["z = 0.50 + 2.00*(-1.00) + (-3.00)*2.00 = -7.50"]
    step = backward_steps(z)[0]
    assert step.lines == (
        "d(w·x+b)/db = 1;  1.00 x 1.00 = 1.00",
        "d(w·x+b)/dw0 = x0 = -1.00;  1.00 x -1.00 = -1.00",
        "d(w·x+b)/dx0 = w0 = 2.00;  1.00 x 2.00 = 2.00",
        "d(w·x+b)/dw1 = x1 = 2.00;  1.00 x 2.00 = 2.00")
    assert step.inputs == (b, w0, x0, w1)


def test_chain_rule_through_a_fused_node():
    """x is the bias, w0, x0, w1, w2 and x2 of one node: six paths from tanh(z) to x,
    whose products sum to x.grad; y, used once, has one path."""
    x, y = Value(0.4, "x"), Value(-0.9, "y")
    out = affine([x, x, x], [x, y, x], x).tanh()
    out.backward()
    cr = chain_rule(out, x)
    assert cr.n_paths == 6 and len(cr.paths) == 6
    assert cr.total == x.grad
    assert math.isclose(sum(math.prod(h[2] for h in p) for p in cr.paths), x.grad,
                        rel_tol=1e-12)
    assert all(len(p) == 2 and p[1][0].gate == "w·x+b" for p in cr.paths)
    d_tanh = 1.0 - out.data ** 2
    assert sorted(p[1][2] for p in cr.paths) == sorted([1.0, 0.4, 0.4, -0.9, 0.4, 0.4])
    assert all(p[0][2] == d_tanh for p in cr.paths)
    assert "L <- [tanh] <- [w·x+b] <- x:" in cr.text
    cy = chain_rule(out, y)
    assert cy.n_paths == 1 and cy.total == y.grad == d_tanh * 0.4


# --- 5. fallbacks ------------------------------------------------------------------------------

def test_no_grad_gives_a_leaf_with_the_same_data(rng):
    """Under no_grad nothing is recorded: the result is a leaf holding the fused float."""
    for _ in range(50):
        n = rng.randint(1, 6)
        w = [Value(rng.uniform(-2, 2)) for _ in range(n)]
        x = [Value(rng.uniform(-2, 2)) if rng.random() < 0.5 else rng.uniform(-2, 2)
             for _ in range(n)]
        b = Value(rng.uniform(-2, 2))
        want = affine(w, x, b).data
        with no_grad():
            z = affine(w, x, b)
        assert z.is_leaf and z.op is None and z.parents == ()
        assert same_float(z.data, want)


def test_detect_anomaly_records_gates_and_names_the_op():
    """Under detect_anomaly affine records the gate graph (each gate checked), with the
    fused node's value; a NaN made by a product raises naming that 'mul'."""
    w, x, b = [Value(0.5), Value(-1.5)], [Value(2.0), Value(3.0)], Value(0.25)
    with detect_anomaly():
        z = affine(w, x, b)
    assert ops_of(z) == {None: 5, "mul": 2, "add": 2}
    assert same_float(z.data, affine(w, x, b).data)
    with detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"forward of mul \(\*\) produced nan"):
            affine([Value(math.inf)], [Value(0.0)], Value(1.0))
        with pytest.raises(FloatingPointError, match=r"forward of add \(\+\) produced inf"):
            affine([Value(1e308)], [Value(1.5)], Value(1e308))
    # outside, the same NaN is recorded silently in one fused node
    assert math.isnan(affine([Value(math.inf)], [Value(0.0)], Value(1.0)).data)


def _overflowing_node():
    """A fused node built with a huge weight: finite forward, but d/dx = 1e10 * 1e300."""
    w, x = Value(1e300, "w"), Value(1e-300, "x")
    z = affine([Value(1.0, "w0"), w], [Value(2.0, "x0"), x], Value(0.0, "b"))
    assert z.op == "affine" and z.data == 3.0
    return z * 1e10, x


def test_anomaly_in_backward_of_a_prebuilt_fused_node():
    """A fused node built outside detect_anomaly, backpropagated inside it: the inf
    gradient for x raises a FloatingPointError naming the affine op and x; the graph's
    pending counts are cleared, so a later pass runs (and yields the inf)."""
    out, x = _overflowing_node()
    with detect_anomaly(), pytest.raises(
        FloatingPointError,
        match=r"backward of affine \(w·x\+b\) produced gradient inf "
        r"for input 1e-300 \(node 'x'\)",
    ):
        out.backward()
    assert all(v._n == 0 for v in topological_order(out))
    x.grad = 0.0
    out.backward()
    assert x.grad == math.inf


def test_anomaly_in_create_graph_backward_names_the_right_input():
    """With create_graph=True the error names the affine op, the input that overflowed
    (x, parent 4 of (b, w0, x0, w1, x1)) and its local derivative w1."""
    out, _ = _overflowing_node()
    with detect_anomaly(), pytest.raises(FloatingPointError) as err:
        out.backward(create_graph=True)
    msg = str(err.value)
    assert "backward of affine (w·x+b)" in msg
    assert "for input 4 1e-300 (node 'x')" in msg and "local derivative w1;" in msg


def test_weights_that_are_not_values_fall_back_to_gates(rng):
    """Float weights (or a float bias) record the gate sum, with its value; also when
    an int or numpy input comes before the first float weight."""
    x0, x1 = Value(1.5), Value(-2.0)
    z = affine([0.5, -2.0], [x0, x1], Value(0.25))
    assert z.op != "affine" and "affine" not in ops_of(z)
    assert z.data == 0.25 + 0.5 * 1.5 + -2.0 * -2.0 == 5.0
    z = affine([Value(0.5)], [x0], 0.25)
    assert "affine" not in ops_of(z) and z.data == 1.0
    for x in ([3, 4.0], [np.int64(3), x1], [np.float64(3.0), 4]):
        w = [Value(1.5), 2.0]
        z = affine(w, x, Value(0.5))
        assert "affine" not in ops_of(z)
        assert same_float(z.data, gate_sum(w, x, Value(0.5)).data)


def test_tracing_a_tape_replays_the_fused_node_with_the_same_numbers():
    """A compiled tape traces affine as one dot product and replays the fused node's
    floats."""
    w, b = [Value(0.7), Value(-1.3)], Value(0.2)

    def fn(a, c):
        return affine(w, [a, c], b).tanh()
    tape = autodiff.compile(fn, 0.5, 0.5)
    xs, ys = np.array([0.1, -0.4, 2.0]), np.array([1.5, 0.25, -0.5])
    got = tape(xs, ys)
    for g, a, c in zip(got, xs, ys):
        assert math.isclose(g, fn(Value(float(a)), Value(float(c))).data,
                            rel_tol=1e-15, abs_tol=1e-15)


# --- 6. errors -------------------------------------------------------------------------

@pytest.mark.parametrize("recording", [True, False], ids=["fused", "no_grad"])
def test_mismatched_lengths_name_both_counts(recording):
    """Two weights for three inputs: a ValueError saying so, recorded or not."""
    w, x = [Value(1.0), Value(2.0)], [Value(1.0), 2.0, 3.0]
    with (pytest.raises(ValueError, match="2 weights but 3 inputs")):
        if recording:
            affine(w, x, Value(0.0))
        else:
            with no_grad():
                affine(w, x, Value(0.0))
    with pytest.raises(ValueError, match="3 weights but 1 inputs"):
        affine([Value(1.0)] * 3, [Value(1.0)], Value(0.0))


@pytest.mark.parametrize("recording", [True, False], ids=["fused", "no_grad"])
@pytest.mark.parametrize("bad,typename", [("abc", "str"), (None, "NoneType")])
def test_a_non_number_input_is_a_type_error_naming_its_type(bad, typename, recording):
    """A str or None among the x_i: TypeError naming the type, and no node made."""
    w = [Value(1.0), Value(2.0), Value(3.0)]
    x = [Value(1.0), bad, 2]
    with pytest.raises(TypeError, match=typename):
        if recording:
            affine(w, x, Value(0.0))
        else:
            with no_grad():
                affine(w, x, Value(0.0))


# --- 7. a fused MLP ----------------------------------------------------------------------

def test_fused_mlp_graph_and_diagram():
    """MLP(2, [16, 16, 1]): one affine node per neuron (33), a relu per hidden neuron
    (32), nothing else but leaves; the diagram draws the 'w·x+b' gate for each."""
    from visualize.diagram import draw
    model = MLP(2, [16, 16, 1], seed=0)
    xs = [Value(0.3, "a"), Value(-0.7, "b")]
    out = model(xs)
    counts = ops_of(out)
    assert counts == {None: len(model.parameters()) + 2, "affine": 33, "relu": 32}
    assert len(model.parameters()) == 16 * 3 + 16 * 17 + 17
    nodes = topological_order(out)
    src = draw(out, max_nodes=len(nodes)).source
    assert "w·x+b" in src
    assert src.count("label=<w·x+b>") == 33
    # the unfused model records a '*' and a '+' per input instead, with the same output
    gates = MLP(2, [16, 16, 1], seed=0, fused=False)(xs)
    assert gates.data == out.data and "affine" not in ops_of(gates)


def test_a_deep_chain_of_fused_nodes_needs_no_recursion():
    """200,000 fused nodes, each feeding the next as its input: forward, backward and
    freeing it work (both passes are loops); the gradient is the product of weights."""
    w = Value(1.0 + 1e-6, label="w")
    b = Value(0.0, label="b")
    v = x = Value(0.5, label="x")
    n = 200_000
    for _ in range(n):
        v = autodiff.affine([w], [v], b)
    assert v.op == "affine" and v.parents == (b, w, v.parents[2])
    v.backward()
    assert math.isclose(x.grad, w.data ** n, rel_tol=1e-9)
    assert math.isclose(v.data, 0.5 * w.data ** n, rel_tol=1e-9)
    assert b.grad > n  # sum of w^k over the chain
    del v  # freed by reference counting, level by level, without a crash


@pytest.mark.parametrize("recording", [True, False], ids=["fused", "no_grad"])
def test_iterators_work_like_lists(recording):
    """w and x may be any iterables (each is read once into a tuple), also on the
    fallback paths: a float weight, or no_grad."""
    w, x, b = [Value(0.5), Value(-2.0)], [Value(1.5), 3], Value(0.25)
    want = 0.25 + 0.5 * 1.5 + -2.0 * 3.0
    ctx = autodiff.enable_grad() if recording else autodiff.no_grad()
    with ctx:
        assert affine(iter(w), iter(x), b).data == want
        assert affine(iter([0.5, w[1]]), (v for v in x), b).data == want


def test_a_fused_node_made_before_tracing_is_replayed_by_the_tape():
    """A compiled function may use a fused node built outside it (captured, like a
    parameter): the tape replays it as gates, with the eager engine's numbers."""
    w, x, b = Value(0.5), Value(2.0), Value(0.1)
    z = affine([w, x], [x, 3.0], b)
    y = z * 3
    assert z.op == "affine"
    tape = autodiff.compile(lambda a: a * y + z, 0.5)
    batch = [1.0, 2.0, -0.5]
    got = tape(batch)
    tape.backward()
    tape_grads = [w.grad, x.grad, b.grad]
    want = []
    for p in (w, x, b):
        p.grad = 0.0
    for a in batch:
        out = Value(a) * y + z
        want.append(out.data)
        out.backward()
    np.testing.assert_allclose(got, want, rtol=1e-15)
    np.testing.assert_allclose(tape_grads, [p.grad / len(batch) for p in (w, x, b)],
                               rtol=1e-14)
