"""Hostile and careless input to losses, optimizers and training: every mismatch is a
clear error before any training (eager and compiled alike), every hyper-parameter is
checked, and a loss that turns NaN or infinite stops training without losing the model."""
import math

import numpy as np
import pytest

from autodiff import Value
from nn import MLP, DivergedError, Trainer, accuracy, datasets, fit, losses, optim, predict


def _spiral():
    return datasets.spiral(10, k=3, seed=0)


def _params(model):
    return [p.data for p in model.parameters()]


# --- a loss that does not suit the model or the labels ------------------------------------

MISMATCHES = [
    # (model sizes, out activation, labels, loss, what the message must name)
    ([4, 1], "linear", "spiral", "cross_entropy",
     ["cross_entropy", "at least 2 outputs", "1 output", "labels seen: 0, 1, 2"]),
    ([4, 3], "linear", [0, 1, 3], "cross_entropy",
     ["cross_entropy", "class ids 0..2", "3 outputs", "labels seen: 0, 1, 3"]),
    ([4, 3], "linear", [0, 1.5, 2], "cross_entropy",
     ["cross_entropy", "class ids", "labels seen: 0, 1.5, 2"]),
    ([4, 1], "linear", [0, 1, 1], "hinge",
     ["hinge", "-1 or +1", "1 output", "labels seen: 0, 1"]),
    ([4, 3], "linear", [-1, 1, 1], "hinge",
     ["hinge", "one target per output", "3 outputs", "labels seen: -1, 1"]),
    ([4, 1], "linear", [0, 1, 1], "bce",
     ["bce", "sigmoid", "linear last layer", "1 output", "labels seen: 0, 1"]),
    ([4, 1], "tanh", [0, 1, 1], "bce", ["bce", "sigmoid", "tanh last layer"]),
    ([4, 1], "sigmoid", [0, 2, 1], "bce", ["bce", "[0, 1]", "labels seen: 0, 1, 2"]),
    ([4, 1], "linear", [-1, 1, 1], "bce_with_logits",
     ["bce_with_logits", "[0, 1]", "labels seen: -1, 1"]),
    ([4, 3], "linear", [0.5, 1.0, 2.0], "mse", ["mse", "one target per output", "3 outputs"]),
]


@pytest.mark.parametrize("compile", [False, True])
@pytest.mark.parametrize("sizes, act, labels, loss, names", MISMATCHES)
def test_mismatched_loss_is_refused_before_training(sizes, act, labels, loss, names, compile):
    if labels == "spiral":
        X, y = _spiral()
    else:
        X, y = np.array([[0.1, 0.2], [0.3, -0.1], [-0.5, 0.4]]), labels
    model = MLP(2, sizes, out_activation=act, seed=0)
    start = _params(model)
    with pytest.raises(ValueError) as err:
        fit(model, X, y, loss=loss, steps=3, progress=False, compile=compile)
    for name in names:
        assert name in str(err.value)
    assert _params(model) == start  # refused before any update


def test_check_fit_accepts_what_suits():
    losses.check_fit("cross_entropy", 3, [0, 2, 1])
    losses.check_fit("cross_entropy", 2, [[1.0, 0.0], [0.25, 0.75]])
    losses.check_fit("hinge", 1, np.array([-1, 1]))
    losses.check_fit("bce", 1, [0.0, 0.3, 1.0], "sigmoid")
    losses.check_fit("bce_with_logits", 1, [0, 1], "linear")
    losses.check_fit("mse", 2, [[0.5, 7.0]])


def test_cross_entropy_target_that_is_not_a_number_is_named():
    z = [[Value(0.0), Value(1.0)]]
    with pytest.raises(ValueError, match="cross_entropy: target 0 is nan"):
        losses.cross_entropy(z, [math.nan])
    with pytest.raises(ValueError, match="cross_entropy: target 0 is inf"):
        losses.cross_entropy(z, [math.inf])
    with pytest.raises(ValueError, match=r"target 0 entry 1 is 2.*in \[0, 1\]"):
        losses.cross_entropy(z, [[0.0, 2.0]])


def test_string_targets_in_an_array_are_named():
    with pytest.raises(TypeError, match="mse: targets must be Values or numbers, got str"):
        losses.mse([Value(1.0)], np.array(["a"]))


# --- labels, losses and arguments of the wrong kind ---------------------------------------

@pytest.mark.parametrize("y, exc, match", [
    (["a"] * 30, TypeError, "y must hold numbers.*str 'a' in row 0"),
    ([None] * 30, TypeError, "y must hold numbers.*None in row 0"),
    ([0] * 29 + [math.nan], ValueError, r"y contains NaN or infinity \(row 29"),
    ([0] * 29 + [10 ** 400], ValueError, "y holds an integer too large for a float"),
])
def test_labels_that_are_not_numbers(y, exc, match):
    X, _ = _spiral()
    with pytest.raises(exc, match=match):
        fit(MLP(2, [4, 3], seed=0), X, y, steps=2, progress=False)


@pytest.mark.parametrize("compile", [False, True])
def test_custom_loss_returning_a_float(compile):
    X, y = _spiral()
    model = MLP(2, [4, 3], seed=0)
    with pytest.raises(TypeError, match="loss function <lambda> returned a float"):
        fit(model, X, y, loss=lambda p, t: 1.0, steps=2, progress=False, compile=compile)


@pytest.mark.parametrize("kwargs, match", [
    (dict(seed="a"), "seed must be an int >= 0"),
    (dict(seed=-1), "seed must be an int >= 0"),
    (dict(l2=True), "l2 must be a number >= 0"),
    (dict(tol=True), "tol must be a number >= 0"),
    (dict(callback=3), "callback must be a function"),
])
def test_fit_arguments_are_named(kwargs, match):
    X, y = _spiral()
    with pytest.raises((TypeError, ValueError), match=match):
        fit(MLP(2, [4, 3], seed=0), X, y, steps=2, progress=False, **kwargs)


def test_optimizer_on_other_parameters_is_refused():
    X, y = _spiral()
    other = MLP(2, [4, 3], seed=1)
    with pytest.raises(ValueError, match="holds none of the model's parameters"):
        Trainer(MLP(2, [4, 3], seed=0), X, y, optimizer=optim.SGD(other.parameters()))


def test_predict_with_strings_names_x():
    with pytest.raises(ValueError, match=r"predict: X must be an \(n, 2\) array of numbers"):
        predict(MLP(2, [3, 1], seed=0), [["a", "b"]])
    with pytest.raises(ValueError, match="predict: threshold must be a finite number"):
        predict(MLP(2, [3, 1], seed=0), [[0.0, 1.0]], classes=True, threshold=math.nan)
    with pytest.raises(ValueError, match="accuracy: threshold must be a finite number"):
        accuracy(MLP(2, [3, 1], seed=0), [[0.0, 1.0]], [1], threshold=math.nan)
    with pytest.raises(TypeError, match="accuracy: y must hold numbers"):
        accuracy(MLP(2, [3, 1], seed=0), [[0.0, 1.0]], ["yes"])


def test_one_input_model_takes_a_bare_number():
    m = MLP(1, [3, 1], seed=0)
    assert m(1.5).data == m([1.5]).data
    assert m(Value(1.5)).data == m([1.5]).data
    assert m.layers[0](2.0)[0].data == m.layers[0]([2.0])[0].data
    assert m.layers[0].neurons[0](2.0).data == m.layers[0].neurons[0]([2.0]).data


@pytest.mark.parametrize("model, x, match", [
    (MLP(2, [3, 1], seed=0), 1.0, "expected a list of 2 inputs, got a single float"),
    (MLP(2, [3, 1], seed=0), "ab", "expected a list of 2 numbers or Values, got str"),
    (MLP(1, [3, 1], seed=0), None, "expected a list of 1 numbers or Values, got NoneType"),
])
def test_inputs_of_the_wrong_kind(model, x, match):
    with pytest.raises(TypeError, match=match):
        model(x)


# --- hyper-parameters ---------------------------------------------------------------------

def _w():
    return [Value(1.0)]


@pytest.mark.parametrize("make, match", [
    (lambda: optim.Adam(_w(), eps=math.nan), "Adam: eps must be > 0"),
    (lambda: optim.Adam(_w(), eps=math.inf), "Adam: eps must be > 0"),
    (lambda: optim.Adam(_w(), betas=(0.9,)), r"Adam: betas must be a pair"),
    (lambda: optim.Adam(_w(), betas="ab"), r"Adam: betas must be a pair"),
    (lambda: optim.Adam(_w(), betas=(math.nan, 0.9)), r"Adam: betas\[0\] must be in \[0, 1\)"),
    (lambda: optim.Adam(_w(), betas=(0.9, "a")), r"Adam: betas\[1\] must be in \[0, 1\)"),
    (lambda: optim.SGD(_w(), momentum="a"), r"SGD: momentum must be in \[0, 1\), got str"),
    (lambda: optim.SGD(_w(), lr=True), "SGD: lr must be a non-negative number"),
    (lambda: optim.LinearDecay(1.0, 0.1, "a"), "LinearDecay: steps must be >= 1"),
    (lambda: optim.LinearDecay(1.0, 0.1, 2.5), "LinearDecay: steps must be >= 1"),
    (lambda: optim.LinearDecay(math.nan, 0.1, 10), r"LinearDecay\(start\): lr must be"),
    (lambda: optim.LinearDecay(1.0, -0.1, 10), r"LinearDecay\(end\): lr must be"),
    (lambda: optim.StepDecay(1.0, every="a"), "StepDecay: every must be >= 1"),
    (lambda: optim.StepDecay(1.0, every=2, gamma=math.nan), r"StepDecay: gamma must be in"),
    (lambda: optim.StepDecay(math.inf, every=2), r"StepDecay\(lr0\): lr must be"),
    (lambda: optim.ExponentialDecay(-1.0, 0.5), r"ExponentialDecay\(lr0\): lr must be"),
    (lambda: optim.ExponentialDecay(1.0, "a"), "ExponentialDecay: gamma must be in"),
    (lambda: optim.RandomSearch(_w(), scale=math.inf), "RandomSearch: scale must be > 0"),
    (lambda: optim.RandomLocalSearch(_w(), scale=math.inf), "RandomLocalSearch: scale"),
    (lambda: optim.RandomSearch(_w(), seed="a"), "RandomSearch: seed must be None or an int"),
])
def test_hyper_parameters_are_checked(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


@pytest.mark.parametrize("bad", [math.nan, -0.5, math.inf, "fast"])
@pytest.mark.parametrize("compile", [False, True])
def test_schedule_giving_a_bad_rate_stops_at_that_step(bad, compile):
    X, y = _spiral()
    model = MLP(2, [4, 3], seed=0)
    opt = optim.SGD(model.parameters(), lr=lambda k: 0.1 if k < 2 else bad)
    ref = MLP(2, [4, 3], seed=0)
    fit(ref, X, y, optimizer=optim.SGD(ref.parameters(), lr=0.1), steps=2, progress=False,
        compile=compile)
    with pytest.raises((TypeError, ValueError),
                       match=r"learning-rate schedule .* at step 2 must be a finite number"):
        fit(model, X, y, optimizer=opt, steps=5, progress=False, compile=compile)
    assert _params(model) == _params(ref)  # the bad rate was never applied


# --- a loss that turns NaN or infinite ----------------------------------------------------

@pytest.mark.parametrize("compile", [False, True])
@pytest.mark.parametrize("loss", ["hinge", "mse"])
def test_non_finite_loss_restores_the_parameters_before_the_update_that_made_it(loss, compile):
    # update 3 uses lr 1e300: its parameters are finite but give a non-finite loss at
    # step 4, so the model gets back the parameters from before update 3
    X, y = datasets.moons(20, seed=0, labels="pm1")
    model = MLP(2, [4, 1], seed=0)
    opt = optim.SGD(model.parameters(), lr=lambda k: 0.1 if k < 3 else 1e300)
    with pytest.raises(DivergedError) as err:
        fit(model, X, y, loss=loss, optimizer=opt, steps=10, progress=False, compile=compile)
    e = err.value
    assert (e.step, e.restored_to, len(e.history)) == (4, 3, 4)
    assert "diverged at step 4" in str(e) and "before the update of step 3" in str(e)
    assert not math.isfinite(e.loss)
    ref = MLP(2, [4, 1], seed=0)
    fit(ref, X, y, loss=loss, optimizer=optim.SGD(ref.parameters(), lr=0.1), steps=3,
        progress=False, compile=compile)
    assert _params(model) == _params(ref)


@pytest.mark.parametrize("compile", [False, True])
def test_update_making_a_parameter_infinite_is_undone(compile):
    # one row, error -3: the weight's gradient is 6, so lr 1e308 sends it to infinity
    X, y = np.array([[1.0]]), np.array([3.0])
    model = MLP(1, [1], seed=0)
    opt = optim.SGD(model.parameters(), lr=lambda k: 0.01 if k < 2 else 1e308)
    with pytest.raises(DivergedError, match=r"step 2 .*made parameter layers\.0\.neurons\.0\."
                                            r"(w\.0|b) -?inf; the update is undone") as err:
        fit(model, X, y, loss="mse", optimizer=opt, steps=10, progress=False, compile=compile)
    assert (err.value.step, err.value.restored_to) == (2, 2)
    ref = MLP(1, [1], seed=0)
    fit(ref, X, y, loss="mse", optimizer=optim.SGD(ref.parameters(), lr=0.01), steps=2,
        progress=False, compile=compile)
    assert _params(model) == _params(ref)
    assert all(math.isfinite(v) for v in _params(model))


@pytest.mark.parametrize("compile", [False, True])
def test_training_does_not_start_from_nan_parameters(compile):
    X, y = datasets.moons(10, seed=0)
    model = MLP(2, [3, 1], seed=0)
    model.layers[-1].neurons[0].b.data = math.nan
    with pytest.raises(ValueError, match=r"parameter layers\.1\.neurons\.0\.b is nan"):
        fit(model, X, y.astype(float), loss="mse", steps=3, progress=False, compile=compile)


@pytest.mark.parametrize("compile", [False, True])
def test_infinite_loss_at_the_first_step_changes_nothing(compile):
    X, y = np.array([[1e200, 1e200], [-1e200, 3e200]]), np.array([0.0, 1.0])
    model = MLP(2, [3, 1], seed=0)
    start = _params(model)
    with pytest.raises(DivergedError, match=r"step 0 .*no update was made") as err:
        fit(model, X, y, loss="mse", steps=3, progress=False, compile=compile)
    assert (err.value.step, err.value.restored_to, len(err.value.history)) == (0, 0, 0)
    assert _params(model) == start


def test_search_that_finds_no_finite_loss_stops():
    X, y = np.array([[1e200, 1e200], [-1e200, 3e200]]), np.array([0.0, 1.0])
    model = MLP(2, [3, 1], seed=0)
    opt = optim.RandomLocalSearch(model.parameters(), scale=1e-3, seed=0)
    with pytest.raises(DivergedError, match=r"step 0 .*no parameters with a finite loss"):
        fit(model, X, y, loss="mse", optimizer=opt, steps=3, progress=False)
