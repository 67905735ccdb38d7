"""The compiled tape against the eager engine: every op of the table (inputs and
captured parameters, both buffers), a whole MLP, compiled training, tracing limits,
control-flow refusal, check mode, multiple outputs, and the errors."""
import sys
from pathlib import Path

import numpy as np
import pytest

import autodiff
from autodiff import TapeMismatchError, Value, compile, ops
from autodiff.value import STATE

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

RTOL = 1e-12
BATCH = 7


# --- how to draw a valid input for each op and how to record it ------------------------

def _any(r, n):
    return r.uniform(-2.0, 2.0, n)


def _pos(r, n):
    return r.uniform(0.2, 3.0, n)


def _off_zero(r, n):
    return r.choice([-1.0, 1.0], n) * r.uniform(0.3, 2.0, n)


# per op: samplers for (x, y) (for a folded op y is the constant, for unary unused)
DOMAIN = {
    "div": (_any, _off_zero), "pow": (_pos, _any), "rdiv_const": (_off_zero, _any),
    "div_const": (_any, _off_zero), "pow_const": (_pos, _any), "rpow_const": (_any, _pos),
    "log": (_pos, None), "sqrt": (_pos, None), "relu": (_off_zero, None),
    "abs": (_off_zero, None), "sigmoid": (lambda r, n: r.uniform(-6, 6, n), None),
}


def _sampler(op, slot):
    return DOMAIN.get(op.name, (_any, _any))[slot] or _any


def _apply(op, x, y=None):
    """Record ``op`` on Value x (and Value or number y) through Value's operators."""
    if op.kind == "unary":
        out = getattr(x, op.name)()
    elif op.kind == "binary":
        out = getattr(x, op.dunder)(y)
    else:
        twin = [b for b in ops.BINARY if b.number_op is op]
        out = getattr(x, twin[0].dunder)(y) if twin else getattr(x, op.dunder)(y)
    assert out._fn is op, f"recorded {out.op}, wanted {op.name}"
    return out


def _eager(fn, rows, wrt_params):
    """Per-sample eager outputs and gradients (inputs, parameters) with the engine."""
    outs, in_grads, p_grads = [], [], []
    for row in rows:
        leaves = [Value(float(v)) for v in row]
        out = fn(*leaves)
        g = autodiff.gradients(out, leaves + wrt_params)
        outs.append(out.data)
        in_grads.append(g[:len(leaves)])
        p_grads.append(g[len(leaves):])
    return np.array(outs), np.array(in_grads), np.array(p_grads)


def _close(a, b, rtol=RTOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("op", ops.ALL, ids=lambda o: o.name)
def test_every_op_gradients_equal_eager_on_inputs(op):
    """The op on the tape's inputs (batch buffer): outputs and per-sample input
    gradients (reduction='sum': each sample's upstream is 1) equal the engine's."""
    r = np.random.default_rng(hash(op.name) % 2**32)
    x = _sampler(op, 0)(r, BATCH)
    if op.nary:  # traced gate by gate (a tape records * and +), eager as one fused node
        y = _sampler(op, 1)(r, BATCH)
        w, b = [Value(0.7), Value(-1.3)], Value(0.2)

        def fn(a, c):
            return autodiff.affine(w, [a, c], b)
        assert fn(Value(0.5), Value(0.5)).op == "affine"
        tape = compile(fn, 0.5, 0.5)
        got = tape(x, y)
        gx, gy = tape.backward(reduction="sum", inputs=True)
        want, gin, _ = _eager(fn, zip(x, y), [])
        _close(gy, gin[:, 1])
    elif op.kind == "binary":
        y = _sampler(op, 1)(r, BATCH)
        tape = compile(lambda a, b: _apply(op, a, b), 0.5, 0.5)
        got = tape(x, y)
        gx, gy = tape.backward(reduction="sum", inputs=True)
        want, gin, _ = _eager(lambda a, b: _apply(op, a, b), zip(x, y), [])
        _close(gy, gin[:, 1])
    else:
        c = float(_sampler(op, 1)(r, 1)[0])
        fn = (lambda a: _apply(op, a)) if op.kind == "unary" else (lambda a: _apply(op, a, c))
        tape = compile(fn, 0.5)
        got = tape(x)
        (gx,) = tape.backward(reduction="sum", inputs=True)
        want, gin, _ = _eager(fn, ((v,) for v in x), [])
    _close(got, want)
    _close(gx, gin[:, 0])


@pytest.mark.parametrize("op", ops.ALL, ids=lambda o: o.name)
def test_every_op_gradients_equal_eager_on_parameters(op):
    """The op with captured parameters: mixing a parameter (constant buffer) with an
    input, and computed from parameters alone then scaled by an input.  The parameters'
    .grad gets the MEAN over the batch of the eager per-sample gradients."""
    r = np.random.default_rng(hash(op.name) % 2**31 + 1)
    x = _sampler(op, 0)(r, BATCH)
    w = Value(float(_sampler(op, 0)(r, 1)[0]), label="w")
    u = Value(float(_sampler(op, 1)(r, 1)[0] if op.kind != "unary" else 0.7), label="u")
    c = float(_sampler(op, 1)(r, 1)[0])
    if op.kind == "binary":
        fns = [lambda a: _apply(op, w, u) * a,                 # parameters only, then * x
               lambda a: _apply(op, (a * 0.25 + 1.0).sigmoid() * 0.0 + w, u) + a]
        if op.name != "pow":
            fns.append(lambda a: _apply(op, a, u) + _apply(op, w, a.exp()))
        else:
            fns.append(lambda a: _apply(op, w, a) * _apply(op, a.abs() + 0.5, u))
    elif op.kind == "folded":
        fns = [lambda a: _apply(op, w, c) * a, lambda a: _apply(op, a, c) * w]
    elif op.nary:
        fns = [lambda a: autodiff.affine([w, u], [a, a * a], u),
               lambda a: autodiff.affine([a, w], [u, c], w) * a]
        assert fns[0](Value(0.5)).op == "affine"
    else:
        fns = [lambda a: _apply(op, w) * a, lambda a: _apply(op, a) * w]
    for fn in fns:
        w.grad = u.grad = 0.0
        tape = compile(fn, float(x[0]))
        got = tape(x)
        tape.backward()
        want, _gin, gp = _eager(fn, ((v,) for v in x), [w, u])
        _close(got, want)
        _close([w.grad, u.grad], gp.sum(axis=0) / BATCH)


def test_table_sum_flattening_keeps_fanout_and_repeats():
    """Chains of + flatten into one sum, except a partial sum used elsewhere; a + a
    counts twice; right-nested and constant-offset sums too."""
    w = Value(0.3)

    def fn(a, b):
        s1 = a + b + w            # used twice: stays a node
        s2 = s1 + s1 + 2.0 + (a + (b + 1.0))
        return (s2 * s1) * 0.5 + 0 + a * w

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=5), rng.normal(size=5)
    tape = compile(fn, 0.0, 0.0)
    got = tape(x, y)
    gx, gy = tape.backward(reduction="sum", inputs=True)
    want, gin, gp = _eager(fn, zip(x, y), [w])
    _close(got, want)
    _close(gx, gin[:, 0])
    _close(gy, gin[:, 1])
    _close(w.grad, gp.sum())


def _demo():
    from common import value_mlp

    from nn.datasets import moons
    X, y = moons(100, noise=0.1, seed=0)
    model, params = value_mlp(Value, [2, 16, 16, 1])
    return X, (y * 2 - 1).astype(float), model, params


def test_mlp_demo_gradients_equal_eager():
    """micrograd's demo objective (hinge + 1e-4 L2) traced per sample: the mean over
    100 moons points gives the eager batch gradient of every parameter to 1e-12."""
    X, y, model, params = _demo()

    def per_sample(x, yi):
        return (1 + -yi * model(x)).relu() + 1e-4 * sum(p * p for p in params)

    tape = compile(per_sample, X[0].tolist(), y[0])
    loss = tape(X, y).mean()
    tape.backward()
    got = np.array([p.grad for p in params])
    for p in params:
        p.grad = 0.0
    scores = [model([Value(a), Value(b)]) for a, b in X.tolist()]
    data = sum((1 + -yi * s).relu() for yi, s in zip(y.tolist(), scores)) * (1.0 / len(y))
    total = data + 1e-4 * sum(p * p for p in params)
    total.backward()
    want = np.array([p.grad for p in params])
    assert abs(loss - total.data) <= 1e-12 * abs(total.data)
    # relative to the gradient's size: some entries are exactly 0 or ~1e-17
    assert np.max(np.abs(got - want)) <= RTOL * np.max(np.abs(want))
    big = np.abs(want) > 1e-6
    _close(got[big], want[big])


@pytest.mark.parametrize("loss,labels,nouts", [("hinge", "pm1", [16, 16, 1]),
                                               ("cross_entropy", "01", [16, 16, 2]),
                                               ("bce_with_logits", "01", [16, 16, 1])])
def test_fit_compiled_equals_eager_after_10_steps(loss, labels, nouts):
    """fit(..., compile=True) ends where eager training ends: every parameter and every
    recorded loss equal to 1e-12 (relative) after 10 steps on moons, L2 on."""
    from nn import MLP, datasets, fit, optim
    X, y = datasets.moons(100, seed=0, labels=labels)
    runs = []
    for comp in (False, True):
        m = MLP(2, nouts, seed=3)
        h = fit(m, X, y, loss=loss, steps=10, l2=1e-4, progress=False, compile=comp,
                optimizer=optim.SGD(m.parameters(), lr=0.5))
        runs.append((np.array([p.data for p in m.parameters()]), np.array(h.loss),
                     np.array(h.accuracy)))
    (p0, l0, a0), (p1, l1, a1) = runs
    assert len(l1) == 10 and l1[-1] < l1[0]
    _close(p1, p0)
    _close(l1, l0)
    _close(a1, a0, rtol=0)


def test_fit_compiled_minibatches_equal_eager():
    from nn import MLP, datasets, fit
    X, y = datasets.moons(30, seed=1, labels="pm1")
    ps = []
    for comp in (False, True):
        m = MLP(2, [8, 1], seed=0)
        fit(m, X, y, loss="hinge", steps=6, batch_size=7, progress=False, compile=comp)
        ps.append(np.array([p.data for p in m.parameters()]))
    _close(ps[1], ps[0])


def test_tracing_100k_node_graphs():
    """An MLP-shaped graph of ~106,000 gates (each neuron's * and + gates) and the worst
    case, a chain of 100,001 nodes one per level, trace and replay (their tracing time
    is in bench_tape.py, not timed here)."""
    from bench_tape import _chain

    from nn import MLP
    model = MLP(16, [128, 128, 128, 1], seed=0, fused=False)
    for fn, example in ((model, [0.1] * 16), (_chain, 0.5)):
        tape = compile(fn, example)
        assert tape.n_nodes >= 100_000
    assert tape.n_levels == 100_000
    _close(tape([0.5]), [_chain(Value(0.5)).data])


# --- refusals and check mode ---------------------------------------------------------------

def test_control_flow_over_values_is_refused():
    def branchy(x):
        return x * 2 if x > 0 else -x

    with pytest.raises(TypeError, match=r"compile\(.*branchy\).*comparison >.*control flow"):
        compile(branchy, 1.0)
    assert STATE.tracing is False

    def truthy(x):
        return x if x else x + 1

    with pytest.raises(TypeError, match=r"bool\(\) of a Value while tracing"):
        compile(truthy)([1.0, 2.0])
    assert STATE.tracing is False


def test_ops_instead_of_branches_are_fine():
    tape = compile(lambda x: x.relu() + abs(x) * 0.5, 0.0)
    _close(tape([-2.0, 3.0]), [1.0, 4.5])


def test_other_type_errors_are_not_rewritten():
    with pytest.raises(TypeError, match="can only be combined with a number") as e:
        compile(lambda x: x + "a", 1.0)
    assert "compile(" not in str(e.value)


def test_check_catches_a_number_baked_in_while_tracing():
    """A constant read while tracing (x.detach().data) turns a per-sample number into a
    constant: the replay is wrong for other samples, and check mode says so."""
    def baked(x):
        return x * x.detach().data   # the traced sample's number, as a constant

    tape = compile(baked, 1.0)
    with pytest.raises(TapeMismatchError, match=r"sample 1, output 0: eager 4.0, replay 2.0"):
        tape.check([1.0, 2.0, 3.0])
    checked = compile(baked, check=True)
    with pytest.raises(TapeMismatchError, match="reads a Value's number"):
        checked([1.0, 2.0])


def test_check_passes_and_leaves_grads_alone():
    w = Value(1.5)
    w.grad = 0.25
    tape = compile(lambda x: (w * x).sigmoid(), check=True)
    out = tape([0.1, -0.4, 2.0, 5.0])
    assert out.shape == (4,)
    tape.check([0.1, -0.4, 2.0, 5.0], n=4)
    assert w.grad == 0.25


# --- outputs, parameters, reductions -------------------------------------------------------

def test_multiple_outputs_and_explicit_upstream():
    w = Value(0.5, label="w")

    def fn(x, y):
        return [x * w + y, (x * y).tanh(), w * w]   # the last one: parameters only

    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=6), rng.normal(size=6)
    tape = compile(fn, 0.0, 0.0)
    out = tape(X, Y)
    assert out.shape == (6, 3)
    _close(out[:, 0], X * 0.5 + Y)
    _close(out[:, 1], np.tanh(X * Y))
    _close(out[:, 2], np.full(6, 0.25))
    up = rng.normal(size=(6, 3))
    gx, _gy = tape.backward(up, inputs=True)
    want_x = up[:, 0] * 0.5 + up[:, 1] * Y * (1 - np.tanh(X * Y) ** 2)
    _close(gx, want_x)
    _close(w.grad, np.sum(up[:, 0] * X) + np.sum(up[:, 2]) * 2 * 0.5)
    w.grad = 0.0
    tape.backward(output=2, reduction="sum")
    assert w.grad == pytest.approx(6 * 2 * 0.5, rel=1e-15)


def test_vector_arguments_and_output_shapes():
    tape = compile(lambda x, t: (x[0] * x[1] - t) ** 2, [0.0, 0.0], 0.0)
    X = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 0.5]])
    T = np.array([1.0, 10.0, 0.0])
    _close(tape(X, T), (X[:, 0] * X[:, 1] - T) ** 2)
    gX, gT = tape.backward(inputs=True)
    assert gX.shape == (3, 2) and gT.shape == (3,)
    r = X[:, 0] * X[:, 1] - T
    _close(gX[:, 0], 2 * r * X[:, 1] / 3)
    _close(gT, -2 * r / 3)


def test_parameters_are_reread_and_grads_accumulate():
    w = Value(2.0)
    tape = compile(lambda x: w * x, 0.0)
    _close(tape([1.0, 3.0]), [2.0, 6.0])
    tape.backward()
    tape.backward()
    assert w.grad == pytest.approx(4.0)           # mean of x is 2, twice
    w.data = -1.0
    _close(tape([1.0, 3.0]), [-1.0, -3.0])
    w.grad = 0.0
    tape.backward(reduction="sum")
    assert w.grad == 4.0


def test_optimizer_steps_compiled_gradients():
    from nn import optim
    w = Value(0.0)
    opt = optim.SGD([w], lr=0.1)
    tape = compile(lambda x, t: (w * x - t) ** 2, 0.0, 0.0)
    X = np.array([1.0, 2.0, -1.0])
    for _ in range(60):
        opt.zero_grad()
        tape(X, 3.0 * X)
        tape.backward()
        opt.step()
    assert w.data == pytest.approx(3.0, rel=1e-9)


def test_lazy_trace_repr_and_summary():
    def f(x):
        return (x * 2 + 1).exp()

    tape = compile(f)
    assert repr(tape) == "Tape(f, not traced yet)"
    _close(tape([0.0, 1.0]), np.exp([1.0, 3.0]))
    assert repr(tape) == "Tape(f: 1 inputs, 0 parameters, 4 nodes in 3 levels, 1 output)"
    s = tape.summary()
    assert "*2" in s and "exp" in s and "sum" in s


# --- errors ---------------------------------------------------------------------------------

def test_call_errors_name_the_argument():
    tape = compile(lambda x, t: x[0] * t, [1.0, 2.0], 1.0)
    with pytest.raises(TypeError, match=r"traced with 2 argument\(s\) \(x, t\); got 1"):
        tape(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"argument 'x' must have shape \(batch, 2\)"):
        tape(np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"argument 't' has 4 rows but the first argument has 3"):
        tape(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(TypeError, match="argument 't' must be an array of numbers"):
        tape(np.zeros((3, 2)), ["a", "b", "c"])


def test_backward_errors():
    tape = compile(lambda x: [x, x * 2], 0.0)
    with pytest.raises(RuntimeError, match="needs a forward call first"):
        tape.backward()
    tape([1.0, 2.0])
    with pytest.raises(ValueError, match="has 2 outputs: pass output=i"):
        tape.backward()
    with pytest.raises(IndexError, match=r"backward\(output=5\)"):
        tape.backward(output=5)
    with pytest.raises(ValueError, match=r"must have shape \(2, 2\)"):
        tape.backward(np.ones(2))
    with pytest.raises(ValueError, match="reduction"):
        tape.backward(output=0, reduction="max")


def test_trace_errors():
    with pytest.raises(TypeError, match="expected a function"):
        compile(3.0)
    with pytest.raises(TypeError, match="must return a Value or a list of Values; output 1 is str"):
        compile(lambda x: [x, "no"], 1.0)
    with pytest.raises(TypeError, match=r"argument 'x'\[1\] of the example is str"):
        compile(lambda x: x[0], [1.0, "a"])


def test_replay_domain_error_names_the_op():
    tape = compile(lambda x: x.log(), 1.0)
    with pytest.raises(ValueError, match=r"forward replay of log \(natural logarithm\).*x > 0"):
        tape([1.0, -1.0])
    with pytest.raises(OverflowError, match="forward replay of exp"):
        compile(lambda x: x.exp(), 0.0)([1000.0])


def test_compiled_objective_checks_targets_and_rows():
    from nn import MLP, datasets
    from nn.compiled import CompiledObjective
    X, y = datasets.moons(10, seed=0)                      # labels 0/1
    with pytest.raises(ValueError, match="hinge: label 0 is"):
        CompiledObjective(MLP(2, [4, 1], seed=0), "hinge", X, y)
    with pytest.raises(ValueError, match="cross_entropy: target 0 is class 3"):
        CompiledObjective(MLP(2, [4, 2], seed=0), "cross_entropy", X, y + 3)
    obj = CompiledObjective(MLP(2, [4, 2], seed=0), "cross_entropy", X, y)
    loss, out = obj(np.arange(4))
    assert out.shape == (4, 2) and loss > 0
    with pytest.raises(ValueError, match="idx must be a non-empty 1-D array"):
        obj(np.array([], dtype=int))


@pytest.mark.parametrize("seed", range(6))
def test_random_graphs_equal_eager(seed):
    """Random DAGs over inputs, parameters and constants (fan-out, repeated operands,
    chains of + long and short, parameter-only branches, several outputs): replay and
    eager agree on outputs and on every input and parameter gradient."""
    import random
    r = random.Random(seed)
    params = [Value(r.uniform(-1, 1), label=f"p{i}") for i in range(4)]
    unary = ["tanh", "sin", "sigmoid", "relu", "abs"]
    recipe = []
    for _ in range(60):
        recipe.append((r.randrange(9), r.random(), r.random(), r.uniform(-1.5, 1.5),
                       r.choice(unary)))

    def fn(x0, x1, x2):
        pool = [x0, x1, x2, *params]
        for kind, i, j, c, name in recipe:
            a = pool[int(i * len(pool))]
            b = pool[int(j * len(pool))]
            if kind <= 2:
                v = a + b                      # many +: chains to flatten
            elif kind == 3:
                v = a - b
            elif kind == 4:
                v = (a * b) * 0.5
            elif kind == 5:
                v = a * c + c
            elif kind == 6:
                v = getattr(a, name)()
            elif kind == 7:
                v = a + b + a + c
            else:
                v = (a * 0.3).tanh() * b
            pool.append(v)
        return [pool[-1], pool[-7], pool[-20] * pool[-2]]

    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(5, 3))
    tape = compile(fn, 0.1, 0.2, 0.3)
    got = tape(X[:, 0], X[:, 1], X[:, 2])
    up = rng.normal(size=(5, 3))
    for p in params:
        p.grad = 0.0
    gin = tape.backward(up, inputs=True)
    pgot = np.array([p.grad for p in params])
    pwant = np.zeros(len(params))
    for s in range(5):
        leaves = [Value(float(v)) for v in X[s]]
        outs = fn(*leaves)
        for j, o in enumerate(outs):
            assert got[s, j] == pytest.approx(o.data, rel=1e-12, abs=1e-300)
            g = autodiff.gradients(o, leaves + params)
            pwant += up[s, j] * np.array(g[3:])
            gin_want = np.array(g[:3]) * up[s, j]
            for k in range(3):
                gin[k][s] -= gin_want[k]
    scale = max(1.0, np.max(np.abs(pwant)))
    assert np.max(np.abs(pgot - pwant)) <= 1e-12 * scale
    for k in range(3):                       # what is left after subtracting eager's
        assert np.max(np.abs(gin[k])) <= 1e-12 * scale
