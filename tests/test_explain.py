"""The step explainer: its numbers are backward()'s, bit for bit, and its text reads right."""
import math
import random

import pytest

from autodiff import Value, backward_steps, chain_rule, forward_steps, topological_order
from autodiff.examples import sigmoid_circuit
from autodiff.explain import Step, factors_text, fmt, gradients_of


def test_sigmoid_backward_steps_equal_backward_bit_for_bit():
    f, inputs = sigmoid_circuit()
    steps = backward_steps(f)
    g = gradients_of(f)
    f.backward()
    for s in steps:
        assert s.upstream == s.node.grad  # complete when the gate's step comes
    for v in topological_order(f):
        assert g[id(v)] == v.grad, v  # exact equality, not isclose
    assert [round(v.grad, 2) for v in inputs] == [-0.20, 0.39, -0.39, -0.59, 0.20]


def test_sigmoid_circuit_steps_gate_by_gate():
    """Eight gates: eight forward steps and eight backward steps, no step for an input."""
    f, inputs = sigmoid_circuit()
    fw, bw = forward_steps(f), backward_steps(f)
    assert [s.gate for s in fw] == ["*", "*", "+", "+", "*-1", "exp", "+1", "1/x"]
    assert [s.gate for s in bw] == ["1/x", "+1", "exp", "*-1", "+", "+", "*", "*"]
    assert not any(s.node.is_leaf for s in fw + bw)
    # the '+' gate's first input is visited first, as the engine does: the w0*x0 gate
    # comes before the w1*x1 gate, and each share arrives on its input's wire
    assert [s.receivers for s in bw[-2:]] == [("w0", "x0"), ("w1", "x1")]
    g = gradients_of(f)
    assert bw[-1].totals == (g[id(inputs[2])], g[id(inputs[3])])


def test_sigmoid_forward_steps_show_the_slides_values():
    f, _ = sigmoid_circuit()
    rules = [s.rule for s in forward_steps(f)]
    # Derived by hand: 2*-1=-2, -3*-2=6, -2+6=4, 4-3=1, -1, e^-1=0.37, 1.37, 1/1.37=0.73.
    assert "n2 = 2.00 * (-1.00) = -2.00" in rules
    assert "n5 = -3.00 * (-2.00) = 6.00" in rules
    assert "n6 = -2.00 + 6.00 = 4.00" in rules
    assert "n8 = 4.00 + (-3.00) = 1.00" in rules
    assert "n9 = 1.00 * -1 = -1.00" in rules
    assert "n10 = exp(-1.00) = 0.37" in rules
    assert "n11 = 0.37 + 1 = 1.37" in rules
    assert rules[-1] == "f = 1/1.37 = 0.73"
    assert all(s.kind == "forward" for s in forward_steps(f))


def test_sigmoid_backward_rule_lines():
    f, _ = sigmoid_circuit()
    steps = backward_steps(f)
    # d(1/x)/dx at x = 1.37 is -1/1.37^2 = -0.53; upstream at the output is 1.
    assert steps[0].rule == "d(1/x)/dx = -1/x^2 = -0.53;  1.00 x -0.53 = -0.53"
    assert steps[0].node is f and steps[0].upstream == 1.0
    exp_step = next(s for s in steps if s.gate == "exp")
    # e^-1 = 0.37 and -0.53 * 0.37 = -0.20 (the slides' -0.20 on the exp input)
    assert exp_step.rule == "d(exp(x))/dx = e^x = 0.37;  -0.53 x 0.37 = -0.20"
    neg = next(s for s in steps if s.gate == "*-1")
    assert neg.rule == "d(x * -1)/dx = -1;  -0.20 x -1.00 = 0.20"
    # the first '*' gate: 0.20 x 2.00 would be 0.40, so the factor shows more digits
    mul = next(s for s in steps if s.receivers == ("w0", "x0"))
    assert mul.text_lines() == [
        "d(x * y)/dx = y = -1.00;  0.20 x -1.00 = -0.20  -> w0",
        "d(x * y)/dy = x = 2.00;  0.1966 x 2.00 = 0.39  -> x0"]


def test_factors_show_enough_digits_for_the_product():
    assert factors_text([0.19661193324148185, 2.0], 0.3932238664829637, 2) == ["0.1966", "2.00"]
    assert factors_text([-0.53, 0.37], -0.53 * 0.37, 2) == ["-0.53", "0.37"]
    rng = random.Random(3)
    for _ in range(2000):
        a, b = rng.uniform(-5, 5), rng.uniform(-5, 5)
        p = rng.choice([0, 1, 2, 3])
        shown = factors_text([a, b], a * b, p)
        assert fmt(float(shown[0]) * float(shown[1]), p) == fmt(a * b, p), (a, b, p, shown)


def test_step_fields_and_repr():
    x, y = Value(2.0, "x"), Value(3.0, "y")
    z = x * y
    s = backward_steps(z)[0]
    assert isinstance(s, Step)
    assert s.inputs == (x, y)
    assert s.local == (3.0, 2.0) and s.products == (3.0, 2.0)
    assert s.local_rules == ("y", "x")
    assert s.receivers == ("x", "y") and s.totals == (3.0, 2.0) and s.sums == ("", "")
    assert "d(x * y)/dx = y = 3.00" in str(s)
    assert repr(s).startswith("Step(backward #0 L [*]:")  # the unlabelled output is L


def test_node_used_twice_shows_the_sum():
    x = Value(0.5, "x")
    a = x.tanh()   # sends 1 - tanh(0.5)^2 to x
    b = x * -1     # sends -1 to x
    out = a + b
    steps = backward_steps(out)
    to_x = [s for s in steps if x in s.inputs]
    assert len(to_x) == 2  # the first share, then the sum when the second arrives
    d_tanh = 1 - math.tanh(0.5) ** 2  # 0.79
    assert to_x[0].sums == ("",)
    assert to_x[0].totals[0] in (d_tanh, -1.0)
    assert to_x[1].sums[0] in ("dL/dx = 0.79 + (-1.00) = -0.21",
                               "dL/dx = (-1.00) + 0.79 = -0.21")
    assert to_x[1].totals[0] == d_tanh + -1.0


def test_square_sends_two_contributions():
    x = Value(3.0, "x")
    steps = backward_steps(x * x)
    assert len(steps) == 1 and len(steps[0].products) == 2
    # the engine sends to the second input first: the first line's share completes x's sum
    assert steps[0].sums == ("dL/dx = 3.00 + 3.00 = 6.00", "")
    assert steps[0].text_lines()[0].endswith("-> x;  dL/dx = 3.00 + 3.00 = 6.00")


def _random_graph(rng):
    leaves = [Value(rng.uniform(-1.5, 1.5), f"x{i}") for i in range(4)]
    nodes = list(leaves)
    for _ in range(rng.randint(5, 40)):
        a, b = rng.choice(nodes), rng.choice(nodes)
        k = rng.randrange(11)
        if k == 9:  # zero local derivatives: backward skips zero contributions
            v = a.relu()
        elif k == 10:
            v = a - 1
        elif k == 0:
            v = a + b
        elif k == 1:
            v = a * b
        elif k == 2:
            v = a - b
        elif k == 3:
            v = a.tanh()
        elif k == 4:
            v = a.sigmoid()
        elif k == 5:
            v = a * rng.uniform(-2, 2)
        elif k == 6:
            v = 1 + a
        elif k == 7:
            v = a.sin()
        else:
            v = 1 / (1 + a * a)
        nodes.append(v)
    # many uses: sum several nodes so fan-out of 3+ (order-sensitive sums) is common
    out = nodes[-1]
    for v in rng.sample(nodes, min(6, len(nodes))):
        out = out + v * v
    return out


@pytest.mark.parametrize("seed", range(25))
def test_random_graphs_bit_for_bit(seed):
    out = _random_graph(random.Random(seed))
    steps = backward_steps(out)
    g = gradients_of(out)
    for v in topological_order(out):
        v.grad = 0.0
    out.backward()
    assert set(g) == {id(v) for v in topological_order(out)}
    for v in topological_order(out):
        assert g[id(v)] == v.grad
    # replaying the shares step by step (each gate sends to its last input first, as
    # the engine does) gives each gate its upstream, bit for bit
    acc = {id(out): 1.0}
    for s in steps:
        assert acc[id(s.node)] == s.upstream == s.node.grad
        for q, share, total in reversed(list(zip(s.inputs, s.products, s.totals))):
            acc[id(q)] = acc.get(id(q), 0.0) + share
            assert acc[id(q)] == total


def test_chain_rule_expansion_sigmoid():
    f, (_w0, x0, *_rest) = sigmoid_circuit()
    cr = chain_rule(f, x0)
    assert cr.n_paths == 1 and len(cr.paths[0]) == 7
    assert cr.text.splitlines()[1] == (
        "  f <- [1/x] <- [+1] <- [exp] <- [*-1] <- [+] <- [+] <- [*] <- x0:  "
        "1.00 x -0.53 x 1.00 x 0.37 x -1.00 x 1.00 x 1.00 x 2.00 = 0.39")
    f.backward()
    assert cr.total == x0.grad


@pytest.mark.parametrize("seed", range(10))
def test_chain_rule_paths_sum_to_gradient(seed):
    out = _random_graph(random.Random(100 + seed))
    out.backward()
    for v in topological_order(out)[:6]:
        cr = chain_rule(out, v, max_paths=10_000)
        total = sum(math.prod(h[2] for h in p) for p in cr.paths)
        assert len(cr.paths) == cr.n_paths
        assert math.isclose(total, v.grad, rel_tol=1e-9, abs_tol=1e-12)


def test_chain_rule_sum_and_truncation():
    x = Value(2.0, "x")
    y = (x * 3).exp() + x
    text = chain_rule(y, x, precision=1).text
    assert text.endswith("= 1210.3 + 1.0 = 1211.3")
    many = x
    for _ in range(12):
        many = many * many  # 2**12 paths from the output down to x
    cr = chain_rule(many, x, max_paths=5)
    assert cr.n_paths == 4096 and len(cr.paths) == 5
    assert "... and 4091 more paths" in cr.text


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match="expected a Value, got float"):
        backward_steps(1.0)
    with pytest.raises(TypeError, match="forward_steps"):
        forward_steps("x")
    a, b = Value(1.0), Value(2.0, "b")
    with pytest.raises(ValueError, match="not in the graph"):
        chain_rule(a * 2, b)
