"""Compiled training: a model's per-sample loss traced once and replayed over batches.

:class:`CompiledObjective` is what ``Trainer(compile=True)`` / ``fit(..., compile=True)``
use instead of building the eager graph of a whole batch: it traces one sample's
``loss(model(x), target)`` with :func:`autodiff.compile` -- the sample's inputs and its
target are the tape's inputs, the model's parameters its parameters -- and each call
replays that tape over the chosen rows with numpy, adding the gradient of the MEAN
per-sample loss to every parameter's ``.grad``.  Targets enter as inputs so one trace
serves every row: a number per sample, a row of numbers, or for ``cross_entropy`` with
class ids a one-hot row.  The L2 term stays with the Trainer, eager in both modes.

    >>> from nn import MLP, datasets, losses
    >>> X, y = datasets.moons(20, seed=0, labels="pm1")
    >>> model = MLP(2, [8, 1], seed=0)
    >>> obj = CompiledObjective(model, losses.hinge, X, y)
    >>> loss, scores = obj(np.arange(20))
    >>> scores.shape, round(loss, 4) == round(losses.hinge([model(x) for x in X.tolist()], y).data, 4)
    ((20,), True)
"""
from __future__ import annotations

from typing import Any, Callable, Union

import numpy as np

from autodiff import Value, compile, no_grad

from . import losses as _losses

__all__ = ["CompiledObjective"]


class CompiledObjective:
    """The mean per-sample data loss of ``model`` on rows of (X, y), compiled.

    ``obj(idx)`` adds to each parameter's ``.grad`` the gradient of the mean loss over
    rows ``idx`` and returns ``(loss, outputs)``: the loss as a float and the model's
    outputs on those rows, ``(len(idx),)`` for one output, ``(len(idx), k)`` for k.
    With ``check=True`` (the default) the replay is verified against the eager engine
    on the first rows when built (:meth:`autodiff.Tape.check`).
    """

    def __init__(self, model: Any, loss: Union[str, Callable], X: Any, y: Any,
                 check: bool = True) -> None:
        self.model = model
        self.loss = _losses.get(loss)
        self.X = np.asarray(X, dtype=float)
        if self.X.ndim != 2 or len(self.X) == 0:
            raise ValueError(f"CompiledObjective: X must be a non-empty (n, features) "
                             f"array, got shape {self.X.shape}")
        y = np.asarray(y)
        if len(y) != len(self.X):
            raise ValueError(f"CompiledObjective: {len(self.X)} rows in X but {len(y)} "
                             f"targets in y")
        self.n_outputs = model.nouts[-1] if hasattr(model, "nouts") else None
        # Validate every target once, eagerly: as Values inside the trace they would not
        # be checked (hinge's -1/+1, class ids in range, ...).
        k = self.n_outputs or 1
        with no_grad():
            dummy = [[Value(0.5)] * k if k > 1 else Value(0.5) for _ in range(len(y))]
            self.loss(dummy, y)
        if self.loss is _losses.cross_entropy and y.ndim == 1:
            ids = y.astype(int)
            self.targets = np.eye(k)[ids]              # one-hot rows: no data-dependent index
        else:
            self.targets = y.astype(float)
        loss_fn = self.loss
        self._one_target = self.targets.ndim == 1

        def per_sample(x: list, t: Any) -> list:
            pred = model(x)
            preds = pred if isinstance(pred, list) else [pred]
            target = [t] if self._one_target else t
            return [loss_fn(preds, target)] + preds

        per_sample.__name__ = f"{getattr(loss_fn, '__name__', 'loss')}(model(x), y)"
        first = self.targets[0]
        self.tape = compile(per_sample, self.X[0].tolist(),
                            float(first) if self._one_target else first.tolist())
        if check:
            self.tape.check(self.X, self.targets, n=3)

    def __call__(self, idx: Any) -> tuple:
        idx = np.asarray(idx)
        if idx.ndim != 1 or len(idx) == 0:
            raise ValueError(f"CompiledObjective: idx must be a non-empty 1-D array of "
                             f"row numbers, got shape {idx.shape}")
        out = self.tape(self.X[idx], self.targets[idx])
        self.tape.backward(output=0)
        # Summed in the order the eager loss sums its terms: sum(terms) * (1 / n).
        loss = sum(out[:, 0].tolist()) * (1.0 / len(idx))
        preds = out[:, 1] if out.shape[1] == 2 else out[:, 1:]
        return float(loss), preds

    def __repr__(self) -> str:
        return (f"CompiledObjective({getattr(self.loss, '__name__', self.loss)}, "
                f"{len(self.X)} rows, {self.tape!r})")
