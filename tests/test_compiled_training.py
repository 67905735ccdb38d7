"""The traced program and compiled training: programs print and check themselves, layers
are found in programs that are not MLPs, compiled ``fit`` equals eager ``fit`` for every
optimizer, activation and loss, the model's Values hold the numbers whenever the user
can look, and bad input gets a clear error."""
import math

import numpy as np
import pytest

from autodiff import Value, affine, compile, ops
from autodiff.program import (
    DOT,
    Eqn,
    Program,
    ProgramError,
    Var,
    find_dots,
    flatten_sums,
    optimize,
    trace,
)
from nn import MLP, fit, optim
from nn.train import Trainer

REL = 1e-10


def _close(got, want, rel=REL):
    got, want = np.asarray(got, float), np.asarray(want, float)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    assert got.shape == want.shape
    assert np.max(np.abs(got - want), initial=0.0) <= rel * scale


# --- the program ------------------------------------------------------------------------------

def test_program_prints_as_equations():
    w = Value(0.5, label="w")
    prog = trace(lambda x, t: ((w * x[0] + w * x[1]) - t).tanh(), [[0.0, 0.0], 0.0])
    assert str(prog) == (
        "program <lambda>(x[0], x[1], t) params(w):\n"
        "  v4 = mul w x[0]\n"
        "  v5 = mul w x[1]\n"
        "  v6 = add v4 v5\n"
        "  v7 = sub v6 t\n"
        "  v8 = tanh v7\n"
        "  return v8")
    assert "  v6 = dot [w w] [x[0] x[1]]\n  v7 = sub v6 t\n" in str(optimize(prog))
    assert repr(prog) == "Program(<lambda>: 3 inputs, 1 params, 5 equations, 1 outputs)"


def test_check_names_the_bad_equation():
    x = Var(0, "input", "x")
    y = Var(1, "eqn", None)
    z = Var(2, "eqn", None)
    bad = Program("f", [x], [], [Eqn("exp", ops.EXP, (z,), y)], [y], ["x"], [()], 3)
    with pytest.raises(ProgramError, match=r"equation 0 \(v1 = exp v2\) reads v2 before"):
        bad.check()
    wrong = Program("f", [x], [], [Eqn("mul", ops.MUL, (x,), y)], [y], ["x"], [()], 3)
    with pytest.raises(ProgramError, match="malformed: 1 inputs for mul"):
        wrong.check()
    undefined = Program("f", [x], [], [], [z], ["x"], [()], 3)
    with pytest.raises(ProgramError, match="output v2 is never defined"):
        undefined.check()


def test_gates_and_fused_nodes_give_the_same_dots():
    """A neuron written with * and + (micrograd's) and one fused node are one dot each."""
    for fused in (True, False):
        m = MLP(3, [4, 2], seed=0, fused=fused)
        prog = optimize(trace(m, [[0.1, 0.2, 0.3]]))
        dots = [e for e in prog.eqns if e.prim == DOT]
        assert [e.k for e in dots] == [3] * 4 + [4] * 2
        assert all(len(e.ins) == 2 * e.k + 1 for e in dots)     # with its bias


def test_find_dots_keeps_sums_it_cannot_use():
    """A product of two per-sample numbers is no dot; a weight product used twice stays."""
    w = Value(2.0)

    def f(x, y):
        p = w * x
        return [p + x * y + 1.0, p * 3.0]

    prog = find_dots(flatten_sums(trace(f, [0.0, 0.0])))
    assert not any(e.prim == DOT for e in prog.eqns)
    tape = compile(f, 0.0, 0.0)
    _close(tape([1.0, 2.0], [3.0, 4.0]), [[6.0, 6.0], [13.0, 12.0]])


def _two_layers_two_heads():
    """Not an MLP: two layers read the same input (one written with gates, one fused),
    a third layer reads both, and two heads read the third."""
    rng = np.random.default_rng(5)

    def vals(*shape):
        return [[Value(float(v)) for v in row] for row in rng.uniform(-1, 1, shape)]

    A, B, C = vals(4, 3), vals(5, 3), vals(6, 9)
    bA, bC = [Value(0.1 * i) for i in range(4)], [Value(-0.1 * i) for i in range(6)]
    h1, h2 = vals(1, 6)[0], vals(1, 6)[0]

    def f(x):
        u = [sum((w * xi for w, xi in zip(row, x)), b).tanh() for row, b in zip(A, bA)]
        v = [affine(row, x, Value(0.0) * 0 + 0.5).relu() for row in B]
        z = [affine(row, u + v, b).sigmoid() for row, b in zip(C, bC)]
        return [affine(h1, z, h1[0]), sum((w * zi for w, zi in zip(h2, z)), 1.0)]

    params = [p for rows in (A, B, C, [bA, bC, h1, h2]) for row in rows for p in row]
    return f, params


def test_layers_found_in_a_program_that_is_not_an_mlp():
    f, params = _two_layers_two_heads()
    tape = compile(f, [0.1, -0.2, 0.3])
    layers = [line for line in tape.summary().splitlines() if "W @ X" in line]
    # both first layers read x: one matrix product of 4 + 5 rows; the heads read z: one
    assert any("layer 3 -> 9" in line for line in layers), tape.summary()
    assert any("layer 6 -> 2" in line for line in layers), tape.summary()
    X = np.random.default_rng(0).normal(size=(6, 3))
    out = tape(X)
    up = np.random.default_rng(1).normal(size=(6, 2))
    for p in params:
        p.grad = 0.0
    gx = tape.backward(up, inputs=True)[0]
    got = np.array([p.grad for p in params])
    for p in params:
        p.grad = 0.0
    want_x = []
    for s in range(6):
        xs = [Value(float(v)) for v in X[s]]
        o1, o2 = f(xs)
        _close(out[s], [o1.data, o2.data], 1e-12)
        (o1 * up[s, 0] + o2 * up[s, 1]).backward()
        want_x.append([v.grad for v in xs])
    _close(got, [p.grad for p in params], 1e-12)
    _close(gx, want_x, 1e-12)


def test_a_weight_shared_inside_one_layer_gets_both_shares():
    w = Value(0.7)
    b = Value(0.1)

    def f(x):
        return [affine([w, w], x, b), affine([w, b], x, w)]

    tape = compile(f, [0.0, 0.0])
    X = np.array([[1.0, 2.0], [-1.0, 0.5]])
    tape(X)
    g = tape.vjp(np.ones((2, 2)))
    grads = dict(zip(map(id, tape.params), g))
    # d/dw = (x0 + x1) + (x0 + 1), d/db = 1 + x1, per sample, summed over both
    assert grads[id(w)] == 5.0 - 0.5
    assert grads[id(b)] == 3.0 + 1.5


# --- the op table on arrays -----------------------------------------------------------------

def test_relu_step_and_sign_on_arrays_are_the_float_versions_bit_for_bit():
    x = np.array([-0.0, 0.0, math.nan, -math.inf, math.inf, 1e-320, -1e-320, 2.5, -3.0])
    for arr, one in ((ops.RELU.vforward, ops.RELU.forward), (ops.step, ops.step),
                     (ops.sign, ops.sign)):
        want = np.array([one(float(v)) for v in x])
        assert np.array_equal(arr(x).view(np.int64), want.view(np.int64))


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1),
                                  lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.01)],
                         ids=["sgd", "momentum", "adam"])
def test_optimizer_rule_on_arrays_equals_it_on_values(make):
    rng = np.random.default_rng(0)
    ps = [Value(float(v)) for v in rng.normal(size=5)]
    opt_v = make(ps)
    data = np.array([p.data for p in ps])
    opt_a = make([Value(0.0) for _ in ps])
    state = [np.zeros(5) for _ in opt_a.state_lists()]
    for _ in range(4):
        g = rng.normal(size=5)
        for p, gi in zip(ps, g):
            p.grad = float(gi)
        opt_v.step()
        opt_a.step_arrays(data, g, state)
    assert data.tolist() == [p.data for p in ps]         # the same floats
    assert [s.tolist() for s in state] == opt_v.state_lists()


# --- compiled training equals eager training ----------------------------------------------

LOSSES = {"hinge": ("pm1", 1, "linear"), "mse": ("reg", 1, "linear"),
          "l1": ("reg", 1, "linear"), "bce": ("01", 1, "sigmoid"),
          "bce_with_logits": ("01", 1, "linear"), "cross_entropy": ("classes", 3, "linear")}
OPTIMIZERS = {"sgd": lambda ps: optim.SGD(ps, lr=0.1),
              "momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
              "adam": lambda ps: optim.Adam(ps, lr=0.02)}


def _data(kind, n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    score = X[:, 0] - 0.5 * X[:, 1] + 0.2 * rng.normal(size=n)
    if kind == "pm1":
        return X, np.where(score > 0, 1, -1)
    if kind == "01":
        return X, (score > 0).astype(int)
    if kind == "classes":
        return X, np.digitize(score, [-0.5, 0.5])
    return X, score


def _train(loss, opt_name, act, compiled, steps=10, batch_size=None, l2=1e-3):
    labels, k, out_act = LOSSES[loss]
    X, y = _data(labels)
    m = MLP(2, [5, k], activation=act if act != "linear" else "relu", seed=1,
            out_activation=out_act)
    if act == "linear":             # hidden layers linear too
        for layer in m.layers[:-1]:
            for n in layer.neurons:
                n.activation, n.nonlin = "linear", False
    opt = OPTIMIZERS[opt_name](m.parameters())
    h = fit(m, X, y, loss=loss, optimizer=opt, steps=steps, l2=l2, progress=False,
            compile=compiled, batch_size=batch_size)
    return m, opt, h


@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_compiled_fit_equals_eager_fit_after_10_steps(loss, act, opt_name):
    runs = [_train(loss, opt_name, act, compiled) for compiled in (False, True)]
    (m0, o0, h0), (m1, o1, h1) = runs
    _close([p.data for p in m1.parameters()], [p.data for p in m0.parameters()])
    _close([p.grad for p in m1.parameters()], [p.grad for p in m0.parameters()])
    _close(h1.loss, h0.loss)
    assert h1.accuracy == pytest.approx(h0.accuracy, nan_ok=True)
    assert o1.t == o0.t == 10
    for s1, s0 in zip(o1.state_lists(), o0.state_lists()):
        _close(s1, s0)


def test_compiled_minibatches_with_momentum_equal_eager():
    runs = [_train("hinge", "momentum", "relu", c, steps=9, batch_size=7) for c in (0, 1)]
    _close([p.data for p in runs[1][0].parameters()], [p.data for p in runs[0][0].parameters()])
    _close(runs[1][2].loss, runs[0][2].loss)


def test_mlp_2_64_64_1_gradients_equal_the_eager_engines():
    from nn.compiled import CompiledObjective
    X, y = _data("pm1", n=50)
    m = MLP(2, [64, 64, 1], seed=0)
    obj = CompiledObjective(m, "hinge", X, y, l2=1e-4)
    loss, _ = obj(np.arange(50))
    got = np.array([p.grad for p in m.parameters()])
    m.zero_grad()
    preds = [m(list(map(Value, row))) for row in X.tolist()]
    from nn import losses
    total = losses.hinge(preds, y) + 1e-4 * sum(p * p for p in m.parameters())
    total.backward()
    _close(got, [p.grad for p in m.parameters()])
    assert loss == pytest.approx(total.data, rel=REL)


def test_an_optimizer_over_some_parameters_steps_only_those():
    X, y = _data("pm1")
    runs = []
    for compiled in (False, True):
        m = MLP(2, [4, 1], seed=2)
        first = m.layers[0].parameters()
        fit(m, X, y, loss="hinge", optimizer=optim.Adam(first, lr=0.05), steps=5,
            progress=False, compile=compiled)
        runs.append([p.data for p in m.parameters()])
    _close(runs[1], runs[0])


# --- the Values hold the numbers whenever the user can look --------------------------------

def test_values_hold_the_numbers_in_callbacks_on_save_and_at_the_end(tmp_path):
    X, y = _data("pm1")
    seen = {}
    for compiled in (False, True):
        m = MLP(2, [4, 1], seed=0)
        snaps = []

        def cb(info, m=m, compiled=compiled, snaps=snaps):
            snaps.append([p.data for p in m.parameters()])
            if info.step == 2:
                m.save(tmp_path / f"m{int(compiled)}.json")
            if info.step == 4:              # a change made here is trained on
                m.layers[0].neurons[0].w[0].data = 0.25

        fit(m, X, y, loss="hinge", optimizer=optim.SGD(m.parameters(), lr=0.1,
                                                      momentum=0.5),
            steps=7, progress=False, compile=compiled, callback=cb)
        seen[compiled] = (snaps, [p.data for p in m.parameters()],
                          [p.data for p in MLP.load(tmp_path / f"m{int(compiled)}.json")
                           .parameters()])
    for a, b in zip(seen[True], seen[False]):
        _close(a, b)
    assert seen[True][0][2] == pytest.approx(seen[True][2], rel=0)


def test_trainer_step_leaves_the_values_updated():
    X, y = _data("pm1")
    m = MLP(2, [3, 1], seed=0)
    t = Trainer(m, X, y, loss="hinge", optimizer=optim.SGD(m.parameters(), lr=0.1),
                compile=True)
    before = [p.data for p in m.parameters()]
    t.step()
    after = [p.data for p in m.parameters()]
    assert after != before
    m.layers[1].neurons[0].b.data = 5.0       # read again at the next step
    t.step()
    assert m.layers[1].neurons[0].b.data != 5.0
    assert abs(m.layers[1].neurons[0].b.data - 5.0) < 1.0


# --- bad input ------------------------------------------------------------------------------------

def test_none_in_a_batch_names_the_argument_and_row():
    tape = compile(lambda x, t: x[0] * t, [1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match=r"argument 't' holds None at row 1"):
        tape([[1.0, 2.0], [3.0, 4.0]], [1.0, None])
    with pytest.raises(ValueError, match=r"argument 'x' holds None at row 0, entry 1"):
        tape([[1.0, None], [3.0, 4.0]], [1.0, 2.0])


def test_backward_output_must_be_an_int():
    tape = compile(lambda x: [x, x * 2], 0.0)
    tape([1.0])
    with pytest.raises(TypeError, match=r"backward\(output\): expected the number of an "
                                        r"output \(an int, 0..1\), got str 'a'"):
        tape.backward(output="a")


def test_compiled_fit_keeps_the_eager_errors():
    X, y = _data("01")
    with pytest.raises(ValueError, match=r"hinge needs labels -1 or \+1 .*labels seen: 0, 1"):
        fit(MLP(2, [3, 1], seed=0), X, y, loss="hinge", compile=True, progress=False)
    bad = X.copy()
    bad[3, 1] = math.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        fit(MLP(2, [3, 1], seed=0), bad, y, compile=True, progress=False)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3\)"):
        fit(MLP(3, [3, 1], seed=0), X, y, compile=True, progress=False)


def test_replays_reuse_arrays_without_changing_what_they_returned():
    """Layers write into the arrays of the last replay: outputs and gradients handed out
    before stay as they were, and a check between forward and backward changes nothing."""
    rng = np.random.default_rng(3)
    m = MLP(3, [8, 2], seed=0)
    tape = compile(m, [0.0] * 3)
    X1, X2 = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    up = rng.normal(size=(5, 2))
    o1 = tape(X1)
    g1 = tape.vjp(up)
    kept = o1.copy(), g1.copy()
    tape(X2)
    g2 = tape.vjp(up)
    assert np.array_equal(o1, kept[0]) and np.array_equal(g1, kept[1])
    assert not np.array_equal(g1, g2)
    tape(X1)
    tape.check(X2, n=2)
    assert np.array_equal(tape.vjp(up), kept[1])


def test_an_optimizer_without_an_array_rule_trains_through_its_values():
    class SignSGD(optim.Optimizer):
        def step(self, closure=None):
            loss = self._loss(closure)
            for p in self.params:
                p.data -= self.lr * ((p.grad > 0) - (p.grad < 0))
            self.t += 1
            return loss

    X, y = _data("pm1")
    runs = []
    for compiled in (False, True):
        m = MLP(2, [4, 1], seed=0)
        fit(m, X, y, loss="hinge", optimizer=SignSGD(m.parameters(), lr=0.01), steps=5,
            l2=1e-3, progress=False, compile=compiled)
        runs.append([p.data for p in m.parameters()])
    _close(runs[1], runs[0])
