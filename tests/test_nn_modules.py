"""nn.modules: micrograd compatibility, activations, seeds, reprs, state dicts, errors."""
import random

import micrograd.nn as mg
import numpy as np
import pytest

from autodiff import Value, no_grad, topological_order
from nn import MLP, Layer, Module, Neuron


def _mg_and_ours(nin, nouts, seed=7):
    random.seed(seed)
    theirs = mg.MLP(nin, nouts)
    random.seed(seed)
    ours = MLP(nin, nouts)
    return theirs, ours


def test_same_init_outputs_and_gradients_as_micrograd():
    theirs, ours = _mg_and_ours(3, [4, 4, 1])
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    x = [0.3, -1.5, 2.0]
    from micrograd.engine import Value as MgValue
    yt = theirs([MgValue(v) for v in x])
    yo = ours([Value(v) for v in x])
    assert isinstance(yo, Value) and yo.data == yt.data
    yt.backward()
    yo.backward()
    assert [p.grad for p in ours.parameters()] == [p.grad for p in theirs.parameters()]


def test_graph_node_for_node_as_the_generator_sum():
    n = Neuron(3, nonlin=False, seed=1)
    x = [Value(0.5), 2.0, Value(-1.0)]
    fast = n(x)
    reference = sum((wi * xi for wi, xi in zip(n.w, x)), n.b)
    a, b = topological_order(fast), topological_order(reference)
    assert [(v.op, v.const, v.data) for v in a] == [(v.op, v.const, v.data) for v in b]
    # same inputs in the same slots: parameters and inputs are shared leaves
    assert [p for v in a for p in v.parents if p.is_leaf] == \
           [p for v in b for p in v.parents if p.is_leaf]
    fast.backward()
    g_fast = [p.grad for p in n.parameters()] + [x[0].grad, x[2].grad]
    n.zero_grad(); x[0].grad = x[2].grad = 0.0
    reference.backward()
    assert g_fast == [p.grad for p in n.parameters()] + [x[0].grad, x[2].grad]


def test_no_grad_forward_records_nothing():
    m = MLP(2, [3, 1], seed=0)
    with no_grad():
        out = m([1.0, 2.0])
    assert out.is_leaf
    assert out.data == m([1.0, 2.0]).data


def test_single_output_value_and_list_otherwise():
    assert isinstance(MLP(2, [3, 1], seed=0)([1.0, 2.0]), Value)
    out = MLP(2, [3, 2], seed=0)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 2
    assert isinstance(Layer(2, 1, seed=0)([1.0, 2.0]), Value)


@pytest.mark.parametrize("act, fn", [("relu", lambda z: max(z, 0.0)), ("tanh", np.tanh),
                                     ("sigmoid", lambda z: 1 / (1 + np.exp(-z)))])
def test_activations(act, fn):
    n = Neuron(2, activation=act, seed=3)
    z = n.w[0].data * 1.5 + n.w[1].data * -2.0 + n.b.data
    assert n([1.5, -2.0]).data == pytest.approx(fn(z), abs=1e-15)
    assert n.activation == act and n.nonlin


def test_linear_neuron_and_micrograd_nonlin_flag():
    n = Neuron(2, nonlin=False, seed=0)
    assert n.activation == "linear" and not n.nonlin
    m = MLP(2, [3, 3, 1], seed=0)
    assert [l.activation for l in m.layers] == ["relu", "relu", "linear"]
    assert [n.nonlin for l in m.layers for n in l.neurons][-1] is False


def test_reprs_show_architecture():
    assert repr(MLP(2, [16, 16, 1], seed=0)) == "MLP(2 -> [16 relu, 16 relu, 1 linear])"
    assert repr(MLP(2, [8, 3], activation="tanh", seed=0)) == "MLP(2 -> [8 tanh, 3 linear])"
    assert repr(Layer(3, 4, seed=0)) == "Layer(3 -> 4 relu)"
    assert repr(Neuron(5, activation="sigmoid", seed=0)) == "Neuron(5, sigmoid)"


def test_seed_and_rng_make_init_reproducible():
    a, b = MLP(2, [4, 1], seed=5), MLP(2, [4, 1], seed=5)
    c = MLP(2, [4, 1], seed=6)
    pa = [p.data for p in a.parameters()]
    assert pa == [p.data for p in b.parameters()] != [p.data for p in c.parameters()]
    g1 = MLP(2, [4, 1], rng=np.random.default_rng(1))
    g2 = MLP(2, [4, 1], rng=np.random.default_rng(1))
    assert [p.data for p in g1.parameters()] == [p.data for p in g2.parameters()]
    ws = [w.data for n in g1.layers[0].neurons for w in n.w]
    assert all(-1 <= w <= 1 for w in ws) and all(n.b.data == 0 for n in g1.layers[0].neurons)
    # a seeded model leaves the global generator alone (micrograd's demo relies on it)
    random.seed(0); before = random.random()
    random.seed(0); MLP(2, [4, 1], seed=1); assert random.random() == before


def test_parameters_zero_grad_and_state_dict_roundtrip():
    m = MLP(2, [3, 2], seed=0)
    assert len(m.parameters()) == 3 * 3 + 2 * 4
    sum(m([1.0, -1.0])).backward()
    assert any(p.grad != 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad == 0.0 for p in m.parameters())
    sd = m.state_dict()
    assert "layers.1.neurons.0.w.2" in sd and len(sd) == len(m.parameters())
    other = MLP(2, [3, 2], seed=9)
    other.load_state_dict(sd)
    assert [p.data for p in other.parameters()] == [p.data for p in m.parameters()]
    assert Module().parameters() == []


def test_load_state_dict_errors():
    m = MLP(2, [1], seed=0)
    sd = m.state_dict()
    with pytest.raises(KeyError, match="missing keys"):
        m.load_state_dict({k: v for k, v in sd.items() if k != "layers.0.neurons.0.b"})
    with pytest.raises(KeyError, match="unexpected keys"):
        m.load_state_dict({**sd, "extra": 1.0})
    with pytest.raises(ValueError, match="finite number"):
        m.load_state_dict({**sd, "layers.0.neurons.0.b": float("nan")})
    with pytest.raises(TypeError, match="expected a dict"):
        m.load_state_dict([1.0])


@pytest.mark.parametrize("make, match", [
    (lambda: MLP(0, [1]), r"MLP\(nin\) must be a positive int"),
    (lambda: MLP(2, []), "non-empty list"),
    (lambda: MLP(2, [3, -1]), r"nouts\[1\]"),
    (lambda: MLP(2, [3], activation="gelu"), "unknown activation 'gelu'"),
    (lambda: Neuron(2.5), "positive int"),
    (lambda: MLP(2, [1], seed=1, rng=random.Random(1)), "seed or rng"),
])
def test_constructor_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_wrong_input_length_is_named():
    with pytest.raises(ValueError, match=r"Neuron\(2, relu\): expected 2 inputs, got 3"):
        MLP(2, [1, 1], seed=0)([1.0, 2.0, 3.0])
