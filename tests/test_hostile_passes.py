"""Passes over a graph interrupted anywhere (Ctrl-C arriving at any line) leave the graph
as it was: the next ``backward()``, ``walk()`` or explainer run gives exactly what an
untouched graph gives, and the recording switches are as they were.

Each test runs a pass under ``sys.settrace`` with a tracer that raises
``KeyboardInterrupt`` at the N-th traced line, for every N until the pass completes.
"""
import math
import sys

import pytest

from autodiff import Value, affine, backward_steps, gradients, topological_order
from autodiff.backward import schedule
from autodiff.explain import gradients_of
from autodiff.value import STATE


def build():
    """A small graph with shared nodes, every kind of op, and a fused neuron."""
    x, y, w = Value(0.7, "x"), Value(-1.3, "y"), Value(0.4, "w")
    a = x * y + x.exp()
    b = (a / (y * y + 1.0)).tanh() - 2.0 ** x
    z = affine([w, a], [x, b], y).relu() + b.sigmoid() * a + abs(y) ** 1.5
    return z, [x, y, w]


class Interrupt:
    """A tracer raising KeyboardInterrupt at the n-th line executed (Python frames)."""

    def __init__(self, n):
        self.left = n
        self.fired = False

    def __call__(self, frame, event, arg):
        return self.local

    def local(self, frame, event, arg):
        if event == "line":
            self.left -= 1
            if self.left == 0:
                self.fired = True
                raise KeyboardInterrupt
        return self.local


def run_interrupted(fn, n):
    """Run fn() with an interrupt at line n; True if the interrupt came."""
    tracer = Interrupt(n)
    sys.settrace(tracer)
    try:
        fn()
    except KeyboardInterrupt:
        assert tracer.fired
    finally:
        sys.settrace(None)
    return tracer.fired


def bits(vals):
    return [(v.hex() if isinstance(v, float) else v) for v in vals]


def reference():
    z, leaves = build()
    order = topological_order(z)
    z.backward()
    grads = [leaf.grad for leaf in leaves]
    gz, gl = build()
    gz.backward(create_graph=True)
    second = gradients(gl[0].grad, gl)
    return len(order), grads, second


REF_N, REF_GRADS, REF_SECOND = reference()


def check_graph_whole(z, leaves):
    nodes = topological_order(z)  # first: would miss nodes if counts were left behind
    assert len(nodes) == REF_N
    assert all(v._n == 0 for v in nodes)
    assert STATE.grad_enabled and not STATE.anomaly and STATE.plain
    for leaf in leaves:
        leaf.grad = 0.0
    z.backward()
    assert bits(leaf.grad for leaf in leaves) == bits(REF_GRADS)
    assert len(list(z.walk())) == REF_N
    explained = gradients_of(z)
    assert bits(explained[id(leaf)] for leaf in leaves) == bits(REF_GRADS)


PASSES = {
    "backward": lambda z, leaves: z.backward(),
    "backward(create_graph=True)": lambda z, leaves: z.backward(create_graph=True),
    "topological_order": lambda z, leaves: topological_order(z),
    "walk": lambda z, leaves: list(z.walk()),
    "zero_grad": lambda z, leaves: z.zero_grad(),
    "schedule(leaves=False)": lambda z, leaves: schedule(z, leaves=False),
    "backward_steps": lambda z, leaves: backward_steps(z),
    "gradients": lambda z, leaves: gradients(z, leaves),
}


def lines_run(fn):
    """How many lines fn() executes (the tracer counts without interrupting)."""
    tracer = Interrupt(-1)
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return -1 - tracer.left


def interrupt_points(total):
    """Every line of the first 150, then about 150 more spread over the rest."""
    return sorted(set(range(1, min(total, 150))) | set(range(150, total, max(1, total // 150))))


@pytest.mark.parametrize("name", PASSES)
def test_pass_interrupted_anywhere_leaves_the_graph_whole(name):
    run = PASSES[name]
    z, leaves = build()
    total = lines_run(lambda: run(z, leaves))
    assert total > 50, "the pass ran too few lines to test"
    for n in interrupt_points(total):
        assert run_interrupted(lambda: run(z, leaves), n)
        check_graph_whole(z, leaves)
    assert not run_interrupted(lambda: run(z, leaves), total + 1)


def test_second_order_after_interrupted_create_graph_pass():
    z, leaves = build()
    n = 1
    while True:
        for leaf in leaves:
            leaf.grad = 0.0
        if not run_interrupted(lambda: z.backward(create_graph=True), n):
            break
        n += 1 + n // 5  # sparser: each check builds a second-order graph
        for leaf in leaves:
            leaf.grad = 0.0
        z.backward(create_graph=True)
        assert bits(gradients(leaves[0].grad, leaves)) == bits(REF_SECOND)
        assert STATE.grad_enabled


def test_topological_order_refuses_a_non_value():
    with pytest.raises(TypeError, match=r"topological_order\(root\): expected a Value, got int"):
        topological_order(3)
    with pytest.raises(TypeError, match=r"schedule\(root\): expected a Value, got str"):
        schedule("x")
    with pytest.raises(TypeError, match=r"backward\(grad\)"):
        Value(1.0).exp().backward("a")


def test_nan_parameter_gives_a_nan_hinge_loss():
    """A NaN parameter makes the hinge loss NaN (not 0.0, which looks converged); the
    gradient is PyTorch's (relu passes the upstream gradient at NaN)."""
    w = Value(math.nan, "w")
    loss = (1 - w * 2.0).relu()
    loss.backward()
    assert math.isnan(loss.data)
    assert w.grad == -2.0
