"""Size guards and hardened model files: absurd sizes are refused before anything is
allocated (with limits that can be lifted), and ``MLP.load`` turns every malformed or
hostile file into a ``ModelFileError`` naming it, without blocking or reading without
bound."""
import contextlib
import json
import os
import threading

import numpy as np
import pytest

from nn import MLP, Layer, ModelFileError, Neuron, datasets
from nn.datasets import MAX_SAMPLES
from nn.modules import MAX_FILE_BYTES, MAX_PARAMS

# --- model sizes ----------------------------------------------------------------------------

@pytest.mark.parametrize("make, count", [
    (lambda: MLP(2, [10 ** 9]), "3,000,000,000"),
    (lambda: MLP(2, [2000, 2000, 1]), "4,010,001"),
    (lambda: Layer(10 ** 6, 10 ** 3), "1,000,001,000"),
    (lambda: Neuron(10 ** 7), "10,000,001"),
])
def test_huge_models_are_refused_before_allocating(make, count):
    with pytest.raises(ValueError, match=f"{count} parameters is more than max_params="
                                         f"{MAX_PARAMS:,}"):
        make()


def test_max_params_can_be_lowered_or_lifted():
    assert len(MLP(2, [10, 1], max_params=41, seed=0).parameters()) == 41
    with pytest.raises(ValueError, match="41 parameters is more than max_params=40"):
        MLP(2, [10, 1], max_params=40)
    with pytest.raises(ValueError, match="6 parameters is more than max_params=5"):
        Layer(2, 2, max_params=5)
    assert len(Neuron(3, max_params=None, seed=0).parameters()) == 4
    with pytest.raises(ValueError, match="max_params must be a positive int or None"):
        MLP(2, [1], max_params="a")


# --- dataset sizes --------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: datasets.moons(10 ** 7), lambda: datasets.circles(10 ** 7),
    lambda: datasets.xor(10 ** 7), lambda: datasets.blobs(10 ** 7),
    lambda: datasets.spiral(10 ** 6, k=3), lambda: datasets.spiral(n=10 ** 7),
    lambda: datasets.load("moons", n=10 ** 12),
])
def test_absurd_sample_counts_are_refused(make):
    with pytest.raises(ValueError, match=f"points is more than max_samples={MAX_SAMPLES:,}"):
        make()


def test_max_samples_can_be_lowered_or_lifted():
    with pytest.raises(ValueError, match="20 points is more than max_samples=10"):
        datasets.moons(20, max_samples=10)
    assert datasets.moons(20, max_samples=20)[0].shape == (20, 2)
    assert datasets.xor(20, max_samples=None)[0].shape == (20, 2)


@pytest.mark.parametrize("n, k", [(3, 3), (4, 3), (5, 3), (7, 2), (10, 4), (1, 2), (301, 3)])
def test_spiral_gives_exactly_n_points(n, k):
    if n < k:
        with pytest.raises(ValueError, match=f"n={n} points cannot make {k} arms"):
            datasets.spiral(n=n, k=k)
        return
    X, y = datasets.spiral(n=n, k=k, seed=0)
    counts = np.bincount(y, minlength=k)
    assert X.shape == (n, 2) and len(y) == n
    assert counts.sum() == n and counts.max() - counts.min() <= 1 and counts.min() >= 1


def test_spiral_refuses_too_few_points_and_both_counts():
    with pytest.raises(ValueError, match="n=1 points cannot make 3 arms"):
        datasets.spiral(n=1)
    with pytest.raises(ValueError, match="not both"):
        datasets.spiral(5, n=15)
    assert datasets.load("spiral", n=6)[0].shape == (6, 2)


@pytest.mark.parametrize("make", [
    lambda: datasets.moons(10, noise=1e308), lambda: datasets.circles(10, noise=1e308),
    lambda: datasets.xor(100, noise=1e308), lambda: datasets.spiral(5, noise=1e308),
    lambda: datasets.blobs(10, std=1e308),
])
def test_noise_that_overflows_is_refused(make):
    with pytest.raises(ValueError, match="is too large: the points overflow to infinity"):
        make()


@pytest.mark.parametrize("name", list(datasets.DATASETS))
@pytest.mark.parametrize("seed", ["a", -1, 1.5])
def test_dataset_seed_is_named(name, seed):
    with pytest.raises(ValueError, match=f"{name}: seed must be None or an int >= 0"):
        datasets.load(name, seed=seed)


def test_blobs_centers_that_are_not_points():
    with pytest.raises(ValueError, match="blobs: centers contain NaN or infinity"):
        datasets.blobs(10, centers=[[0.0, np.nan], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"blobs: centers must be an int or a .* of numbers"):
        datasets.blobs(10, centers=[["a", "b"]])
    with pytest.raises(ValueError, match="blobs: 5 centers for 3 points"):
        datasets.blobs(3, centers=5)


# --- model files ----------------------------------------------------------------------------

def _doc():
    return MLP(2, [2, 1], seed=0).to_dict()


def _write(tmp_path, text, name="m.json"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_huge_integer_weight_is_a_model_file_error(tmp_path):
    doc = _doc()
    doc["layers"][0]["weights"][0][0] = 10 ** 400
    path = _write(tmp_path, json.dumps(doc))
    with pytest.raises(ModelFileError, match=r"m\.json.*weights\[0\]\[0\] is an integer "
                                             r"too large for a float \(401 digits\)"):
        MLP.load(path)


def test_integer_beyond_the_digit_limit_is_a_model_file_error(tmp_path):
    text = json.dumps(_doc()).replace('"nin": 2', '"nin": ' + "9" * 5000)
    path = _write(tmp_path, text)
    with pytest.raises(ModelFileError, match=r"m\.json: not a model file"):
        MLP.load(path)


def test_deeply_nested_json_is_a_model_file_error(tmp_path):
    path = _write(tmp_path, "[" * 200_000 + "]" * 200_000)
    with pytest.raises(ModelFileError,
                       match=r"m\.json: not a model file: .*nested too deeply"):
        MLP.load(path)


def test_file_declaring_too_many_parameters(tmp_path):
    doc = _doc()
    doc["layers"][0]["nout"] = 10 ** 6
    path = _write(tmp_path, json.dumps(doc))
    with pytest.raises(ModelFileError, match=r"m\.json: declares 4,000,001 parameters, more "
                                             r"than max_params"):
        MLP.load(path)
    small = _write(tmp_path, json.dumps(_doc()), "small.json")
    with pytest.raises(ModelFileError, match="declares 9 parameters, more than max_params=8"):
        MLP.load(small, max_params=8)
    assert len(MLP.load(small, max_params=9).parameters()) == 9


def test_file_larger_than_max_bytes(tmp_path):
    path = _write(tmp_path, json.dumps(_doc()))
    size = os.path.getsize(path)
    with pytest.raises(ModelFileError, match=f"m\\.json: {size:,} bytes is more than "
                                             f"max_bytes=100"):
        MLP.load(path, max_bytes=100)
    assert MLP.load(path, max_bytes=None).nouts == [2, 1]
    assert MLP.load(path, max_bytes=size).nouts == [2, 1]
    assert MAX_FILE_BYTES == 64 * 1024 * 1024
    with pytest.raises(ValueError, match="max_bytes must be a positive int or None"):
        MLP.load(path, max_bytes=-1)


def _load_with_timeout(path, unblock=None, timeout=5.0):
    """Run MLP.load(path) in a thread; return the exception it raised.  A load still
    running after ``timeout`` seconds fails the test (after ``unblock()`` frees it)."""
    result = {}

    def run():
        try:
            MLP.load(path)
            result["error"] = None
        except BaseException as e:  # handed to the test
            result["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        if unblock is not None:
            unblock()
        t.join(timeout)
        pytest.fail(f"MLP.load({path!r}) was still running after {timeout} s")
    return result["error"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = str(tmp_path / "model.json")
    os.mkfifo(fifo)

    def unblock():  # a writer lets a load blocked in open() go on
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    err = _load_with_timeout(fifo, unblock)
    assert isinstance(err, ModelFileError)
    assert "model.json: is a FIFO (named pipe), not a regular file" in str(err)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_unread(device):
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    err = _load_with_timeout(device)
    assert isinstance(err, ModelFileError)
    assert f"{device}: is a device, not a regular file" in str(err)


def test_folder_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="is a folder, not a regular file"):
        MLP.load(str(tmp_path))



def test_state_dict_with_a_huge_integer_is_refused_by_name():
    m = MLP(2, [1], seed=0)
    state = m.state_dict()
    state["layers.0.neurons.0.w.1"] = 10 ** 400
    with pytest.raises(ValueError, match=r"load_state_dict: layers\.0\.neurons\.0\.w\.1 "
                                         "must be a finite number"):
        m.load_state_dict(state)
