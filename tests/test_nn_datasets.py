"""nn.datasets: shapes, dtypes, labels, seeding, geometry, and argument errors."""
import numpy as np
import pytest

from nn import datasets


@pytest.mark.parametrize("name, kw, n, k", [
    ("moons", dict(n=101), 101, 2), ("circles", dict(n=60), 60, 2),
    ("spiral", dict(n_per_class=40, k=4), 160, 4), ("xor", dict(n=50), 50, 2),
    ("blobs", dict(n=45, centers=3), 45, 3),
])
def test_shapes_dtypes_labels_and_seeds(name, kw, n, k):
    X, y = datasets.load(name, **kw)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert sorted(set(y.tolist())) == list(range(k))
    X2, y2 = datasets.load(name, seed=0, **kw)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    X3, _ = datasets.load(name, seed=1, **kw)
    assert not np.array_equal(X, X3)


def test_pm1_labels():
    _, y = datasets.moons(20, seed=0)
    _, ypm = datasets.moons(20, seed=0, labels="pm1")
    assert np.array_equal(ypm, 2 * y - 1)
    with pytest.raises(ValueError, match="labels='pm1' needs 2 classes, this set has 3"):
        datasets.spiral(10, 3, labels="pm1")


def test_geometry():
    X, y = datasets.circles(200, noise=0.0, factor=0.3)
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(r[y == 0], 1.0) and np.allclose(r[y == 1], 0.3)
    X, y = datasets.xor(200)
    assert np.all((X[:, 0] * X[:, 1] < 0) == (y == 1))
    X, y = datasets.moons(200, noise=0.0)
    assert np.all(X[y == 0, 1] >= -1e-12) and np.all(X[y == 1, 1] <= 0.5 + 1e-12)
    X, y = datasets.spiral(50, 3, noise=0.0)
    assert np.max(np.hypot(X[:, 0], X[:, 1])) == pytest.approx(1.0)
    X, y = datasets.blobs(300, centers=[[0, 0], [10, 10]], std=0.1)
    assert np.all(np.abs(X[y == 1] - 10) < 1)


@pytest.mark.parametrize("call, match", [
    (lambda: datasets.moons(1), "moons: n must be an int >= 2"),
    (lambda: datasets.moons(10.5), "moons: n must be an int"),
    (lambda: datasets.moons(10, noise=-1), "moons: noise must be a finite number >= 0"),
    (lambda: datasets.circles(10, factor=1.5), "factor must be between 0 and 1"),
    (lambda: datasets.spiral(10, k=1), r"spiral: k \(number of classes\) must be an int >= 2"),
    (lambda: datasets.blobs(10, centers=[1, 2, 3]), r"centers must be an int or a \(k, 2\) array"),
    (lambda: datasets.xor(10, labels="bool"), "labels must be '01'"),
    (lambda: datasets.load("mnist"), "unknown dataset 'mnist'; choose one of moons"),
    (lambda: datasets.load("moons", size=3), r"datasets.load\('moons'\)"),
])
def test_argument_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
