"""Matplotlib plots of training: a model's decision boundary and the loss/accuracy curves.

Both return the ``matplotlib.figure.Figure`` (Jupyter shows it; ``fig.savefig`` writes
it).  The boundary evaluates the model on a grid with :func:`visualize.network.forward_numpy`
(values from its weights, in numpy, fast); the history plot reads ``history.loss`` and
``history.accuracy`` (an ``nn.History`` or a dict with those lists).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> fig = plot_history({"loss": [1.0, 0.5, 0.25], "accuracy": [0.5, 0.75, 1.0]})
    >>> len(fig.axes)
    2
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from .network import _activation, _layers, forward_numpy

__all__ = ["plot_decision_boundary", "plot_history", "grid_scores"]


def _figure(ax: Any = None, **kw: Any):
    from matplotlib.figure import Figure
    if ax is not None:
        return ax.figure, ax
    fig = Figure(**kw)
    return fig, fig.add_subplot(1, 1, 1)


def grid_scores(model: Any, X: np.ndarray, resolution: int = 100, margin: float = 0.5):
    """The model on a ``resolution``-square grid around X: ``(xx, yy, scores)``."""
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    out = forward_numpy(model, np.column_stack([xx.ravel(), yy.ravel()]))
    return xx, yy, out


def plot_decision_boundary(model: Any, X: Any, y: Any, resolution: int = 100,
                           threshold: Optional[float] = None, ax: Any = None,
                           title: str = "decision boundary"):
    """Regions the model assigns to each class, with the data points on top.

    One output: score > ``threshold`` is class 1 (default 0.5 for a sigmoid output, else
    0, which suits -1/+1 labels and logits); several outputs: argmax.  Returns the Figure.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (n, 2), got {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"plot_decision_boundary: {len(X)} rows in X but {len(y)} labels in y")
    if not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"plot_decision_boundary: resolution must be an int >= 2, "
                         f"got {resolution!r}")
    fig, ax = _figure(ax, figsize=(5, 4.5))
    xx, yy, out = grid_scores(model, X, resolution)
    if out.shape[1] == 1:
        if threshold is None:
            last = _activation(_layers(model)[-1].neurons[0])
            threshold = 0.5 if last == "sigmoid" else 0.0
        z = out[:, 0].reshape(xx.shape)
        ax.contourf(xx, yy, z > threshold, levels=[-0.5, 0.5, 1.5],
                    colors=["#f8d3b4", "#bcd6f5"], alpha=0.8)
        if z.min() < threshold < z.max():
            ax.contour(xx, yy, z, levels=[threshold], colors="k", linewidths=1)
    else:
        cls = out.argmax(axis=1).reshape(xx.shape)
        ax.contourf(xx, yy, cls, levels=np.arange(out.shape[1] + 1) - 0.5, cmap="Pastel1",
                    alpha=0.9)
    labels = y.argmax(axis=1) if y.ndim == 2 else y
    ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="coolwarm" if out.shape[1] == 1 else "Set1",
               s=18, edgecolors="k", linewidths=0.4)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_title(title)
    return fig


def _series(history: Any, name: str) -> list:
    if isinstance(history, dict):
        return list(history.get(name, []))
    if not hasattr(history, "loss"):
        raise TypeError(f"plot_history: expected an nn.History or a dict with 'loss' (and "
                        f"'accuracy'), got {type(history).__name__}")
    return list(getattr(history, name, []))


def plot_history(history: Any, ax: Any = None):
    """Loss (left) and accuracy (right, when known) against the step.  Returns the Figure."""
    loss = [float(v) for v in _series(history, "loss")]
    acc = [float(v) for v in _series(history, "accuracy")]
    steps = _series(history, "step") or list(range(1, len(loss) + 1))
    has_acc = any(not math.isnan(a) for a in acc)
    if ax is not None:
        fig, axes = ax.figure, [ax]
    else:
        from matplotlib.figure import Figure
        fig = Figure(figsize=(9 if has_acc else 5, 3.5))
        axes = fig.subplots(1, 2 if has_acc else 1)
        axes = list(np.atleast_1d(axes))
    axes[0].plot(steps[:len(loss)], loss, color="#cf222e")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("loss")
    axes[0].set_title("loss")
    if loss and min(loss) > 0 and max(loss) / min(loss) > 100:
        axes[0].set_yscale("log")
    if has_acc and len(axes) > 1:
        axes[1].plot(steps[:len(acc)], acc, color="#1a7f37")
        axes[1].set_ylim(-0.02, 1.02)
        axes[1].set_xlabel("step")
        axes[1].set_title("accuracy")
    fig.tight_layout()
    return fig
