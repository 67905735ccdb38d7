"""Small 2-D toy datasets for classification, made with seeded numpy (nothing downloaded).

``moons``, ``circles``, ``spiral`` (k classes), ``xor`` and ``blobs`` each return
``X``, an (n, 2) float array, and ``y``, an (n,) int array of class ids 0..k-1
(``labels="pm1"`` gives -1/+1 for two-class sets, as the hinge loss wants).  The same
``seed`` gives the same points; ``load(name, **kwargs)`` picks one by name.  Every
generator returns exactly the number of points asked for (``spiral`` takes points per
class, or ``n`` in all), refuses more than ``max_samples`` (default
:data:`MAX_SAMPLES`, a million; None for no limit) and refuses noise so large that the
points are no longer finite.

    >>> X, y = moons(100, noise=0.1, seed=0)
    >>> X.shape, y.shape, sorted(set(y.tolist()))
    ((100, 2), (100,), [0, 1])
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

__all__ = ["moons", "circles", "spiral", "xor", "blobs", "load", "DATASETS", "MAX_SAMPLES"]

Data = Tuple[np.ndarray, np.ndarray]

#: The most points a generator makes unless its ``max_samples`` says otherwise: a
#: scalar engine takes minutes per epoch on a million.
MAX_SAMPLES = 1_000_000


def _count(n: Any, what: str, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {n!r:.40}")
    return int(n)


def _limit(total: int, max_samples: Any, name: str) -> None:
    """Refuse more than ``max_samples`` points in all (None: no limit)."""
    if max_samples is None:
        return
    if (
        isinstance(max_samples, bool)
        or not isinstance(max_samples, (int, np.integer))
        or max_samples < 1
    ):
        raise ValueError(
            f"{name}: max_samples must be a positive int or None, got {max_samples!r:.40}"
        )
    if total > max_samples:
        raise ValueError(
            f"{name}: {total:,} points is more than max_samples="
            f"{int(max_samples):,}; pass a larger max_samples (or None) if "
            "you mean it"
        )


def _rng(seed: Any, name: str) -> np.random.Generator:
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise ValueError(f"{name}: seed must be None or an int >= 0, got {seed!r:.40}")
    return np.random.default_rng(seed)


def _finite(X: np.ndarray, noise: float, name: str) -> np.ndarray:
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name}: noise={noise!r} is too large: the points overflow to infinity")
    return X


def _nonneg(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.floating, np.integer)):
        raise ValueError(f"{what} must be a finite number >= 0, got {x!r:.40}")
    try:
        v = float(x)
    except OverflowError:  # an int beyond the float range
        v = float("inf")
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {x!r:.40}")
    return v


def _labels(y: np.ndarray, labels: str, k: int, name: str) -> np.ndarray:
    if labels == "01" or labels == "ids":
        return y
    if labels == "pm1":
        if k != 2:
            raise ValueError(f"{name}: labels='pm1' needs 2 classes, this set has {k}")
        return 2 * y - 1
    raise ValueError(
        f"{name}: labels must be '01' (class ids) or 'pm1' (-1/+1), got {labels!r:.40}"
    )


def _shuffle(rng: np.random.Generator, X: np.ndarray, y: np.ndarray) -> Data:
    order = rng.permutation(len(y))
    return X[order].astype(np.float64), y[order].astype(np.int64)


def moons(
    n: int = 100,
    noise: float = 0.1,
    seed: Optional[int] = 0,
    labels: str = "01",
    max_samples: Optional[int] = MAX_SAMPLES,
) -> Data:
    """Two interleaving half circles (as scikit-learn's ``make_moons``), Gaussian
    noise of std ``noise`` added; class 0 the upper moon, class 1 the lower."""
    n = _count(n, "moons: n", 2)
    _limit(n, max_samples, "moons")
    noise = _nonneg(noise, "moons: noise")
    rng = _rng(seed, "moons")
    n0 = n // 2
    n1 = n - n0
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n1)
    X = np.vstack([np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
    X = _finite(X + rng.normal(scale=noise, size=X.shape), noise, "moons")
    X, y = _shuffle(rng, X, y)
    return X, _labels(y, labels, 2, "moons")


def circles(
    n: int = 100,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: Optional[int] = 0,
    labels: str = "01",
    max_samples: Optional[int] = MAX_SAMPLES,
) -> Data:
    """A small circle (class 1, radius ``factor``) inside a unit circle (class 0)."""
    n = _count(n, "circles: n", 2)
    _limit(n, max_samples, "circles")
    noise = _nonneg(noise, "circles: noise")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
        raise ValueError(f"circles: factor must be between 0 and 1, got {factor!r:.40}")
    rng = _rng(seed, "circles")
    n0 = n // 2
    n1 = n - n0
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.vstack([np.c_[np.cos(t0), np.sin(t0)], factor * np.c_[np.cos(t1), np.sin(t1)]])
    y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
    X = _finite(X + rng.normal(scale=noise, size=X.shape), noise, "circles")
    X, y = _shuffle(rng, X, y)
    return X, _labels(y, labels, 2, "circles")


def spiral(
    n_per_class: Optional[int] = None,
    k: int = 3,
    noise: float = 0.2,
    seed: Optional[int] = 0,
    labels: str = "01",
    n: Optional[int] = None,
    max_samples: Optional[int] = MAX_SAMPLES,
) -> Data:
    """k interleaved spiral arms (the CS231n toy set): arm j has radius 0..1 and angle
    4j..4(j+1) plus Gaussian noise of std ``noise`` on the angle.  Give the points per
    arm (``n_per_class``, 100 by default) or the total ``n`` (at least one per arm;
    the first ``n % k`` arms get one point more), never both.

        >>> spiral(n=10, k=3)[0].shape
        (10, 2)
    """
    k = _count(k, "spiral: k (number of classes)", 2)
    if n is not None:
        if n_per_class is not None:
            raise ValueError(
                "spiral: give n_per_class (points per arm) or n (points in all), not both"
            )
        n = _count(n, "spiral: n", 1)
        if n < k:
            raise ValueError(
                f"spiral: n={n} points cannot make {k} arms; give n >= k "
                f"(at least one point per class)"
            )
        sizes = [n // k + (1 if j < n % k else 0) for j in range(k)]
    else:
        per = _count(100 if n_per_class is None else n_per_class, "spiral: n_per_class")
        sizes = [per] * k
    _limit(sum(sizes), max_samples, "spiral")
    noise = _nonneg(noise, "spiral: noise")
    rng = _rng(seed, "spiral")
    X = np.zeros((sum(sizes), 2))
    y = np.zeros(sum(sizes), int)
    start = 0
    for j, m in enumerate(sizes):
        ix = slice(start, start + m)
        start += m
        r = np.linspace(0.0, 1.0, m)
        with np.errstate(over="ignore", invalid="ignore"):  # checked by _finite below
            t = np.linspace(j * 4, (j + 1) * 4, m) + rng.normal(size=m) * noise
            X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    X, y = _shuffle(rng, _finite(X, noise, "spiral"), y)
    return X, _labels(y, labels, k, "spiral")


def xor(
    n: int = 100,
    noise: float = 0.0,
    seed: Optional[int] = 0,
    labels: str = "01",
    max_samples: Optional[int] = MAX_SAMPLES,
) -> Data:
    """Points uniform in [-1, 1]^2, class 1 where exactly one coordinate is positive
    (no straight line separates the classes); optional Gaussian noise on X after."""
    n = _count(n, "xor: n", 2)
    _limit(n, max_samples, "xor")
    noise = _nonneg(noise, "xor: noise")
    rng = _rng(seed, "xor")
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64)
    X = _finite(X + rng.normal(scale=noise, size=X.shape), noise, "xor") if noise else X
    return X.astype(np.float64), _labels(y, labels, 2, "xor")


def blobs(
    n: int = 100,
    centers: Any = 3,
    std: float = 0.5,
    seed: Optional[int] = 0,
    labels: str = "01",
    max_samples: Optional[int] = MAX_SAMPLES,
) -> Data:
    """Gaussian blobs: ``centers`` an int (that many centres drawn in [-4, 4]^2, at
    most n) or a (k, 2) array of finite numbers; n points dealt round-robin among
    them, std ``std``."""
    n = _count(n, "blobs: n")
    _limit(n, max_samples, "blobs")
    std = _nonneg(std, "blobs: std")
    rng = _rng(seed, "blobs")
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        k = _count(centers, "blobs: centers")
        if k > n:
            raise ValueError(
                f"blobs: {k} centers for {n} points; give at most one center per point"
            )
        c = rng.uniform(-4.0, 4.0, size=(k, 2))
    else:
        try:
            c = np.asarray(centers, dtype=float)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"blobs: centers must be an int or a (k, 2) array of numbers: {e}"
            ) from None
        if c.ndim != 2 or c.shape[1] != 2 or len(c) < 1:
            raise ValueError(
                f"blobs: centers must be an int or a (k, 2) array, got shape {c.shape}"
            )
        if not np.all(np.isfinite(c)):
            raise ValueError("blobs: centers contain NaN or infinity")
        k = len(c)
    y = np.arange(n) % k
    X = _finite(c[y] + rng.normal(scale=std, size=(n, 2)), std, "blobs")
    X, y = _shuffle(rng, X, y)
    return X, _labels(y, labels, k, "blobs")


DATASETS: Dict[str, Callable[..., Data]] = {
    "moons": moons,
    "circles": circles,
    "spiral": spiral,
    "xor": xor,
    "blobs": blobs,
}


def load(name: str, **kwargs: Any) -> Data:
    """A dataset by name: ``load('spiral', n_per_class=50, k=4)``.

    >>> X, y = load("xor", n=8, seed=1); X.shape
    (8, 2)
    """
    try:
        fn = DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None
    try:
        return fn(**kwargs)
    except TypeError as e:
        raise TypeError(f"datasets.load({name!r}): {e}") from None
