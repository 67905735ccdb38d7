"""What a learner following the lecture (and the micrograd video) sees: labelled
parameters, numbered inputs, fused neurons read as their formula, micrograd's own graphs
and a lecture-style hand-written Value in every view, the lecture's manual backprop on
gradwire's Value, and formulas read from the op table."""
import html
import math
import re
from pathlib import Path

import micrograd.engine as mg
import pytest

from autodiff import Value, affine, backward_steps, chain_rule, ops, topological_order
from autodiff.explain import gradients_of
from autodiff.micrograd_compat import as_graph, micrograd_op
from nn import MLP, Neuron
from visualize import draw, draw_network, render, stepper

# --- a Value as the micrograd lecture writes it, by hand ---------------------------------

class LectureValue:
    """The lecture's class: data, grad, _prev, _op, label and a closure per node."""

    def __init__(self, data, _children=(), _op="", label=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op
        self.label = label

    def __add__(self, other):
        other = other if isinstance(other, LectureValue) else LectureValue(other)
        out = LectureValue(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += 1.0 * out.grad
            other.grad += 1.0 * out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, LectureValue) else LectureValue(other)
        out = LectureValue(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        out = LectureValue(self.data ** k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other):
        return self * other ** -1

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def tanh(self):
        t = math.tanh(self.data)
        out = LectureValue(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t ** 2) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = LectureValue(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def softsign(self):  # an op gradwire does not know
        out = LectureValue(self.data / (1 + abs(self.data)), (self,), "softsign")

        def _backward():
            self.grad += 1 / (1 + abs(self.data)) ** 2 * out.grad
        out._backward = _backward
        return out

    def backward(self):
        topo, seen = [], set()

        def build(v):
            if v not in seen:
                seen.add(v)
                for c in v._prev:
                    build(c)
                topo.append(v)
        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


def lecture_neuron(cls, **kw):
    """The lecture's neuron: o = tanh(x1*w1 + x2*w2 + b), b = 6.8813735870195432."""
    x1, x2 = cls(2.0, label="x1", **kw), cls(0.0, label="x2", **kw)
    w1, w2 = cls(-3.0, label="w1", **kw), cls(1.0, label="w2", **kw)
    b = cls(6.8813735870195432, label="b", **kw)
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + b
    o = n.tanh()
    return o, dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2,
                   x1w1x2w2=x1w1x2w2, n=n)


# --- gradwire's Value runs the lecture's code ----------------------------------------

def test_micrograd_attributes_on_gradwire_value():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    c = a * b
    d = c + a
    assert c._prev == {a, b} and d._prev == {c, a} and a._prev == set()
    assert (a + a)._prev == {a}
    x = Value(0.5)
    cases = {"+": a + b, "*": a * b, "tanh": x.tanh(), "exp": x.exp(), "ReLU": x.relu(),
             "**2": x ** 2, "+1": x + 1, "1/x": 1 / x, "*-1": -x, "": x}
    for symbol, v in cases.items():
        assert micrograd_op(v) == symbol
        assert v._op == symbol  # the lecture's own attribute reads the same
    assert micrograd_op(affine([Value(0.1), Value(0.2)], [1.0, 2.0], Value(0.0))) == "w·x+b"
    assert not hasattr(c, "__dict__")  # still one small slotted object per node


def test_lecture_manual_backprop_equals_backward():
    o, v = lecture_neuron(Value)
    o.grad = 1.0
    o._backward()
    v["n"]._backward()
    v["b"]._backward()  # a leaf: does nothing
    v["x1w1x2w2"]._backward()
    v["x2w2"]._backward()
    v["x1w1"]._backward()
    manual = {k: v[k].grad for k in ("x1", "x2", "w1", "w2", "b")}
    assert manual == {"x1": pytest.approx(-1.5), "x2": pytest.approx(0.5),
                      "w1": pytest.approx(1.0), "w2": 0.0, "b": pytest.approx(0.5)}
    o2, v2 = lecture_neuron(Value)
    o2.backward()
    assert manual == {k: v2[k].grad for k in manual}  # bit for bit


def test_manual_backprop_in_topological_order_on_random_graphs():
    import random
    rng = random.Random(7)
    for _ in range(30):
        xs = [Value(rng.uniform(-1, 1), f"x{i}") for i in range(3)]
        nodes = list(xs)
        for _ in range(12):
            a, b = rng.choice(nodes), rng.choice(nodes)
            nodes.append(rng.choice([a + b, a * b, a.tanh(), (a * 0.5).exp(), 1 / (1 + a * a),
                                     a.relu(), a ** 2]))
        out = nodes[-1] + nodes[-2] * nodes[-3]
        out.grad = 1.0
        for v in reversed(topological_order(out)):
            v._backward()
        manual = [x.grad for x in xs]
        for v in topological_order(out):
            v.grad = 0.0
        out.backward()
        assert [x.grad for x in xs] == pytest.approx(manual, rel=1e-12, abs=1e-15)


# --- micrograd-style graphs in every view --------------------------------------------------

@pytest.mark.parametrize("make", ["micrograd", "lecture"])
def test_diagram_render_and_stepper_on_micrograd_style_graphs(make, tmp_path):
    if make == "micrograd":
        a, b = mg.Value(2.0), mg.Value(-3.0)
        c = a * b + a
        out = (c.relu() + c ** 2) * b
    else:
        o, _v = lecture_neuron(LectureValue)
        out = o / (o + 2.0)  # **-1 and a leaf constant, as the lecture writes division
    out.backward()
    g = draw(out)
    assert "expected a Value" not in g.source and " -> " in g.source
    path = render(out, str(tmp_path / "graph.svg"))
    assert Path(path).read_text(encoding="utf-8").count("<svg") == 1
    s = stepper(out)
    root = as_graph(out)
    nodes = [n for n in _foreign_order(root)]
    gates = [n for n in nodes if not n.is_leaf]
    assert all(n.op is not None for n in gates)  # every op known: no 'unknown' caption
    assert len(s.steps) == 1 + len(gates) + 1 + len(gates)
    assert not any("unknown" in st["caption"] for st in s.steps)
    # the gradients the steps compute are the ones the class's own backward() gave
    grads = gradients_of(root)
    for n in nodes:
        assert grads[id(n)] == pytest.approx(n.obj.grad, rel=1e-12, abs=1e-12), n
    html = s.html()
    assert 'id="stepdata"' in html and "<svg" in html


def svg_texts(svg):
    """The texts an SVG draws, unescaped and stripped (non-breaking spaces too)."""
    return {html.unescape(t).strip("\xa0 ") for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)}


def _foreign_order(root):
    from autodiff.explain import graph_order
    return graph_order(root)


def test_lecture_class_labels_and_local_derivatives_in_captions():
    o, _v = lecture_neuron(LectureValue)
    o.label = "o"
    s = stepper(o)
    text = "\n".join(st["caption"] for st in s.steps)
    assert "gate tanh (output o, do/do = 1.00)" in text
    assert "d(tanh(x))/dx = 1-tanh(x)^2 = 0.50" in text  # the op table's rule, at n
    assert "-> x1" in text and "-> w1" in text and "-> b" in text
    drawn = svg_texts(s.svg())
    for name in ("x1", "x2", "w1", "w2", "b", "o"):
        assert name in drawn
    bw = backward_steps(o)
    mul = next(st for st in bw if set(st.receivers) == {"x1", "w1"})
    assert sorted(mul.products) == pytest.approx(sorted([-1.5, 1.0]))


def test_unknown_op_shows_values_gradients_and_says_so():
    x = LectureValue(0.5, label="x")
    y = (x * 3.0).softsign() * x
    y.label = "y"
    y.backward()
    s = stepper(y)
    caps = [st["caption"] for st in s.steps]
    assert any("softsign" in c and "formula unknown" in c for c in caps)
    # the unknown gate's input shows the gradient the class's own backward computed
    root = as_graph(y)
    grads = gradients_of(root)
    for n in _foreign_order(root):
        assert grads[id(n)] == pytest.approx(n.obj.grad, rel=1e-12)
    assert "unknown to gradwire" in chain_rule(y, x).text


def test_micrograd_graph_errors_name_what_is_wrong():
    with pytest.raises(TypeError, match="expected a Value, got dict"):
        stepper({"data": 1})
    with pytest.raises(TypeError, match="expected a Value, got str"):
        draw("x")


# --- names: parameters, numbered inputs ---------------------------------------------------

def test_parameters_carry_labels_where_they_sit():
    m = MLP(2, [3, 1], seed=0)
    labels = [p.label for p in m.parameters()]
    assert labels[:3] == ["L1.N0.w0", "L1.N0.w1", "L1.N0.b"]
    assert labels[-4:] == ["L2.N0.w0", "L2.N0.w1", "L2.N0.w2", "L2.N0.b"]
    assert len(set(labels)) == len(labels)
    n = Neuron(3, seed=0)
    assert [p.label for p in n.parameters()] == ["w0", "w1", "w2", "b"]


def test_labels_in_diagram_stepper_explainer_and_network():
    m = MLP(2, [2, 1], seed=0)
    y = m([1.0, -2.0])
    y.label = "y"
    y.backward()
    src = draw(y).source
    assert "L1.N0.w1" in src and "L2.N0.b" in src
    assert not re.search(r">n\d+&nbsp;<", src)  # no parameter drawn under a made-up name
    assert "L1.N1.b" in stepper(y).svg()
    text = "\n".join(line for st in backward_steps(y) for line in st.text_lines())
    assert "-> L1.N0.w1" in text and "-> L2.N0.b" in text
    assert "L1.N0.w0" in chain_rule(y, m.layers[0].neurons[0].w[0]).text
    net = draw_network(m, x=[1.0, -2.0]).source
    assert "L1.N0" in net and "L2.N0" in net and "L1.N1.w0=" in net


def test_labels_survive_save_and_load(tmp_path):
    m = MLP(2, [3, 1], seed=0)
    m.layers[0].neurons[1].w[0].label = "my weight"
    path = str(tmp_path / "m.json")
    m.save(path)
    m2 = MLP.load(path)
    assert [p.label for p in m2.parameters()] == [p.label for p in m.parameters()]
    assert m2.layers[0].neurons[1].w[0].label == "my weight"
    assert "my weight" in draw(m2([1.0, 2.0])).source


def test_a_file_without_labels_loads_with_the_default_labels(tmp_path):
    import json
    m = MLP(2, [2, 1], seed=0)
    doc = m.to_dict()
    for layer in doc["layers"]:
        del layer["labels"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    assert [p.label for p in MLP.load(str(path)).parameters()] == \
        [p.label for p in m.parameters()]


def test_bad_labels_in_a_file_are_refused(tmp_path):
    import json

    from nn import ModelFileError
    m = MLP(2, [2, 1], seed=0)
    doc = m.to_dict()
    doc["layers"][0]["labels"]["weights"][1][0] = 7
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=r"layers\[0\]\.labels\.weights\[1\]\[0\]"):
        MLP.load(str(path))


def test_numeric_inputs_are_named_by_position_without_becoming_nodes():
    n = Neuron(2, activation="tanh", seed=0)
    a = n([1.5, -2.0])
    a.backward()
    nodes = topological_order(a)
    assert len(nodes) == 5  # w0, w1, b, the w·x+b node, tanh: no node for a number
    src = draw(a).source
    assert ">x0&nbsp;<" in src and ">x1&nbsp;<" in src
    assert "1.50" in src and "-2.00" in src
    (fused,) = [s for s in backward_steps(a) if s.gate == "w·x+b"]
    assert "d(w·x+b)/dw1 = x1 = -2.00" in fused.rule
    assert {"x0", "x1"} <= svg_texts(stepper(a).svg())


def test_fused_node_inputs_read_as_the_formula():
    """b first, then each w_i beside its x_i: the edges into the gate come in that order
    and the gate keeps it (ordering=in)."""
    xs = [Value(0.5, "x0"), Value(-1.0, "x1")]
    n = Neuron(2, seed=0)
    z = n(xs)
    src = draw(z).source
    names = {}
    for m in re.finditer(r"\t(n\d+) \[.*?>(x0|x1|w0|w1|b)&nbsp;<", src):
        names[m.group(1)] = m.group(2)
    gate = re.search(r"\t(g\d+) \[[^\]]*w·x\+b[^\]]*ordering=in", src).group(1)
    into = [names[m.group(1)] for m in re.finditer(rf"\t(n\d+):wire:e -> {gate}\b", src)]
    assert into == ["b", "w0", "x0", "w1", "x1"]


# --- formulas come from the op table -----------------------------------------------------

@pytest.fixture
def edit_entry():
    """Edit a field of a (frozen) op-table entry in place for one test, then put it back."""
    saved = []

    def edit(op, **fields):
        for name, value in fields.items():
            saved.append((op, name, getattr(op, name)))
            object.__setattr__(op, name, value)
    yield edit
    for op, name, value in reversed(saved):
        object.__setattr__(op, name, value)


@pytest.mark.parametrize("op, build", [
    (ops.TANH, lambda x, y: x.tanh()),
    (ops.DIV, lambda x, y: x / y),
    (ops.EXP, lambda x, y: x.exp()),
    (ops.RDIV_C, lambda x, y: 1 / x),
])
def test_views_read_their_formulas_from_the_op_entry(op, build, edit_entry):
    edit_entry(op, formulas=tuple(f"RULE{i}(x)" for i in range(len(op.formulas))))
    x, y = Value(0.7, "x"), Value(1.3, "y")
    out = build(x, y)
    step = backward_steps(out)[0]
    assert "RULE0(x)" in step.rule
    assert "RULE0(x)" in "\n".join(st["caption"] for st in stepper(out).steps)
    if op is ops.TANH:  # a micrograd-style graph reads the same entry
        a = LectureValue(0.7)
        assert "RULE0(x)" in backward_steps(a.tanh())[0].rule
