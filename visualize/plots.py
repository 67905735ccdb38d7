"""Matplotlib plots of training: a model's decision boundary and the loss/accuracy curves.

Both return a :class:`PlotFigure`, a ``matplotlib.figure.Figure`` that Jupyter shows
exactly once: as the last expression of a cell, through ``display(fig)``, or (when
pyplot is in use, as in every notebook) through ``plt.show()`` or the inline backend's
end-of-cell flush; ``fig.savefig`` writes it.  Given ``ax=``, they draw into that
Axes and return its figure, which stays the caller's to show.

The boundary evaluates the model on a grid with :func:`visualize.network.forward_numpy`
(values from its weights, in numpy); each class's region is a light tint of the colour
of that class's points (:data:`CLASS_COLOURS`), for -1/+1, 0/1 and multi-class labels.
The history plot reads ``history.loss`` and ``history.accuracy`` (an ``nn.History`` or a
dict with those lists) and says whether each loss is on a batch or on all rows.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> fig = plot_history({"loss": [1.0, 0.5, 0.25], "accuracy": [0.5, 0.75, 1.0]})
    >>> len(fig.axes)
    2
"""

from __future__ import annotations

import math
import sys
from typing import Any, Optional, Tuple, cast

import numpy as np
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure

from autodiff.value import _is_real

from .network import _activation, _layers, forward_numpy

__all__ = [
    "plot_decision_boundary",
    "plot_history",
    "grid_scores",
    "PlotFigure",
    "CLASS_COLOURS",
    "tint",
    "MAX_RESOLUTION",
]

#: Point colours by class index (colour-blind safe); a class's region is ``tint`` of it.
#: Class 0 (or -1) is blue, class 1 (or +1) vermillion, then green, purple, orange...
CLASS_COLOURS = (
    "#0072b2",
    "#d55e00",
    "#009e73",
    "#8e44ad",
    "#e69f00",
    "#56b4e9",
    "#cc79a7",
    "#7f7f7f",
    "#a6761d",
    "#1b1b1b",
)

#: The largest ``resolution`` :func:`plot_decision_boundary` accepts: the model is
#: evaluated on ``resolution**2`` grid points (1000 -> one million).  Raise it here if
#: you really mean a finer grid.
MAX_RESOLUTION = 1000

_CHUNK = 65536
_IMAGE_MIMES = (
    "image/png",
    "image/svg+xml",
    "image/jpeg",
    "application/pdf",
)  # grid rows evaluated at once (bounds the memory of a fine grid)


def tint(colour: Any, strength: float = 0.25) -> str:
    """``colour`` mixed with white: ``strength`` of the colour, the rest white.

    >>> tint("#0072b2")
    '#bfdcec'
    """
    rgb = np.asarray(to_rgb(colour))
    return to_hex(tuple(strength * rgb + (1.0 - strength) * 1.0))


class PlotFigure(Figure):
    """A Figure that Jupyter shows once, however it is shown.

    Made through pyplot when pyplot is loaded (so ``plt.show()`` and the inline
    backend's end-of-cell flush show it), it leaves pyplot's list of open figures
    the moment IPython shows it (last expression of a cell, ``display(fig)``), so the
    flush does not show it a second time.  The image uses the formats the inline
    backend is set to (``%config InlineBackend.figure_formats``), PNG otherwise.

        >>> fig = PlotFigure(figsize=(2, 2)); _ = fig.add_subplot().plot([0, 1])
        >>> data, metadata = fig._repr_mimebundle_()   # what IPython shows
        >>> sorted(data), data["image/png"][:8]
        (['image/png'], 'iVBORw0K')
    """

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple:
        bundle: dict = {}
        metadata: dict = {}
        try:
            from IPython import get_ipython

            ip = get_ipython()
        except ImportError:
            ip = None
        if ip is not None:
            for mime in _IMAGE_MIMES:
                formatter = ip.display_formatter.formatters.get(mime)
                try:
                    printer = formatter.lookup_by_type(Figure)
                except (KeyError, AttributeError):
                    continue
                data = printer(self)
                if isinstance(data, tuple):  # retina PNGs come with their size
                    data, metadata[mime] = data
                if data is not None:
                    bundle[mime] = data
        if not bundle:
            import base64
            import io

            buf = io.BytesIO()
            self.savefig(buf, format="png", bbox_inches="tight")
            bundle["image/png"] = base64.b64encode(buf.getvalue()).decode("ascii")
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:  # shown now: the end-of-cell flush must not show it again
            plt.close(self)
        return bundle, metadata


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where figures and widgets show inline)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def _new_figure(**kw: Any) -> PlotFigure:
    """A :class:`PlotFigure`, made through pyplot when pyplot is loaded or in a Jupyter
    kernel (so ``plt.show()`` shows it), else standalone (nothing global, e.g. in a CLI)."""
    if "matplotlib.pyplot" in sys.modules or in_notebook():
        import matplotlib.pyplot as plt

        # pyplot makes it of FigureClass; its stubs promise only a Figure
        return cast(PlotFigure, plt.figure(FigureClass=PlotFigure, **kw))
    return PlotFigure(**kw)


def _check_model(model: Any) -> Tuple[int, int]:
    """(inputs, outputs) of an MLP-like model, with errors naming plot_decision_boundary."""
    try:
        layers = _layers(model)
        for li, layer in enumerate(layers):
            if not len(layer.neurons):
                raise ValueError(f"plot_decision_boundary(model): layer {li} has no neurons")
        nin = len(layers[0].neurons[0].w)
        nout = len(layers[-1].neurons)
    except (TypeError, AttributeError, IndexError, ValueError) as e:
        msg = str(e)
        detail = msg.split("(model): ", 1)[1] if "(model): " in msg else ""
        raise TypeError(
            f"plot_decision_boundary(model): expected an MLP (model.layers[i]"
            f".neurons[j] with .w and .b), got {type(model).__name__}"
            + (f" ({detail})" if detail and "expected an MLP" not in detail else "")
        ) from None
    for li, layer in enumerate(_layers(model)):
        for j, n in enumerate(layer.neurons):
            for name, v in [(f"w[{k}]", w) for k, w in enumerate(n.w)] + [("b", n.b)]:
                if not math.isfinite(v.data):
                    raise ValueError(
                        f"plot_decision_boundary(model): layer {li} neuron {j} "
                        f"has {name} = {v.data}; every parameter must be finite"
                    )
    if nin != 2:
        raise ValueError(
            f"plot_decision_boundary(model): the model takes {nin} inputs; a "
            f"decision boundary is drawn over 2 input features, so the model "
            f"must take 2 (X of shape (n, 2))"
        )
    return nin, nout


def _check_X(X: Any) -> np.ndarray:
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"plot_decision_boundary(X): X must be an (n, 2) array of numbers ({e})"
        ) from None
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary(X): X must have shape (n, 2), got {X.shape}")
    if len(X) == 0:
        raise ValueError("plot_decision_boundary(X): X has no rows; give at least one point")
    bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if bad.size:
        raise ValueError(
            f"plot_decision_boundary(X): row {bad[0]} of X is {X[bad[0]].tolist()}"
            f"; every coordinate must be a finite number ({bad.size} rows are not)"
        )
    with np.errstate(over="ignore"):
        span = X.max(axis=0) - X.min(axis=0)
    if not np.all(np.isfinite(span)):
        raise ValueError(
            "plot_decision_boundary(X): the range of X is too large to grid "
            "(its span overflows a float)"
        )
    return X


def _class_index(y: Any, nout: int, n: int) -> Tuple[np.ndarray, list]:
    """Each label's class index (0..K-1) and the K class names, as the model's output
    decides classes: one output -> 0 for the lower label (0 or -1), 1 for the upper."""
    y = np.asarray(y)
    if y.ndim == 2:
        if y.shape[1] != nout:
            raise ValueError(
                f"plot_decision_boundary(y): one-hot y has {y.shape[1]} columns "
                f"but the model has {nout} outputs"
            )
        y = y.argmax(axis=1)
    if y.ndim != 1:
        raise ValueError(
            f"plot_decision_boundary(y): y must be a 1-D array of class labels "
            f"(or one-hot rows), got shape {y.shape}"
        )
    if len(y) != n:
        raise ValueError(f"plot_decision_boundary: {n} rows in X but {len(y)} labels in y")
    try:
        yf = y.astype(float)
    except (TypeError, ValueError):
        raise ValueError(
            f"plot_decision_boundary(y): y must hold numeric class labels, got "
            f"{y.dtype} values such as {y.flat[0]!r}"
        ) from None
    if not np.all(np.isfinite(yf)):
        raise ValueError("plot_decision_boundary(y): y contains NaN or infinity")
    seen = sorted(set(yf.tolist()))
    if nout == 1:
        if len(seen) > 2 or not set(seen) <= {-1.0, 0.0, 1.0} or seen == [-1.0, 0.0]:
            raise ValueError(
                f"plot_decision_boundary(y): a one-output model separates two "
                f"classes labelled 0/1 or -1/+1; y holds {_show(seen)}"
            )
        pm1 = -1.0 in seen
        return (yf > 0).astype(int), (["-1", "+1"] if pm1 else ["0", "1"])
    if any(v != int(v) or not 0 <= v < nout for v in seen):
        raise ValueError(
            f"plot_decision_boundary(y): a model with {nout} outputs needs class "
            f"ids 0..{nout - 1}; y holds {_show(seen)}"
        )
    return yf.astype(int), [str(k) for k in range(nout)]


def _show(values: list) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:6])
    return "{" + shown + (", ..." if len(values) > 6 else "") + "}"


def grid_scores(
    model: Any, X: np.ndarray, resolution: int = 100, margin: float = 0.5
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model on a ``resolution``-square grid around X: ``(xx, yy, scores)``, scores of
    shape (resolution**2, outputs), evaluated in chunks so memory stays bounded."""
    X = np.asarray(X, dtype=float)
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    pts = np.column_stack([xx.ravel(), yy.ravel()])
    with np.errstate(over="ignore", invalid="ignore"):  # callers check for inf/NaN
        out = np.concatenate(
            [forward_numpy(model, pts[i : i + _CHUNK]) for i in range(0, len(pts), _CHUNK)]
        )
    return xx, yy, out


def plot_decision_boundary(
    model: Any,
    X: Any,
    y: Any,
    resolution: int = 100,
    threshold: Optional[float] = None,
    ax: Any = None,
    title: str = "decision boundary",
) -> Figure:
    """Regions the model assigns to each class, with the data points on top.

    One output: score > ``threshold`` is the upper class (1 or +1; the threshold is 0.5
    for a sigmoid output, else 0, which suits -1/+1 labels and logits); several
    outputs: argmax.  Each region is a light tint of its class's point colour.  The
    model is evaluated on a ``resolution`` x ``resolution`` grid; ``resolution`` is at
    most :data:`MAX_RESOLUTION` (1000).  Returns the Figure (a :class:`PlotFigure`
    unless ``ax`` is given).

        >>> from nn import MLP, datasets
        >>> X, y = datasets.moons(20, seed=0, labels="pm1")
        >>> fig = plot_decision_boundary(MLP(2, [4, 1], seed=0), X, y, resolution=20)
        >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        ['class -1', 'class +1']
    """
    _, nout = _check_model(model)
    X = _check_X(X)
    idx, names = _class_index(y, nout, len(X))
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, (int, np.integer))
        or not 2 <= resolution <= MAX_RESOLUTION
    ):
        raise ValueError(
            f"plot_decision_boundary(resolution={resolution!r}): resolution must "
            f"be an int from 2 to {MAX_RESOLUTION} (the model is evaluated on "
            f"resolution² grid points; raise visualize.plots.MAX_RESOLUTION to "
            f"go finer)"
        )
    if threshold is not None and (not _is_real(threshold) or not math.isfinite(threshold)):
        raise ValueError(
            f"plot_decision_boundary(threshold={threshold!r}): threshold must be a finite number"
        )
    if not isinstance(title, str):
        raise TypeError(
            f"plot_decision_boundary(title=...): title must be a str, got {type(title).__name__}"
        )
    xx, yy, out = grid_scores(model, X, int(resolution))
    if not np.all(np.isfinite(out)):
        raise ValueError(
            "plot_decision_boundary(model): the model's outputs are NaN or "
            "infinite on the grid around X; are its parameters finite?"
        )
    if nout == 1:
        if threshold is None:
            last = _activation(_layers(model)[-1].neurons[0])
            threshold = 0.5 if last == "sigmoid" else 0.0
        score = out[:, 0] - threshold
        margins = [-score, score]  # lower class where score <= threshold
    else:  # class k wins by out_k - max of the others
        margins = [out[:, k] - np.delete(out, k, axis=1).max(axis=1) for k in range(nout)]
    if ax is None:
        fig = _new_figure(figsize=(5, 4.5), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    colours = [CLASS_COLOURS[k % len(CLASS_COLOURS)] for k in range(len(names))]
    for k, colour in enumerate(colours):
        m = margins[k].reshape(xx.shape)
        if m.max() > 0:  # the class's region, a light tint of its points' colour
            ax.contourf(xx, yy, m, levels=[0.0, m.max() + 1.0], colors=[tint(colour)])
    for m in [v.reshape(xx.shape) for v in margins[1 if nout == 1 else 0 :]]:
        if m.min() < 0 < m.max():
            ax.contour(xx, yy, m, levels=[0.0], colors="#333333", linewidths=0.9)
    for k, colour in enumerate(colours):
        pts = X[idx == k]
        if len(pts):
            ax.scatter(
                pts[:, 0],
                pts[:, 1],
                color=colour,
                s=20,
                edgecolors="#222222",
                linewidths=0.4,
                label=f"class {names[k]}",
                zorder=3,
            )
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    if len(names) <= 10:
        ax.legend(loc="best", fontsize="small", framealpha=0.85, handletextpad=0.2, borderpad=0.3)
    ax.set_title(title)
    return fig


def _series(history: Any, name: str) -> list:
    if isinstance(history, dict):
        return list(history.get(name, []))
    if not hasattr(history, "loss"):
        raise TypeError(
            f"plot_history: expected an nn.History or a dict with 'loss' (and "
            f"'accuracy'), got {type(history).__name__}"
        )
    return list(getattr(history, name, []))


def _what_loss(history: Any) -> str:
    """'batch' when a step's loss is on part of the data (several steps per epoch),
    'all' when every step saw all rows, '' when the history does not say."""
    epochs = _series(history, "epoch")
    if not epochs:
        return ""
    return "batch" if len(set(epochs)) < len(epochs) else "all"


def plot_history(history: Any, ax: Any = None) -> Figure:
    """Loss (left) and accuracy (right, when known) against the step; the titles say
    whether each point is one step's mini-batch or all rows.  Returns the Figure.

        >>> import matplotlib; matplotlib.use("Agg")
        >>> from nn import MLP, datasets, fit
        >>> X, y = datasets.moons(20, seed=0, labels="pm1")
        >>> h = fit(MLP(2, [4, 1], seed=0), X, y, batch_size=5, steps=8, progress=False)
        >>> plot_history(h).axes[0].get_title()
        "loss on each step's batch"
    """
    loss = [float(v) for v in _series(history, "loss")]
    acc = [float(v) for v in _series(history, "accuracy")]
    steps = _series(history, "step") or list(range(1, len(loss) + 1))
    has_acc = any(not math.isnan(a) for a in acc)
    if ax is not None:
        fig, axes = ax.figure, [ax]
    else:
        fig = _new_figure(figsize=(9 if has_acc else 5, 3.5), layout="constrained")
        axes = list(fig.subplots(1, 2 if has_acc else 1, squeeze=False)[0])
    on = {"batch": " on each step's batch", "all": " on all rows"}.get(_what_loss(history), "")
    axes[0].plot(steps[: len(loss)], loss, color="#cf222e")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("loss")
    axes[0].set_title("loss" + on)
    if loss and min(loss) > 0 and max(loss) / min(loss) > 100:
        axes[0].set_yscale("log")
    if has_acc and len(axes) > 1:
        axes[1].plot(steps[: len(acc)], acc, color="#1a7f37")
        axes[1].set_ylim(-0.02, 1.02)
        axes[1].set_xlabel("step")
        axes[1].set_title("accuracy" + on)
    return fig
