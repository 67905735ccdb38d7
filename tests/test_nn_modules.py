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


def test_unfused_graph_is_node_for_node_the_generator_sum():
    n = Neuron(3, nonlin=False, seed=1, fused=False)
    x = [Value(0.5), 2.0, Value(-1.0)]
    gates = n(x)
    reference = sum((wi * xi for wi, xi in zip(n.w, x)), n.b)
    a, b = topological_order(gates), topological_order(reference)
    assert [(v.op, v.const, v.data) for v in a] == [(v.op, v.const, v.data) for v in b]
    assert [p for v in a for p in v.parents if p.is_leaf] == \
           [p for v in b for p in v.parents if p.is_leaf]
    assert repr(n) == "Neuron(3, linear, fused=False)"


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "linear"])
def test_fused_neuron_is_one_node_with_the_same_floats(act):
    """The default neuron records z = w·x + b as one 'w·x+b' node whose inputs are b and
    the (w_i, x_i) pairs; its value and every gradient equal the gate-by-gate sum's."""
    n = Neuron(4, activation=act, seed=2) if act != "linear" else Neuron(4, nonlin=False, seed=2)
    x = [Value(0.5, label="x0"), 2.0, Value(-1.25, label="x2"), Value(0.75, label="x3")]
    out = n(x)
    z = out if act == "linear" else out.parents[0]
    assert (z.op, z.gate) == ("affine", "w·x+b")
    assert z.parents == (n.b, n.w[0], x[0], n.w[1], n.w[2], x[2], n.w[3], x[3])
    assert len(topological_order(out)) == 1 + 7 + 1 + (act != "linear")
    out.backward()
    fused = [p.grad for p in n.parameters()] + [x[0].grad, x[2].grad, x[3].grad]
    n.zero_grad()
    for v in (x[0], x[2], x[3]):
        v.grad = 0.0
    n.fused = False
    ref = n(x)
    assert ref.data == out.data
    ref.backward()
    assert fused == [p.grad for p in n.parameters()] + [x[0].grad, x[2].grad, x[3].grad]


def test_fused_mlp_matches_unfused_bit_for_bit():
    fused, gates = MLP(3, [8, 8, 2], seed=5), MLP(3, [8, 8, 2], seed=5, fused=False)
    assert repr(gates) == "MLP(3 -> [8 relu, 8 relu, 2 linear], fused=False)"
    assert repr(fused) == "MLP(3 -> [8 relu, 8 relu, 2 linear])"
    grads = []
    for m in (fused, gates):
        x = [Value(v) for v in (0.3, -1.1, 2.4)]
        a, b = m(x)
        loss = (a * b + a.tanh()) ** 2
        loss.backward()
        grads.append(([p.grad for p in m.parameters()] + [v.grad for v in x], loss.data,
                      sum(not v.is_leaf for v in topological_order(loss))))
    (g1, l1, n1), (g2, l2, n2) = grads
    assert l1 == l2 and g1 == g2
    assert n1 < n2 / 4  # one gate per neuron instead of two per input


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
    assert [layer.activation for layer in m.layers] == ["relu", "relu", "linear"]
    assert [n.nonlin for layer in m.layers for n in layer.neurons][-1] is False


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
    random.seed(0)
    before = random.random()
    random.seed(0)
    MLP(2, [4, 1], seed=1)
    assert random.random() == before


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
