"""The command line's expression parser: what it builds, and everything it refuses."""
import ast
import builtins
import math

import pytest

from autodiff import Value, gradcheck
from visualize.expr import MAX_DEPTH, MAX_LENGTH, ExprError, build, parse_assignments, variables

SIGMOID = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
LECTURE = dict(w0=2, x0=-1, w1=-3, x1=-2, w2=-3)


# --- what it builds ----------------------------------------------------------------------

def test_sigmoid_circuit_matches_the_lecture():
    f, leaves = build(SIGMOID, LECTURE)
    f.backward()
    assert list(leaves) == ["w0", "x0", "w1", "x1", "w2"]  # order of first use
    assert all(leaves[n].label == n and leaves[n].is_leaf for n in leaves)
    assert f.label == "f" and f.data == pytest.approx(1 / (1 + math.exp(-1.0)))
    s = f.data
    x = {n: float(v) for n, v in LECTURE.items()}
    # df/dw_i = s(1-s) * x_i, df/dx_i = s(1-s) * w_i, df/dw2 = s(1-s)
    assert leaves["w0"].grad == pytest.approx(s * (1 - s) * x["x0"])
    assert leaves["x0"].grad == pytest.approx(s * (1 - s) * x["w0"])
    assert leaves["x1"].grad == pytest.approx(s * (1 - s) * x["w1"])
    assert leaves["w2"].grad == pytest.approx(s * (1 - s))
    assert round(leaves["x1"].grad, 4) == -0.5898


def test_numbers_fold_into_one_gate_like_the_slides():
    f, _leaves = build("1/(1+exp(-x))", {"x": 0.5})
    gates = [v.gate for v in f.walk() if not v.is_leaf]
    assert gates == ["*-1", "exp", "+1", "1/x"]


def test_same_name_twice_is_one_leaf():
    f, leaves = build("x*x + x", {"x": 3})
    f.backward()
    assert f.data == 12.0 and leaves["x"].grad == 7.0


@pytest.mark.parametrize("expr, fn", [
    ("x*y + exp(x)/y - x**2", lambda x, y: x * y + math.exp(x) / y - x ** 2),
    ("sqrt(abs(x)) * tanh(y) + sin(x) - cos(y)",
     lambda x, y: math.sqrt(abs(x)) * math.tanh(y) + math.sin(x) - math.cos(y)),
    ("relu(x) + relu(y) + sigmoid(x*y) + log(y)",
     lambda x, y: max(x, 0) + max(y, 0) + 1 / (1 + math.exp(-x * y)) + math.log(y)),
    ("-x ** 2 + +y - -3 * (x - y) / 2", lambda x, y: -x ** 2 + y + 3 * (x - y) / 2),
    ("2 ** x + y ** x + x ** y", lambda x, y: 2 ** x + y ** x + x ** y),
    ("pi * x + e ** y + exp(0)", lambda x, y: math.pi * x + math.e ** y + 1.0),
])
def test_values_and_gradients_agree_with_python_math(expr, fn):
    x0, y0 = 0.7, 1.3
    f, leaves = build(expr, {"x": x0, "y": y0})
    assert f.data == pytest.approx(fn(x0, y0))
    f.backward()
    h = 1e-6
    assert leaves["x"].grad == pytest.approx((fn(x0 + h, y0) - fn(x0 - h, y0)) / (2 * h),
                                             rel=1e-5)
    assert leaves["y"].grad == pytest.approx((fn(x0, y0 + h) - fn(x0, y0 - h)) / (2 * h),
                                             rel=1e-5)
    assert gradcheck(lambda a, b: build(expr, {"x": a, "y": b})[0], [x0, y0])


def test_set_value_wins_over_a_constant_name():
    f, leaves = build("e * 2", {"e": 5})
    assert f.data == 10.0 and list(leaves) == ["e"]


def test_constant_expression_and_bare_variable():
    f, leaves = build("2*3 + 1", {})
    assert isinstance(f, Value) and f.data == 7.0 and leaves == {}
    f, leaves = build("  w", {"w": 4})
    assert f is leaves["w"] and f.label == "w"


def test_variables_lists_names_not_functions():
    assert variables("w*x + b + exp(w) - pi") == {"w", "x", "b", "pi"}


# --- what it refuses: message and 1-based column ----------------------------------------

@pytest.mark.parametrize("expr, message, col", [
    ("__import__('os')", "unknown function '__import__'", 1),
    ("x + __import__('os').system('ls')", "only calls of a plain function name", 5),
    ("x.real", "attribute access is not allowed", 1),
    ("2 * x.__class__", "attribute access is not allowed", 5),
    ("x[0]", "subscript is not allowed", 1),
    ("1 + (lambda: 1)", "lambda is not allowed", 6),
    ("(lambda: 0)()", "only calls of a plain function name are allowed, not lambda", 1),
    ("x + 'abc'", "string 'abc' is not allowed", 5),
    ("b'x'", "bytes b'x' is not allowed", 1),
    ("True + x", "boolean True is not allowed", 1),
    ("None", "None is not allowed", 1),
    ("x * 1j", "complex number 1j is not allowed", 5),
    ("[i for i in x]", "comprehension is not allowed", 1),
    ("exp(x=1)", "keyword argument 'x=' is not allowed in exp(...)", 5),
    ("exp(**x)", "keyword argument '**' is not allowed", 5),
    ("exp(*x)", "starred argument is not allowed", 5),
    ("exp(x, x)", "exp() takes exactly one argument, got 2", 1),
    ("x < 1", "comparison is not allowed", 1),
    ("x and 1", "and/or is not allowed", 1),
    ("x if x else 1", "if/else expression is not allowed", 1),
    ("(y := 2)", "assignment (:=) is not allowed", 2),
    ("f'{x}'", "f-string is not allowed", 1),
    ("x // 2", "operator // is not allowed", 3),
    ("(x) % 2", "operator % is not allowed", 5),
    ("not x", "operator not is not allowed", 1),
    ("~x", "operator ~ is not allowed", 1),
    ("2**2**100", "exponent 1.268e+30 is too large", 4),
    ("x ** 2000", "exponent 2000 is too large", 6),
    ("10**400", "constant result is too large", 3),
    ("1e400 * x", "number is too large", 1),
    ("9" * 400, "number is too large", 1),
    ("exp(1000)", "constant result of exp(1000) is too large", 1),
    ("log(0)", "log(0) is undefined; defined for x > 0", 1),
    ("x + 1/(1-1)", "division by zero", 6),
    ("(-8)**0.5", "no real value", 5),
    ("q + 1", "name 'q' has no value; give it one with --set q=...", 1),
    ("x + é", "name 'é' has no value", 5),
    ("exp + x", "'exp' is a function; call it as exp(...)", 1),
    ("foo(x)", "unknown function 'foo' (known: exp, log, sqrt, tanh, sigmoid, relu, abs", 1),
    ("x(2)", "unknown function 'x'", 1),
    ("x $ 1", "syntax error: invalid syntax", 3),
    ("1 +", "incomplete expression", 4),
    ("  x + ", "incomplete expression", 7),
    ("", "empty expression", 1),
    ("   ", "empty expression", 1),
    ("x\n+1", "must be on one line", 2),
    ("x" * (MAX_LENGTH + 1), f"too long ({MAX_LENGTH + 1} characters", MAX_LENGTH + 1),
    ("-" * 900 + "x", f"nested too deeply (more than {MAX_DEPTH} levels)", MAX_DEPTH + 1),
    ("exp(" * 150 + "x" + ")" * 150, "nested too deeply", 4 * MAX_DEPTH + 1),
    ("**".join(["x"] * 300), "nested too deeply", 3 * MAX_DEPTH - 2),
    ("x+(" * 150 + "x" + ")" * 150, "nested too deeply", 3 * MAX_DEPTH - 2),
    ("(" * 300 + "x" + ")" * 300, "too many nested parentheses", 201),
])
def test_refused(expr, message, col):
    with pytest.raises(ExprError) as info:
        build(expr, {"x": 2.0})
    err = info.value
    assert message in err.msg
    assert err.col == col
    assert str(err) == f"{err.msg} at column {col}"


@pytest.mark.parametrize("expr, message, col", [
    ("log(x)", "log (natural logarithm): outside the domain for input -2.0", 1),
    ("1 + sqrt(x)", "sqrt (square root): outside the domain", 5),
    ("x / (x + 2)", "division by zero", 3),
    ("x ** 0.5", "negative base with a fractional exponent", 3),
    ("exp(-x * 1000)", "too large for a float", 1),
])
def test_engine_errors_keep_their_message_and_gain_a_position(expr, message, col):
    with pytest.raises(ExprError) as info:
        build(expr, {"x": -2.0})
    assert message in info.value.msg and info.value.col == col


def test_no_code_runs(tmp_path, monkeypatch):
    """Nothing typed is executed: the file the expression would create never appears,
    and the only compile() is ast.parse's (AST only, never bytecode)."""
    target = tmp_path / "pwned"
    real_compile = builtins.compile
    calls = []

    def compile_ast_only(source, filename, mode, flags=0, *args, **kwargs):
        calls.append(flags)
        assert flags & ast.PyCF_ONLY_AST, "user text compiled to bytecode"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "compile", compile_ast_only)
    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    attacks = [
        f"open({str(target)!r}, 'w')",
        f"__import__('os').system('touch {target}')",
        f"x + (lambda: open({str(target)!r}, 'w'))()",
        f"exp(x) + [open({str(target)!r}, 'w') for _ in (1,)][0]",
        f"exp(x, open({str(target)!r}, 'w'))",
    ]
    for attack in attacks:
        with pytest.raises(ExprError):
            build(attack, {"x": 1.0})
    assert not target.exists()
    assert calls, "expected ast.parse to be used"


# --- --set name=value -----------------------------------------------------------------------

def test_parse_assignments():
    assert parse_assignments(["w0=2", " x0 = -1.5", "b=1e-3"]) == {
        "w0": 2.0, "x0": -1.5, "b": 0.001}


@pytest.mark.parametrize("items, message", [
    (["w0"], "'w0': expected name=value"),
    (["w0=abc"], "'abc' is not a number"),
    (["w0="], "'' is not a number"),
    (["w0=nan"], "must be finite"),
    (["w0=1", "w0=2"], "'w0' is set twice"),
    (["1x=2"], "'1x' is not a valid variable name"),
    (["a-b=2"], "'a-b' is not a valid variable name"),
    (["__class__=2"], "not a valid variable name"),
    (["exp=2"], "'exp' is a function name"),
    (["if=2"], "'if' is a Python keyword"),
    (["None=2"], "'None' is a Python keyword"),
    (["x=1e301"], "too large (at most 1e+300 in size)"),
])
def test_parse_assignments_errors(items, message):
    with pytest.raises(ValueError, match=None) as info:
        parse_assignments(items)
    assert message in str(info.value)


def test_assignment_names_are_normalized_like_python_names():
    # Python reads the name in the expression as NFKC ("ℌ" is "H"); --set must agree
    values = parse_assignments(["ℌ=2"])
    assert values == {"H": 2.0}
    f, leaves = build("ℌ*3", values)
    assert f.data == 6.0 and list(leaves) == ["H"]


# --- long flat chains -----------------------------------------------------------------------

@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_a_long_flat_chain_builds(op):
    terms = (MAX_LENGTH + 1) // 2  # x+x+...+x as long as MAX_LENGTH allows: 500 terms
    expr = op.join(["x"] * terms)
    assert len(expr) <= MAX_LENGTH
    f, leaves = build(expr, {"x": 1.5})
    f.backward()
    ref = 1.5
    for _ in range(terms - 1):
        ref = {"+": ref + 1.5, "-": ref - 1.5, "*": ref * 1.5, "/": ref / 1.5}[op]
    assert f.data == ref  # same float arithmetic, left to right
    assert sum(1 for v in f.walk() if not v.is_leaf) == terms - 1
    dx = {"+": terms, "-": 2 - terms}.get(op)
    if dx is not None:
        assert leaves["x"].grad == dx


def test_a_mixed_chain_keeps_precedence_and_order():
    f, leaves = build("a*b - c/d + a**2*3 - 1/a", {"a": 2, "b": 3, "c": 5, "d": 4})
    assert f.data == 2 * 3 - 5 / 4 + 2 ** 2 * 3 - 1 / 2
    assert list(leaves) == ["a", "b", "c", "d"]


def test_a_bad_operator_deep_in_a_chain_is_named_at_its_column():
    expr = "+".join(["x"] * 200) + "//x"
    with pytest.raises(ExprError) as info:
        build(expr, {"x": 1.0})
    assert "operator // is not allowed" in info.value.msg and info.value.col == 400
