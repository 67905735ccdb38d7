"""Small 2-D toy datasets for classification, made with seeded numpy (nothing downloaded).

``moons``, ``circles``, ``spiral`` (k classes), ``xor`` and ``blobs`` each return
``X``, an (n, 2) float array, and ``y``, an (n,) int array of class ids 0..k-1
(``labels="pm1"`` gives -1/+1 for two-class sets, as the hinge loss wants).  The same
``seed`` gives the same points; ``load(name, **kwargs)`` picks one by name.

    >>> X, y = moons(100, noise=0.1, seed=0)
    >>> X.shape, y.shape, sorted(set(y.tolist()))
    ((100, 2), (100,), [0, 1])
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

__all__ = ["moons", "circles", "spiral", "xor", "blobs", "load", "DATASETS"]

Data = Tuple[np.ndarray, np.ndarray]


def _count(n: Any, what: str, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {n!r}")
    return int(n)


def _nonneg(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.floating, np.integer)) \
            or not np.isfinite(x) or x < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {x!r}")
    return float(x)


def _labels(y: np.ndarray, labels: str, k: int, name: str) -> np.ndarray:
    if labels == "01" or labels == "ids":
        return y
    if labels == "pm1":
        if k != 2:
            raise ValueError(f"{name}: labels='pm1' needs 2 classes, this set has {k}")
        return 2 * y - 1
    raise ValueError(f"{name}: labels must be '01' (class ids) or 'pm1' (-1/+1), "
                     f"got {labels!r}")


def _shuffle(rng: np.random.Generator, X: np.ndarray, y: np.ndarray) -> Data:
    order = rng.permutation(len(y))
    return X[order].astype(np.float64), y[order].astype(np.int64)


def moons(n: int = 100, noise: float = 0.1, seed: Optional[int] = 0,
          labels: str = "01") -> Data:
    """Two interleaving half circles (as scikit-learn's ``make_moons``), Gaussian
    noise of std ``noise`` added; class 0 the upper moon, class 1 the lower."""
    n = _count(n, "moons: n", 2)
    noise = _nonneg(noise, "moons: noise")
    rng = np.random.default_rng(seed)
    n0 = n // 2
    n1 = n - n0
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n1)
    X = np.vstack([np.c_[np.cos(t0), np.sin(t0)],
                   np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
    X = X + rng.normal(scale=noise, size=X.shape)
    X, y = _shuffle(rng, X, y)
    return X, _labels(y, labels, 2, "moons")


def circles(n: int = 100, noise: float = 0.05, factor: float = 0.5,
            seed: Optional[int] = 0, labels: str = "01") -> Data:
    """A small circle (class 1, radius ``factor``) inside a unit circle (class 0)."""
    n = _count(n, "circles: n", 2)
    noise = _nonneg(noise, "circles: noise")
    if not isinstance(factor, (int, float)) or not 0 < factor < 1:
        raise ValueError(f"circles: factor must be between 0 and 1, got {factor!r}")
    rng = np.random.default_rng(seed)
    n0 = n // 2
    n1 = n - n0
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.vstack([np.c_[np.cos(t0), np.sin(t0)],
                   factor * np.c_[np.cos(t1), np.sin(t1)]])
    y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
    X = X + rng.normal(scale=noise, size=X.shape)
    X, y = _shuffle(rng, X, y)
    return X, _labels(y, labels, 2, "circles")


def spiral(n_per_class: int = 100, k: int = 3, noise: float = 0.2,
           seed: Optional[int] = 0, labels: str = "01") -> Data:
    """k interleaved spiral arms (the CS231n toy set): arm j has radius 0..1 and angle
    4j..4(j+1) plus Gaussian noise of std ``noise`` on the angle."""
    n_per_class = _count(n_per_class, "spiral: n_per_class")
    k = _count(k, "spiral: k (number of classes)", 2)
    noise = _nonneg(noise, "spiral: noise")
    rng = np.random.default_rng(seed)
    X = np.zeros((n_per_class * k, 2))
    y = np.zeros(n_per_class * k, int)
    for j in range(k):
        ix = slice(n_per_class * j, n_per_class * (j + 1))
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(j * 4, (j + 1) * 4, n_per_class) + rng.normal(size=n_per_class) * noise
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    X, y = _shuffle(rng, X, y)
    return X, _labels(y, labels, k, "spiral")


def xor(n: int = 100, noise: float = 0.0, seed: Optional[int] = 0,
        labels: str = "01") -> Data:
    """Points uniform in [-1, 1]^2, class 1 where exactly one coordinate is positive
    (no straight line separates the classes); optional Gaussian noise on X after."""
    n = _count(n, "xor: n", 2)
    noise = _nonneg(noise, "xor: noise")
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64)
    X = X + rng.normal(scale=noise, size=X.shape) if noise else X
    return X.astype(np.float64), _labels(y, labels, 2, "xor")


def blobs(n: int = 100, centers: Any = 3, std: float = 0.5, seed: Optional[int] = 0,
          labels: str = "01") -> Data:
    """Gaussian blobs: ``centers`` an int (that many centres drawn in [-4, 4]^2) or a
    (k, 2) array; n points dealt round-robin among them, std ``std``."""
    n = _count(n, "blobs: n")
    std = _nonneg(std, "blobs: std")
    rng = np.random.default_rng(seed)
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        k = _count(centers, "blobs: centers")
        c = rng.uniform(-4.0, 4.0, size=(k, 2))
    else:
        c = np.asarray(centers, dtype=float)
        if c.ndim != 2 or c.shape[1] != 2 or len(c) < 1:
            raise ValueError(f"blobs: centers must be an int or a (k, 2) array, "
                             f"got shape {c.shape}")
        k = len(c)
    y = np.arange(n) % k
    X = c[y] + rng.normal(scale=std, size=(n, 2))
    X, y = _shuffle(rng, X, y)
    return X, _labels(y, labels, k, "blobs")


DATASETS = {"moons": moons, "circles": circles, "spiral": spiral, "xor": xor,
            "blobs": blobs}


def load(name: str, **kwargs: Any) -> Data:
    """A dataset by name: ``load('spiral', n_per_class=50, k=4)``.

        >>> X, y = load("xor", n=8, seed=1); X.shape
        (8, 2)
    """
    try:
        fn = DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown dataset {name!r}; choose one of "
                         f"{', '.join(DATASETS)}") from None
    try:
        return fn(**kwargs)
    except TypeError as e:
        raise TypeError(f"datasets.load({name!r}): {e}") from None
