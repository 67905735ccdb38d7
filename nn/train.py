"""Training loops: batch, stochastic and mini-batch gradient descent, as the seed contrasts them.

A :class:`Trainer` owns one model, its data, a loss and an optimizer, and makes one
update per :meth:`Trainer.step`: on all rows (``batch_size=None``, batch gradient
descent, 1 update per epoch), on one row (``batch_size=1``, stochastic gradient
descent, n updates per epoch) or on ``k`` rows (mini-batch, ceil(n/k) updates per
epoch; rows reshuffled every epoch from ``seed``).  Each step returns a
:class:`StepInfo` and appends to the :class:`History`.  :func:`fit` runs a Trainer for a
number of steps or epochs, stops early on convergence (``tol``), shows a tqdm bar on long
runs and calls ``callback(info)`` after every step (return False to stop) for live views.
:func:`predict` and :func:`accuracy` evaluate a model on an array of inputs.

    >>> from nn import MLP, datasets
    >>> X, y = datasets.moons(40, seed=0, labels="pm1")
    >>> h = fit(MLP(2, [8, 1], seed=0), X, y, loss="hinge", steps=5, progress=False)
    >>> len(h), h.loss[-1] < h.loss[0]
    (5, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import numpy as np

from autodiff import Value, no_grad

from . import losses as _losses
from .optim import SGD, Adam, Optimizer

__all__ = ["Trainer", "fit", "History", "StepInfo", "predict", "accuracy"]

#: fit shows a progress bar when a run has at least this many steps
PROGRESS_MIN_STEPS = 50


@dataclass(frozen=True)
class StepInfo:
    """What one update did: ``step`` (0-based count of updates before this one),
    ``epoch`` (0-based), the batch's ``loss`` (data loss plus the L2 term) and
    ``accuracy`` (nan when the targets are not classes), and the ``batch_size`` used."""
    step: int
    epoch: int
    loss: float
    accuracy: float
    batch_size: int


@dataclass
class History:
    """Per-step records of a training run: lists ``step``, ``epoch``, ``loss``,
    ``accuracy``; ``stopped`` says why the run ended ('steps', 'tol', 'callback')."""
    step: list = field(default_factory=list)
    epoch: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    stopped: str = ""

    def append(self, info: StepInfo) -> None:
        self.step.append(info.step)
        self.epoch.append(info.epoch)
        self.loss.append(info.loss)
        self.accuracy.append(info.accuracy)

    def __len__(self) -> int:
        return len(self.loss)

    def __repr__(self) -> str:
        if not self.loss:
            return "History(0 steps)"
        return (f"History({len(self)} steps, loss {self.loss[0]:.4g} -> {self.loss[-1]:.4g}"
                f", accuracy {self.accuracy[-1]:.3f}"
                + (f", stopped by {self.stopped}" if self.stopped else "") + ")")


# --- evaluation -------------------------------------------------------------------------

def _rows(X: Any, nin: int, where: str) -> list:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1 and nin == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != nin:
        raise ValueError(f"{where}: X must have shape (n, {nin}) for a model with "
                         f"{nin} inputs, got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{where}: X contains NaN or infinity")
    return X.tolist()


def _outputs(preds: list) -> np.ndarray:
    if preds and isinstance(preds[0], list):
        return np.array([[v.data for v in p] for p in preds])
    return np.array([p.data if isinstance(p, Value) else float(p) for p in preds])


def predict(model: Any, X: Any, classes: bool = False, threshold: float = 0.0) -> np.ndarray:
    """The model's outputs for every row of X, without recording a graph: an (n,) array
    of scores for one output, (n, k) for k.  ``classes=True`` turns them into class
    ids: argmax for k outputs, ``score > threshold`` (0 or 1) for one.

        >>> from nn import MLP
        >>> predict(MLP(2, [3], seed=0), [[0.0, 0.0]]).shape
        (1, 3)
    """
    rows = _rows(X, model.nin, "predict")
    with no_grad():
        out = _outputs([model(r) for r in rows])
    if not classes:
        return out
    return out.argmax(axis=1) if out.ndim == 2 else (out > threshold).astype(np.int64)


def _is_classes(y: np.ndarray) -> bool:
    return y.ndim == 2 or (y.size > 0 and np.all(y == np.round(y)))


def _accuracy(out: np.ndarray, y: np.ndarray, threshold: float) -> float:
    """Fraction of rows classified right; nan when y holds no class labels."""
    if not _is_classes(y):
        return math.nan
    if out.ndim == 2:
        truth = y.argmax(axis=1) if y.ndim == 2 else y
        return float(np.mean(out.argmax(axis=1) == truth))
    if np.any(y < 0):  # labels -1/+1: the sign decides
        return float(np.mean((out > 0) == (y > 0)))
    return float(np.mean((out > threshold).astype(int) == y))


def _threshold(model: Any, loss: Callable) -> float:
    last = getattr(model.layers[-1], "activation", "linear") if hasattr(model, "layers") \
        else "linear"
    if last == "sigmoid" or loss in (_losses.mse, _losses.l1):
        return 0.5
    return 0.0


def accuracy(model: Any, X: Any, y: Any, threshold: Optional[float] = None) -> float:
    """Fraction of rows of X the model classifies as y says: argmax for k outputs;
    for one output the sign (labels -1/+1) or ``score > threshold`` (labels 0/1; 0.5
    for a sigmoid output, 0 otherwise).

        >>> from nn import MLP
        >>> m = MLP(1, [1], seed=0); m.layers[0].neurons[0].w[0].data = 1.0
        >>> accuracy(m, [[-1.0], [2.0]], [-1, 1])
        1.0
    """
    y = np.asarray(y)
    out = predict(model, X)
    if len(y) != len(out):
        raise ValueError(f"accuracy: {len(out)} rows in X but {len(y)} labels in y")
    if threshold is None:
        threshold = _threshold(model, None)
    return _accuracy(out, y, threshold)


# --- the trainer ------------------------------------------------------------------------

def _default_loss(model: Any, y: np.ndarray) -> Callable:
    if model.nouts[-1] > 1:
        return _losses.cross_entropy
    if _is_classes(y) and set(np.unique(y).tolist()) <= {-1, 1} and np.any(y < 0):
        return _losses.hinge
    if _is_classes(y) and set(np.unique(y).tolist()) <= {0, 1}:
        if model.layers[-1].activation == "sigmoid":
            return _losses.bce
        return _losses.bce_with_logits
    return _losses.mse


class Trainer:
    """One model, its data, a loss and an optimizer; :meth:`step` makes one update.

    ``loss``: a name from ``nn.losses`` (``'hinge'``, ``'cross_entropy'``...) or a
    function ``loss(predictions, targets) -> Value``; None picks one from the model
    and labels.  ``optimizer``: an ``nn.optim`` optimizer (SGD, Adam, RandomSearch...)
    built on ``model.parameters()``, or ``'sgd'``/``'adam'``; None means SGD with lr 0.1.
    ``l2`` adds ``l2 * sum(p*p)`` to the loss.  ``compile=True`` trains with the
    compiled tape (``nn.compiled``): loss, L2 term, gradients and the optimizer's update
    on flat arrays, written back into the model's Values after every :meth:`step`
    (``fit``: before each callback and when it returns).

        >>> from nn import MLP, datasets
        >>> X, y = datasets.xor(12, seed=0)
        >>> t = Trainer(MLP(2, [4, 2], seed=0), X, y, batch_size=5)
        >>> t.updates_per_epoch, t.step().batch_size, t.step().batch_size, t.step().batch_size
        (3, 5, 5, 2)
    """

    def __init__(self, model: Any, X: Any, y: Any, loss: Union[str, Callable, None] = None,
                 optimizer: Union[Optimizer, str, None] = None,
                 batch_size: Optional[int] = None, l2: float = 0.0, seed: int = 0,
                 compile: bool = False) -> None:
        self.model = model
        self._rows = _rows(X, model.nin, "Trainer")
        self.X = np.asarray(X, dtype=float).reshape(len(self._rows), model.nin)
        self.y = np.asarray(y)
        n = len(self._rows)
        if n == 0:
            raise ValueError("Trainer: X has no rows")
        if len(self.y) != n:
            raise ValueError(f"Trainer: {n} rows in X but {len(self.y)} targets in y")
        self.loss = _default_loss(model, self.y) if loss is None else _losses.get(loss)
        if optimizer is None or optimizer == "sgd":
            optimizer = SGD(model.parameters(), lr=0.1)
        elif optimizer == "adam":
            optimizer = Adam(model.parameters(), lr=0.01)
        elif not isinstance(optimizer, Optimizer):
            raise TypeError(f"Trainer: optimizer must be an nn.optim optimizer or 'sgd'/"
                            f"'adam', got {optimizer!r}")
        self.optimizer = optimizer
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"Trainer: batch_size must be None (all rows), 1 or a "
                             f"positive int, got {batch_size!r}")
        self.batch_size = None if batch_size is None else int(batch_size)
        if not (isinstance(l2, (int, float)) and l2 >= 0 and math.isfinite(l2)):
            raise ValueError(f"Trainer: l2 must be a number >= 0, got {l2!r}")
        self.l2 = float(l2)
        self.rng = np.random.default_rng(seed)
        self.threshold = _threshold(model, self.loss)
        self.history = History()
        self.steps_done = 0
        self.epoch = 0
        self._queue: list = []
        self._compiled = None
        if compile:
            if optimizer.gradient_free:
                raise ValueError("Trainer: compile=True computes gradients; a gradient-"
                                 "free optimizer has no use for them")
            try:
                from .compiled import CompiledObjective
            except ModuleNotFoundError as e:
                if e.name not in ("nn.compiled", __package__ + ".compiled"):
                    raise
                raise RuntimeError("Trainer(compile=True) needs the compiled tape "
                                   "(nn/compiled.py), which this installation does not "
                                   "have; use compile=False") from None
            self._compiled = CompiledObjective(model, self.loss, self.X, self.y, l2=self.l2)

    @property
    def n(self) -> int:
        return len(self._rows)

    @property
    def updates_per_epoch(self) -> int:
        """1 for batch gradient descent, n for SGD, ceil(n / k) for mini-batches of k."""
        if self.batch_size is None:
            return 1
        return math.ceil(self.n / self.batch_size)

    def _next_batch(self) -> np.ndarray:
        if not self._queue:
            if self.steps_done:
                self.epoch += 1
            if self.batch_size is None:
                self._queue = [np.arange(self.n)]
            else:
                order = self.rng.permutation(self.n)
                k = self.batch_size
                self._queue = [order[i:i + k] for i in range(0, self.n, k)]
            self._queue.reverse()
        return self._queue.pop()

    def _reg(self) -> Optional[Value]:
        if not self.l2:
            return None
        return self.l2 * sum(p * p for p in self.model.parameters())

    def objective(self, idx: np.ndarray) -> tuple:
        """``(loss Value, outputs array)`` on rows ``idx``: the data loss (mean over the
        rows) plus the L2 term, recorded eagerly."""
        preds = [self.model(self._rows[i]) for i in idx]
        total = self.loss(preds, self.y[idx])
        reg = self._reg()
        if reg is not None:
            total = total + reg
        return total, _outputs(preds)

    def step(self) -> StepInfo:
        """Make one update on the next batch and record it."""
        info = self._update()
        self.sync()
        return info

    def sync(self) -> None:
        """Compiled training keeps the parameters in arrays between updates: write
        them into the model's Values (a no-op when they are there already)."""
        if self._compiled is not None:
            self._compiled.sync()

    def _update(self) -> StepInfo:
        idx = self._next_batch()
        epoch = self.epoch
        opt = self.optimizer
        if opt.gradient_free:
            loss = opt.step(lambda: self.objective(idx)[0])
            with no_grad():
                out = _outputs([self.model(self._rows[i]) for i in idx])
        elif self._compiled is not None:   # data loss and L2 term compiled, on arrays
            loss, out = self._compiled.step(idx, opt)
        else:
            self.model.zero_grad()
            opt.zero_grad()
            total, out = self.objective(idx)
            total.backward()
            loss = total.data
            opt.step()
        info = StepInfo(step=self.steps_done, epoch=epoch, loss=float(loss),
                        accuracy=_accuracy(np.asarray(out), self.y[idx], self.threshold),
                        batch_size=len(idx))
        self.steps_done += 1
        self.history.append(info)
        return info

    def __repr__(self) -> str:
        bs = "all rows" if self.batch_size is None else self.batch_size
        return (f"Trainer({self.model!r}, n={self.n}, loss={self.loss.__name__}, "
                f"optimizer={self.optimizer!r}, batch_size={bs}, steps={self.steps_done})")


def _progress_bar(total: int, progress: bool) -> Any:
    if not progress or total < PROGRESS_MIN_STEPS:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional: no bar
        return None
    return tqdm(total=total, unit="step", leave=False)


def fit(model: Any, X: Any, y: Any, loss: Union[str, Callable, None] = None,
        optimizer: Union[Optimizer, str, None] = None, steps: Optional[int] = None,
        epochs: Optional[int] = None, batch_size: Optional[int] = None,
        tol: Optional[float] = None, l2: float = 0.0, seed: int = 0,
        progress: bool = True, callback: Optional[Callable[[StepInfo], Any]] = None,
        compile: bool = False) -> History:
    """Train ``model`` on (X, y) and return its :class:`History`.

    Runs ``steps`` updates, or ``epochs`` epochs (each ``updates_per_epoch`` updates),
    100 steps if neither is given.  ``tol`` stops once the loss changes by less than
    ``tol``: from one step to the next for batch gradient descent, from one epoch's mean
    to the next otherwise.  ``callback(info)`` runs after every step; returning False
    stops.  Other arguments as :class:`Trainer`.

        >>> from nn import MLP, datasets, optim
        >>> X, y = datasets.blobs(30, centers=2, std=0.3, seed=0)
        >>> m = MLP(2, [2], seed=0)
        >>> h = fit(m, X, y, optimizer=optim.Adam(m.parameters(), lr=0.1), steps=30,
        ...         progress=False)
        >>> h.accuracy[-1]
        1.0
    """
    trainer = Trainer(model, X, y, loss=loss, optimizer=optimizer, batch_size=batch_size,
                      l2=l2, seed=seed, compile=compile)
    if steps is not None and epochs is not None:
        raise ValueError("fit: give steps or epochs, not both")
    for name, v in (("steps", steps), ("epochs", epochs)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))
                              or v < 1):
            raise ValueError(f"fit: {name} must be a positive int, got {v!r}")
    if tol is not None and not (isinstance(tol, (int, float)) and tol >= 0):
        raise ValueError(f"fit: tol must be a number >= 0, got {tol!r}")
    total = (int(steps) if steps is not None else
             int(epochs) * trainer.updates_per_epoch if epochs is not None else 100)
    history = trainer.history
    history.stopped = "steps"
    bar = _progress_bar(total, progress)
    per_epoch = trainer.updates_per_epoch
    prev = None
    try:
        for _ in range(total):
            info = trainer._update()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{info.loss:.4g}", acc=f"{info.accuracy:.3f}")
            if callback is not None:
                trainer.sync()      # the model's Values hold this step's numbers
                if callback(info) is False:
                    history.stopped = "callback"
                    break
            if tol is not None and trainer.steps_done % per_epoch == 0:
                cur = float(np.mean(history.loss[-per_epoch:]))
                if prev is not None and abs(prev - cur) < tol:
                    history.stopped = "tol"
                    break
                prev = cur
    finally:
        trainer.sync()
        if bar is not None:
            bar.close()
    return history
