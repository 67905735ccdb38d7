"""Bad input gets a clear error: each one names the op, the input value and the node's
label, is never a bare ``math domain error``, and does not drag a traceback from deep
inside the engine along with it."""
import re

import numpy as np
import pytest

from autodiff import Value


def no_inner_traceback(err: BaseException) -> None:
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__


# (what, make the error, exception type, op name, input value as printed, label)
FORWARD_CASES = [
    ("log(0)", lambda: Value(0.0, label="p").log(), ValueError, "log", "0.0", "p"),
    ("log(-1)", lambda: Value(-1.0, label="p").log(), ValueError, "log", "-1.0", "p"),
    ("sqrt(-1)", lambda: Value(-1.0, label="v").sqrt(), ValueError, "sqrt", "-1.0", "v"),
    ("0 ** -1", lambda: Value(0.0, label="b") ** -1, ZeroDivisionError, "pow_const",
     "0.0", "b"),
    ("0 ** Value(-1)", lambda: Value(0.0, label="b") ** Value(-1.0, label="e"),
     ZeroDivisionError, "pow", "-1.0", "e"),
    ("0 ** x, x = -1", lambda: 0 ** Value(-1.0, label="e"), ZeroDivisionError,
     "rpow_const", "-1.0", "e"),
    ("x / 0", lambda: Value(1.0, label="num") / 0, ZeroDivisionError, "div_const",
     "1.0", "num"),
    ("x / Value(0)", lambda: Value(1.0, label="num") / Value(0.0, label="den"),
     ZeroDivisionError, "div", "0.0", "den"),
    ("1 / Value(0)", lambda: 1 / Value(0.0, label="den"), ZeroDivisionError,
     "rdiv_const", "0.0", "den"),
    ("(-8) ** 0.5", lambda: Value(-8.0, label="neg") ** 0.5, ValueError, "pow_const",
     "-8.0", "neg"),
    ("(-8) ** Value(0.5)", lambda: Value(-8.0, label="neg") ** Value(0.5),
     ValueError, "pow", "-8.0", "neg"),
    ("exp(1000)", lambda: Value(1000.0, label="big").exp(), OverflowError, "exp",
     "1000.0", "big"),
    ("2 ** 5000", lambda: 2 ** Value(5000.0, label="big"), OverflowError, "rpow_const",
     "5000.0", "big"),
    ("x ** 5000", lambda: Value(-2.0, label="x") ** 5000, OverflowError, "pow_const",
     "-2.0", "x"),
    ("sin(inf)", lambda: Value(float("inf"), label="s").sin(), ValueError, "sin", "inf",
     "s"),
]


@pytest.mark.parametrize("make, exc, op, shown, label",
                         [c[1:] for c in FORWARD_CASES], ids=[c[0] for c in FORWARD_CASES])
def test_forward_errors_name_op_input_and_label(make, exc, op, shown, label):
    with pytest.raises(exc) as info:
        make()
    msg = str(info.value)
    assert re.match(rf"{op} \(", msg), msg
    assert shown in msg and f"'{label}'" in msg, msg
    assert "math domain error" not in msg and "math range error" not in msg
    assert "Numerical result out of range" not in msg
    no_inner_traceback(info.value)


def test_forward_error_on_an_unlabelled_node_says_so():
    with pytest.raises(ValueError, match="unlabelled"):
        (Value(1.0) - 2).log()


@pytest.mark.parametrize("seed, name", [("x", "str"), (None, "NoneType"), ([1], "list"),
                                        ({"g": 1}, "dict")])
def test_backward_seed_must_be_a_number(seed, name):
    y = Value(2.0) * 3
    with pytest.raises(TypeError, match=rf"backward\(grad\).*{name}") as info:
        y.backward(grad=seed)
    no_inner_traceback(info.value)
    y.backward(grad=np.float64(2.0))  # numbers of any kind are fine
    assert y.grad == 2.0


@pytest.mark.parametrize("create_graph", [False, True])
def test_backward_failure_names_the_op(create_graph):
    x = Value(0.0, label="r")
    y = x.sqrt()  # fine forward; its derivative 1/(2*sqrt(x)) divides by zero
    with pytest.raises(ZeroDivisionError) as info:
        y.backward(create_graph=create_graph)
    msg = str(info.value)
    assert msg.startswith("backward of sqrt (sqrt)"), msg
    assert "1/(2*sqrt(x))" in msg and "0.0 (node 'r')" in msg, msg
    no_inner_traceback(info.value)
    # a failed pass leaves its graph usable: no stale bookkeeping on shared nodes
    z = Value(4.0, label="z")
    t = z.sqrt() * 3
    w = t + y * 0
    with pytest.raises(ZeroDivisionError):
        w.backward(create_graph=create_graph)
    z.grad = 0.0
    (t * 2).backward()
    assert z.grad == 1.5


def test_backward_failure_of_pow_at_zero():
    x = Value(0.0, label="base")
    y = x ** 0.5
    with pytest.raises(ZeroDivisionError, match=r"backward of pow_const \(\*\*0\.5\).*'base'"):
        y.backward()


def test_integer_too_large_for_a_float():
    with pytest.raises(OverflowError, match=r"Value\(data\): the integer 1000.* too large"):
        Value(10 ** 400)
    with pytest.raises(OverflowError, match="Value operand: the integer"):
        Value(1.0) + 10 ** 400
