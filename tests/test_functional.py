"""Function transforms: grad, value_and_grad, their nesting, hessian (against PyTorch),
gradients() leaving .grad alone, and gradcheck catching a wrong derivative."""
import dataclasses
import math

import pytest
import torch

from autodiff import (
    GradcheckError,
    Value,
    grad,
    gradcheck,
    gradients,
    hessian,
    no_grad,
    ops,
    value_and_grad,
)


def f3(x, y, z):
    # ops' polymorphic helpers, so arguments left out of argnums may stay floats
    return ops.tanh(x * y) + ops.exp(z * x) / (y * y + 1) + z ** 3 * ops.sin(x)


def f3_torch(x, y, z):
    return torch.tanh(x * y) + torch.exp(z * x) / (y * y + 1) + z ** 3 * torch.sin(x)


POINT = (0.3, -0.7, 0.5)


def torch_grad(f, point):
    ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
    return [g.item() for g in torch.autograd.grad(f(*ts), ts)]


def test_grad_takes_and_returns_floats():
    g = grad(lambda x: x ** 3)(2.0)
    assert type(g) is float and g == 12.0
    assert grad(lambda x: x.exp())(0) == 1.0  # an int is accepted


def test_value_and_grad_argnums():
    want = torch_grad(f3_torch, POINT)
    val, g = value_and_grad(f3)(*POINT)
    assert type(val) is float and type(g) is float
    assert math.isclose(g, want[0], rel_tol=1e-13)
    val2, gs = value_and_grad(f3, argnums=(0, 2))(*POINT)
    assert val2 == val and isinstance(gs, tuple) and len(gs) == 2
    assert math.isclose(gs[0], want[0], rel_tol=1e-13)
    assert math.isclose(gs[1], want[2], rel_tol=1e-13)
    assert math.isclose(grad(f3, argnums=-2)(*POINT), want[1], rel_tol=1e-13)
    with pytest.raises(IndexError, match="argnums 3"):
        grad(f3, argnums=3)(*POINT)


def test_grad_of_unused_argument_is_zero():
    assert grad(lambda x, y: x * 2, argnums=1)(1.0, 5.0) == 0.0
    assert grad(lambda x: 3.0)(1.0) == 0.0


def test_nested_grad_is_second_derivative():
    assert grad(grad(lambda x: x ** 3))(2.0) == 12.0
    assert grad(grad(grad(lambda x: x ** 3)))(2.0) == 6.0
    x = 0.4
    t = math.tanh(x)
    assert math.isclose(grad(grad(lambda v: v.tanh()))(x), -2 * t * (1 - t * t),
                        rel_tol=1e-14)


def test_nested_grad_sees_closed_over_values():
    # d/dx [ d/dy (x*y) ] = d/dx x = 1, though the inner grad is called with a float
    assert grad(lambda x: grad(lambda y: x * y)(1.0))(3.0) == 1.0
    # d/dx [ x * d/dy (x*y^2) at y=2 ] = d/dx [ 4 x^2 ] = 8x
    assert grad(lambda x: x * grad(lambda y: x * y * y)(2.0))(3.0) == 24.0


def test_grad_works_inside_no_grad():
    with no_grad():
        assert grad(lambda x: x * x)(3.0) == 6.0
        assert hessian(lambda x: x * x * x)(2.0) == [[12.0]]


def test_hessian_matches_torch():
    got = hessian(f3)(*POINT)
    want = torch.autograd.functional.hessian(
        lambda t: f3_torch(t[0], t[1], t[2]),
        torch.tensor(POINT, dtype=torch.float64)).tolist()
    assert len(got) == 3 and all(len(r) == 3 for r in got)
    for i in range(3):
        for j in range(3):
            assert type(got[i][j]) is float
            assert math.isclose(got[i][j], want[i][j], rel_tol=1e-12, abs_tol=1e-14), (i, j)


def test_hessian_of_linear_and_constant():
    assert hessian(lambda x, y: 2 * x + y)(1.0, 2.0) == [[0.0, 0.0], [0.0, 0.0]]
    assert hessian(lambda x: 5.0)(1.0) == [[0.0]]


def test_gradients_leave_grad_untouched():
    x, y = Value(2.0), Value(5.0)
    z = x * y
    z.backward()
    before = (x.grad, y.grad, z.grad)
    assert gradients(z * z, [x, y]) == [2 * 10.0 * 5.0, 2 * 10.0 * 2.0]
    assert gradients(z * z, [z]) == [20.0]  # an intermediate as input
    assert (x.grad, y.grad, z.grad) == before
    # an input the output does not reach gets 0.0, not the grad left on it
    other = Value(1.0)
    assert gradients(other * 3, [x, other]) == [0.0, 3.0]
    assert (x.grad, y.grad) == before[:2] and other.grad == 0.0


def test_gradients_create_graph_and_errors():
    x = Value(2.0)
    (g,) = gradients(x ** 3, [x], create_graph=True)
    assert isinstance(g, Value) and g.data == 12.0
    assert gradients(g, [x]) == [12.0]
    assert x.grad == 0.0
    with pytest.raises(TypeError, match="input 1 is a float"):
        gradients(x * 2, [x, 1.0])
    with pytest.raises(TypeError, match="str"):
        gradients(x * 2, [x], grad="one")


def test_gradcheck_passes_on_correct_ops():
    assert gradcheck(f3, POINT) is True
    assert gradcheck(f3, POINT, order=2) is True


def _plant(monkeypatch, op, derivs):
    """Make Value's method for ``op`` record nodes of a copy of the entry with ``derivs``."""
    from autodiff.value import _unary_method
    monkeypatch.setattr(Value, op.name, _unary_method(dataclasses.replace(op, derivs=derivs)))


def test_gradcheck_catches_a_wrong_first_derivative(monkeypatch):
    # exp's derivative claimed as 2 e^x
    _plant(monkeypatch, ops.EXP, (lambda x, y, out: 2.0 * out,))
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: a * (b.exp()), [0.5, 0.2])
    msg = str(info.value)
    assert "input 1" in msg
    right = 0.5 * math.exp(0.2)
    backward = float(msg.split("backward gives ")[1].split(",")[0])
    numeric = float(msg.split("finite differences give ")[1].split(" ")[0])
    assert backward == 2 * right
    assert math.isclose(numeric, right, rel_tol=1e-7)
    monkeypatch.undo()
    assert gradcheck(lambda a, b: a * (b.exp()), [0.5, 0.2])


def test_gradcheck_order_two_catches_a_detached_derivative(monkeypatch):
    # tanh's derivative right in value but computed off the graph: first order passes,
    # the second derivative comes out 0
    def detached(x, y, out):
        o = out.data if isinstance(out, Value) else out
        return 1.0 - o * o
    _plant(monkeypatch, ops.TANH, (detached,))
    f = lambda x: x.tanh()  # noqa: E731
    assert gradcheck(f, [0.4])
    with pytest.raises(GradcheckError, match=r"d2 f / d input 0 d input 0.*backward gives 0"):
        gradcheck(f, [0.4], order=2)
