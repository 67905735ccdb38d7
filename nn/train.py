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

Everything is checked before the first update: X and y hold finite numbers, the loss
suits the model's outputs and the labels (:func:`nn.losses.check_fit`), the
hyper-parameters are in range.  A loss that becomes NaN or infinite during training
stops it with :class:`DivergedError`, the model keeping the parameters it had before
the update that produced it (see :meth:`Trainer.step`).

    >>> from nn import MLP, datasets
    >>> X, y = datasets.moons(40, seed=0, labels="pm1")
    >>> h = fit(MLP(2, [8, 1], seed=0), X, y, loss="hinge", steps=5, progress=False)
    >>> len(h), h.loss[-1] < h.loss[0]
    (5, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, NoReturn, Optional, Union, cast

import numpy as np

from autodiff import Value, no_grad
from autodiff.value import _is_int, _is_real

from . import losses as _losses
from .optim import SGD, Adam, Optimizer

__all__ = ["Trainer", "fit", "History", "StepInfo", "predict", "accuracy", "DivergedError"]

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
        return (
            f"History({len(self)} steps, loss {self.loss[0]:.4g} -> {self.loss[-1]:.4g}"
            f", accuracy {self.accuracy[-1]:.3f}"
            + (f", stopped by {self.stopped}" if self.stopped else "")
            + ")"
        )


class DivergedError(FloatingPointError):
    """Training stopped because a loss or a parameter became NaN or infinite.

    ``step`` is the step that found it, ``loss`` that step's loss, ``restored_to`` the
    number of updates the model's parameters now reflect (the parameters as they were
    before the update that produced the bad value), and ``history`` the run's records
    up to the last good step."""

    def __init__(
        self,
        message: str,
        step: int,
        loss: float,
        restored_to: int,
        history: Optional[History] = None,
    ) -> None:
        super().__init__(message)
        self.step, self.loss, self.restored_to = step, loss, restored_to
        self.history = history


# --- evaluation -------------------------------------------------------------------------


def _rows(X: Any, nin: int, where: str) -> list:
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{where}: X must be an (n, {nin}) array of numbers: {e}") from None
    if X.ndim == 1 and nin == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != nin:
        raise ValueError(
            f"{where}: X must have shape (n, {nin}) for a model with {nin} inputs, got {X.shape}"
        )
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
    if not _is_real(threshold) or not math.isfinite(threshold):
        raise ValueError(f"predict: threshold must be a finite number, got {threshold!r:.40}")
    rows = _rows(X, model.nin, "predict")
    with no_grad():
        out = _outputs([model(r) for r in rows])
    if not classes:
        return out
    return out.argmax(axis=1) if out.ndim == 2 else (out > threshold).astype(np.int64)


def _is_classes(y: np.ndarray) -> bool:
    return y.ndim == 2 or (y.size > 0 and bool(np.all(y == np.round(y))))


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


def _out_activation(model: Any) -> Optional[str]:
    """The activation the model declares for its last layer, or None if it does not."""
    layers = getattr(model, "layers", None)
    if isinstance(layers, (list, tuple)) and layers:
        act = getattr(layers[-1], "activation", None)
        return act if isinstance(act, str) else None
    return None


def _n_outputs(model: Any, row: list) -> int:
    """How many outputs the model gives: ``nouts[-1]``, or counted on one row."""
    nouts = getattr(model, "nouts", None)
    if isinstance(nouts, (list, tuple)) and nouts:
        return int(nouts[-1])
    with no_grad():
        out = model(row)
    return len(out) if isinstance(out, (list, tuple)) else 1


def _threshold(model: Any, loss: Optional[Callable]) -> float:
    last = _out_activation(model) or "linear"
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
    y = _losses._target_array(y, "accuracy")
    out = predict(model, X)
    if len(y) != len(out):
        raise ValueError(f"accuracy: {len(out)} rows in X but {len(y)} labels in y")
    if threshold is None:
        threshold = _threshold(model, None)
    elif not _is_real(threshold) or not math.isfinite(threshold):
        raise ValueError(f"accuracy: threshold must be a finite number, got {threshold!r:.40}")
    return _accuracy(out, y, threshold)


# --- the trainer ------------------------------------------------------------------------


def _default_loss(model: Any, y: np.ndarray, k: int) -> Callable:
    if k > 1:
        return _losses.cross_entropy
    if _is_classes(y) and set(np.unique(y).tolist()) <= {-1, 1} and np.any(y < 0):
        return _losses.hinge
    if _is_classes(y) and set(np.unique(y).tolist()) <= {0, 1}:
        if _out_activation(model) == "sigmoid":
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
    (``fit``: before each callback and when it returns).  ``seed`` (an int >= 0, or
    None for fresh entropy) orders the mini-batches.

    Made, it has checked everything a run needs, eager or compiled alike: X, y and the
    model's parameters hold finite numbers, one row of X per label; the loss suits the
    model's output count (and last activation) and the labels
    (:func:`nn.losses.check_fit`: cross-entropy on one output, hinge on 0/1 labels, bce
    on a linear output... raise ``ValueError`` naming the loss, the output count and
    the labels seen); a loss of your own returns a Value.

        >>> from nn import MLP, datasets
        >>> X, y = datasets.xor(12, seed=0)
        >>> t = Trainer(MLP(2, [4, 2], seed=0), X, y, batch_size=5)
        >>> t.updates_per_epoch, t.step().batch_size, t.step().batch_size, t.step().batch_size
        (3, 5, 5, 2)
    """

    def __init__(
        self,
        model: Any,
        X: Any,
        y: Any,
        loss: Union[str, Callable, None] = None,
        optimizer: Union[Optimizer, str, None] = None,
        batch_size: Optional[int] = None,
        l2: float = 0.0,
        seed: Optional[int] = 0,
        compile: bool = False,
    ) -> None:
        self.model = model
        self._rows = _rows(X, model.nin, "Trainer")
        self.X = np.asarray(X, dtype=float).reshape(len(self._rows), model.nin)
        self.y = _losses._target_array(y, "Trainer")
        n = len(self._rows)
        if n == 0:
            raise ValueError("Trainer: X has no rows")
        if len(self.y) != n:
            raise ValueError(f"Trainer: {n} rows in X but {len(self.y)} targets in y")
        if seed is not None and (not _is_int(seed) or seed < 0):
            raise ValueError(f"Trainer: seed must be an int >= 0 (or None), got {seed!r:.40}")
        k = _n_outputs(model, self._rows[0])
        self.loss = _default_loss(model, self.y, k) if loss is None else _losses.get(loss)
        _losses.check_fit(self.loss, k, self.y, _out_activation(model), "Trainer")
        if optimizer is None or optimizer == "sgd":
            optimizer = SGD(model.parameters(), lr=0.1)
        elif optimizer == "adam":
            optimizer = Adam(model.parameters(), lr=0.01)
        elif not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"Trainer: optimizer must be an nn.optim optimizer or 'sgd'/"
                f"'adam', got {optimizer!r}"
            )
        self.optimizer = optimizer
        for name, p in (
            model.named_parameters()
            if hasattr(model, "named_parameters")
            else enumerate(model.parameters())
        ):
            if not math.isfinite(p.data):
                raise ValueError(
                    f"Trainer: the model's parameter {name} is {p.data!r}; "
                    "training cannot start from NaN or infinite parameters"
                )
        mine = {id(p) for p in model.parameters()}
        if not any(id(p) in mine for p in optimizer.params):
            raise ValueError(
                f"Trainer: the optimizer {optimizer!r} holds none of the "
                "model's parameters; build it on model.parameters()"
            )
        if batch_size is not None and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(
                f"Trainer: batch_size must be None (all rows), 1 or a "
                f"positive int, got {batch_size!r}"
            )
        self.batch_size = None if batch_size is None else int(batch_size)
        if not (_is_real(l2) and l2 >= 0 and math.isfinite(l2)):
            raise ValueError(f"Trainer: l2 must be a number >= 0, got {l2!r:.40}")
        self.l2 = float(l2)
        self.rng = np.random.default_rng(seed)
        self.threshold = _threshold(model, self.loss)
        self.history = History()
        self.steps_done = 0
        self.epoch = 0
        self._queue: list = []
        self._compiled = None
        self._before_last: Optional[list] = None  # parameters before the last update
        if compile:
            if optimizer.gradient_free:
                raise ValueError(
                    "Trainer: compile=True computes gradients; a gradient-"
                    "free optimizer has no use for them"
                )
            try:
                from .compiled import CompiledObjective
            except ModuleNotFoundError as e:
                if e.name not in ("nn.compiled", __package__ + ".compiled"):
                    raise
                raise RuntimeError(
                    "Trainer(compile=True) needs the compiled tape "
                    "(nn/compiled.py), which this installation does not "
                    "have; use compile=False"
                ) from None
            if self.loss not in _losses.LOSSES.values():  # tracing needs a Value
                with no_grad():
                    self._check_loss_value(self.loss([model(self._rows[0])], self.y[:1]))
            try:
                self._compiled = CompiledObjective(model, self.loss, self.X, self.y, l2=self.l2)
            except (OverflowError, ZeroDivisionError, FloatingPointError) as e:
                # tracing and checking the tape compute the first rows' loss
                self._diverged(math.inf if isinstance(e, OverflowError) else math.nan, 0, cause=e)

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
                self._queue = [order[i : i + k] for i in range(0, self.n, k)]
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
        total = self._check_loss_value(self.loss(preds, self.y[idx]))
        reg = self._reg()
        if reg is not None:
            total = total + reg
        return total, _outputs(preds)

    def _check_loss_value(self, v: Any) -> Value:
        if not isinstance(v, Value):
            name = getattr(self.loss, "__name__", "the loss")
            raise TypeError(
                f"Trainer: the loss function {name} returned a "
                f"{type(v).__name__} ({v!r:.40}), expected a Value: compute it "
                "from the predictions with Value operations so it has a "
                "gradient"
            )
        return v

    def _diverged(
        self, loss: float, epoch: int, kept: str = "", cause: Optional[BaseException] = None
    ) -> NoReturn:
        """Stop on a non-finite loss at this step: put back the parameters from before
        the last update (they produced it) and raise DivergedError."""
        k = self.steps_done
        restored = k
        undone = (
            self._compiled.undo_last()
            if self._compiled is not None
            else self._before_last is not None
        )
        if not kept and undone:
            if self._compiled is None and self._before_last is not None:
                for p, v in zip(self.optimizer.params, self._before_last):
                    p.data = v
            kept = (
                f"the model's parameters are restored to those before the update of "
                f"step {k - 1} (which gave loss {self.history.loss[-1]:.6g})"
            )
            restored = k - 1
        elif not kept:
            kept = "no update was made, the model's parameters are unchanged"
        what = (
            f"the loss is {loss!r}"
            if cause is None
            else f"the loss could not be computed ({cause})"
        )
        raise DivergedError(
            f"training diverged at step {k} (epoch {epoch}): {what}; "
            f"{kept}; try a smaller learning rate",
            step=k,
            loss=loss,
            restored_to=restored,
            history=self.history,
        ) from cause

    def _update_diverged(self, i: int, value: float, loss: float, epoch: int) -> NoReturn:
        """Stop on an update that made parameter ``i`` non-finite (already undone)."""
        raise DivergedError(
            f"training diverged at step {self.steps_done} (epoch {epoch}): the "
            f"update from loss {loss:.6g} made parameter {self._param_name(i)} "
            f"{value!r}; the update is undone, the parameters are those this "
            "step's loss was computed from; try a smaller learning rate",
            step=self.steps_done,
            loss=loss,
            restored_to=self.steps_done,
            history=self.history,
        )

    def _param_name(self, i: int) -> str:
        named = getattr(self.model, "named_parameters", None)
        if callable(named):
            p = self.optimizer.params[i]
            for name, q in named():
                if q is p:
                    return name
        return f"{i} of the optimizer"

    def step(self) -> StepInfo:
        """Make one update on the next batch and record it.

        A non-finite loss stops training with :class:`DivergedError` naming the step and
        the loss, and nothing is lost: the loss of step k is computed with the parameters
        that update k-1 produced, so the model gets back the parameters from before
        update k-1 (the ones step k-1's finite loss was computed from; at step 0 nothing
        has changed).  An update that itself leaves a parameter NaN or infinite is undone
        at once and stops likewise (the parameters are those the step's loss was
        computed from).  The failing step is not recorded, so the history's last loss
        is the loss of the parameters the model keeps; the optimizer's internal state
        (momentum, Adam's moments and count) is not rolled back.  A gradient-free search
        never keeps a candidate with a non-finite loss, so it stops only while no finite
        loss has been seen.  Compiled training keeps the same contract on its arrays.
        """
        try:
            info = self._update()
        finally:
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
            # a gradient-free step returns the best loss so far (a float, never None)
            loss = cast(float, opt.step(lambda: self.objective(idx)[0]))
            if not math.isfinite(loss):
                self._diverged(
                    loss,
                    epoch,
                    "no parameters with a finite loss were found "
                    "yet (the search keeps the best it has seen)",
                )
            with no_grad():
                out = _outputs([self.model(self._rows[i]) for i in idx])
        elif self._compiled is not None:  # data loss and L2 term compiled, on arrays
            compiled = self._compiled
            try:
                loss, out = compiled.forward(idx, opt)
            except (OverflowError, ZeroDivisionError, FloatingPointError) as e:
                self._diverged(
                    math.inf if isinstance(e, OverflowError) else math.nan, epoch, cause=e
                )
            if not math.isfinite(loss):
                self._diverged(loss, epoch)
            bad = compiled.update(opt)
            if bad is not None:
                self._update_diverged(bad, compiled.bad_value, loss, epoch)
        else:
            self.model.zero_grad()
            opt.zero_grad()
            try:
                total, out = self.objective(idx)
                total.backward()
                loss = total.data
            except (OverflowError, ZeroDivisionError, FloatingPointError) as e:
                self._diverged(
                    math.inf if isinstance(e, OverflowError) else math.nan, epoch, cause=e
                )
            if not math.isfinite(loss):
                self._diverged(loss, epoch)
            before = [p.data for p in opt.params]
            opt.step()
            after = [p.data for p in opt.params]
            if not all(map(math.isfinite, after)):
                i = next(i for i, v in enumerate(after) if not math.isfinite(v))
                for q, v in zip(opt.params, before):
                    q.data = v
                self._update_diverged(i, after[i], loss, epoch)
            self._before_last = before
        info = StepInfo(
            step=self.steps_done,
            epoch=epoch,
            loss=float(loss),
            accuracy=_accuracy(np.asarray(out), self.y[idx], self.threshold),
            batch_size=len(idx),
        )
        self.steps_done += 1
        self.history.append(info)
        return info

    def __repr__(self) -> str:
        bs = "all rows" if self.batch_size is None else self.batch_size
        return (
            f"Trainer({self.model!r}, n={self.n}, loss={self.loss.__name__}, "
            f"optimizer={self.optimizer!r}, batch_size={bs}, steps={self.steps_done})"
        )


def _progress_bar(total: int, progress: bool) -> Any:
    if not progress or total < PROGRESS_MIN_STEPS:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional: no bar
        return None
    return tqdm(total=total, unit="step", leave=False)


def fit(
    model: Any,
    X: Any,
    y: Any,
    loss: Union[str, Callable, None] = None,
    optimizer: Union[Optimizer, str, None] = None,
    steps: Optional[int] = None,
    epochs: Optional[int] = None,
    batch_size: Optional[int] = None,
    tol: Optional[float] = None,
    l2: float = 0.0,
    seed: Optional[int] = 0,
    progress: bool = True,
    callback: Optional[Callable[[StepInfo], Any]] = None,
    compile: bool = False,
) -> History:
    """Train ``model`` on (X, y) and return its :class:`History`.

    Runs ``steps`` updates, or ``epochs`` epochs (each ``updates_per_epoch`` updates),
    100 steps if neither is given.  ``tol`` stops once the loss changes by less than
    ``tol``: from one step to the next for batch gradient descent, from one epoch's mean
    to the next otherwise.  ``callback(info)`` runs after every step; returning False
    stops.  Other arguments as :class:`Trainer`, which checks them all before the first
    update.  A loss that becomes NaN or infinite stops the run with
    :class:`DivergedError` (naming the step and the loss; its ``history`` holds the run
    so far), the model keeping the parameters from before the update that produced it
    (the exact contract is :meth:`Trainer.step`'s).

        >>> from nn import MLP, datasets, optim
        >>> X, y = datasets.blobs(30, centers=2, std=0.3, seed=0)
        >>> m = MLP(2, [2], seed=0)
        >>> h = fit(m, X, y, optimizer=optim.Adam(m.parameters(), lr=0.1), steps=30,
        ...         progress=False)
        >>> h.accuracy[-1]
        1.0
    """
    if steps is not None and epochs is not None:
        raise ValueError("fit: give steps or epochs, not both")
    for name, v in (("steps", steps), ("epochs", epochs)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
            raise ValueError(f"fit: {name} must be a positive int, got {v!r}")
    if tol is not None and not (_is_real(tol) and tol >= 0):
        raise ValueError(f"fit: tol must be a number >= 0, got {tol!r:.40}")
    if callback is not None and not callable(callback):
        raise TypeError(f"fit: callback must be a function(info), got {type(callback).__name__}")
    trainer = Trainer(
        model,
        X,
        y,
        loss=loss,
        optimizer=optimizer,
        batch_size=batch_size,
        l2=l2,
        seed=seed,
        compile=compile,
    )
    total = (
        int(steps)
        if steps is not None
        else int(epochs) * trainer.updates_per_epoch
        if epochs is not None
        else 100
    )
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
                trainer.sync()  # the model's Values hold this step's numbers
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
