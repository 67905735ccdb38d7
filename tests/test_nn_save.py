"""MLP.save / MLP.load: round trip, atomic writes, and a clear error for each bad file."""
import json
import os

import numpy as np
import pytest

import nn.modules
from nn import MLP, ModelFileError, predict
from nn.datasets import moons


@pytest.fixture
def saved(tmp_path):
    model = MLP(2, [5, 4, 3], activation="tanh", seed=0)
    path = tmp_path / "model.json"
    model.save(path)
    return model, path


def test_round_trip_predicts_identically(saved):
    model, path = saved
    loaded = MLP.load(path)
    X, _ = moons(30, seed=1)
    assert repr(loaded) == repr(model) == "MLP(2 -> [5 tanh, 4 tanh, 3 linear])"
    assert np.array_equal(predict(loaded, X), predict(model, X))
    assert [p.data for p in loaded.parameters()] == [p.data for p in model.parameters()]
    doc = json.loads(path.read_text())
    assert doc["format"] == "gradwire-mlp" and doc["version"] == 1 and doc["nin"] == 2
    assert [layer["activation"] for layer in doc["layers"]] == ["tanh", "tanh", "linear"]


def test_sigmoid_output_round_trip(tmp_path):
    m = MLP(3, [2, 1], out_activation="sigmoid", seed=2)
    m.save(tmp_path / "m.json")
    assert repr(MLP.load(tmp_path / "m.json")) == "MLP(3 -> [2 relu, 1 sigmoid])"


def test_interrupted_save_leaves_previous_file_loadable(saved, monkeypatch):
    model, path = saved
    before = path.read_bytes()

    def crash(obj, f, **kw):
        f.write('{"format": "gradwire-mlp", "version": 1, "la')  # part of the document
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(nn.modules.json, "dump", crash)
    changed = MLP(2, [5, 4, 3], activation="tanh", seed=1)
    with pytest.raises(OSError, match="simulated"):
        changed.save(path)
    assert path.read_bytes() == before
    assert [p.data for p in MLP.load(path).parameters()] == [p.data for p in model.parameters()]
    assert os.listdir(path.parent) == ["model.json"]  # no temporary file left behind


def test_save_refuses_nan_parameters(tmp_path):
    m = MLP(2, [1], seed=0)
    m.layers[0].neurons[0].b.data = float("nan")
    with pytest.raises(ValueError, match=r"layers\.0\.neurons\.0\.b is nan"):
        m.save(tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def _mutate(path, fn):
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


def _set(keys, value):
    def f(doc):
        d = doc
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return f


def _delete(keys):
    def f(doc):
        d = doc
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]
    return f


@pytest.mark.parametrize("mutate, match", [
    (_set(["version"], 2), "unsupported version 2"),
    (_set(["format"], "keras"), "format is 'keras'"),
    (_delete(["layers"]), "missing key 'layers'"),
    (_delete(["layers", 1, "biases"]), r"layers\[1\]: missing key 'biases'"),
    (_set(["layers", 0, "weights", 2], [0.1]),
     r"layers\[0\].weights\[2\]: wrong shape, expected 2"),
    (_set(["layers", 1, "weights"], [[0.0] * 5] * 3),
     r"layers\[1\].weights: wrong shape, expected 4 rows of 5"),
    (_set(["layers", 2, "biases"], [0.0]), r"layers\[2\].biases: wrong shape"),
    (_set(["layers", 0, "weights", 0, 1], "0.5"), r"layers\[0\].weights\[0\]\[1\] is not a number"),
    (_set(["layers", 0, "biases", 0], None), r"biases\[0\] is not a number"),
    (_set(["layers", 0, "biases", 0], True), r"biases\[0\] is not a number"),
    (_set(["layers", 0, "activation"], "swish"), "activation 'swish' is not one of"),
    (_set(["nin"], 0), "nin must be a positive int"),
    (_set(["layers"], []), "layers must be a non-empty list"),
])
def test_malformed_files_raise_clear_errors(saved, mutate, match):
    _, path = saved
    _mutate(path, mutate)
    with pytest.raises(ModelFileError, match=match) as e:
        MLP.load(path)
    assert str(path) in str(e.value)


def test_nan_in_file(saved):
    _, path = saved
    path.write_text(path.read_text().replace('"biases": [', '"biases": [NaN, ', 1))
    with pytest.raises(ModelFileError, match="contains NaN"):
        MLP.load(path)


def test_truncated_and_invalid_json(saved):
    _, path = saved
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ModelFileError, match="truncated") as e:
        MLP.load(path)
    assert str(path) in str(e.value)
    path.write_text("{this is not json}")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        MLP.load(path)
    path.write_text("[1, 2]")
    with pytest.raises(ModelFileError, match="expected a JSON object, got list"):
        MLP.load(path)
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelFileError, match="not a text"):
        MLP.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "nope.json")


def test_load_follows_a_symlink_to_a_regular_file(saved, tmp_path):
    model, path = saved
    link = tmp_path / "link.json"
    link.symlink_to(path)
    assert MLP.load(link).state_dict() == model.state_dict()
