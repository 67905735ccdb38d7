"""Compiled training: a model's per-sample loss traced once and replayed over batches.

:class:`CompiledObjective` is what ``Trainer(compile=True)`` / ``fit(..., compile=True)``
use instead of building the eager graph of a whole batch: it traces one sample's
``loss(model(x), target)`` -- and the L2 term ``l2 * sum(p*p)``, when there is one --
with :func:`autodiff.compile`; the sample's inputs and its target are the tape's inputs,
the model's parameters its parameters.  Targets enter as inputs so one trace serves
every row: a number per sample, a row of numbers, or for ``cross_entropy`` with class
ids a one-hot row.  The tape finds the model's layers in the traced program and replays
each as one matrix product.

:meth:`CompiledObjective.step` is one training step on flat arrays: parameters, their
gradients and the optimizer's state (momentum, Adam's moments) stay numpy arrays between
steps, updated by the optimizer's own rule (``optimizer.step_arrays``), and the model's
Values are written only by :meth:`~CompiledObjective.sync` (the Trainer calls it after
every public step, ``fit`` before each callback and when it returns).  Calling the
objective, ``obj(idx)``, instead adds the batch gradient to the Values' ``.grad``.

    >>> from nn import MLP, datasets, losses
    >>> X, y = datasets.moons(20, seed=0, labels="pm1")
    >>> model = MLP(2, [8, 1], seed=0)
    >>> obj = CompiledObjective(model, losses.hinge, X, y)
    >>> loss, scores = obj(np.arange(20))
    >>> eager = losses.hinge([model(x) for x in X.tolist()], y).data
    >>> scores.shape, round(loss, 4) == round(eager, 4)
    ((20,), True)
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Union

import numpy as np

from autodiff import Value, compile, no_grad

from . import losses as _losses

__all__ = ["CompiledObjective"]


class CompiledObjective:
    """The mean per-sample data loss of ``model`` on rows of (X, y), plus
    ``l2 * sum(p*p)`` over its parameters, compiled.

    ``obj(idx)`` adds to each parameter's ``.grad`` the gradient of that loss over rows
    ``idx`` and returns ``(loss, outputs)``: the loss as a float and the model's
    outputs on those rows, ``(len(idx),)`` for one output, ``(len(idx), k)`` for k.
    ``obj.step(idx, optimizer)`` makes one update on arrays instead (see the module
    docstring).  With ``check=True`` (the default) the replay is verified against the
    eager engine on the first rows when built (:meth:`autodiff.Tape.check`).
    """

    def __init__(
        self,
        model: Any,
        loss: Union[str, Callable],
        X: Any,
        y: Any,
        check: bool = True,
        l2: float = 0.0,
    ) -> None:
        self.model = model
        self.loss = _losses.get(loss)
        self.l2 = float(l2)
        self.X = np.asarray(X, dtype=float)
        if self.X.ndim != 2 or len(self.X) == 0:
            raise ValueError(
                f"CompiledObjective: X must be a non-empty (n, features) "
                f"array, got shape {self.X.shape}"
            )
        y = np.asarray(y)
        if len(y) != len(self.X):
            raise ValueError(
                f"CompiledObjective: {len(self.X)} rows in X but {len(y)} targets in y"
            )
        self.n_outputs = model.nouts[-1] if hasattr(model, "nouts") else None
        # Validate every target once, eagerly: as Values inside the trace they would not
        # be checked (hinge's -1/+1, class ids in range, ...).
        k = self.n_outputs or 1
        with no_grad():
            dummy = [[Value(0.5)] * k if k > 1 else Value(0.5) for _ in range(len(y))]
            self.loss(dummy, y)
        if self.loss is _losses.cross_entropy and y.ndim == 1:
            ids = y.astype(int)
            self.targets = np.eye(k)[ids]  # one-hot rows: no data-dependent index
        else:
            self.targets = y.astype(float)
        loss_fn = self.loss
        one_target = self.targets.ndim == 1
        params = model.parameters()
        l2 = self.l2

        def per_sample(x: list, t: Any) -> list:
            pred = model(x)
            preds = pred if isinstance(pred, list) else [pred]
            outs = [loss_fn(preds, [t] if one_target else t)]
            if l2:
                outs.append(l2 * sum(p * p for p in params))
            return outs + preds

        per_sample.__name__ = f"{getattr(loss_fn, '__name__', 'loss')}(model(x), y)"
        first = self.targets[0]
        self.tape = compile(
            per_sample, self.X[0].tolist(), float(first) if one_target else first.tolist()
        )
        self._first_pred = 2 if l2 else 1
        if check:
            self.tape.check(self.X, self.targets, n=3)
        self._inputs = self.tape.stack_inputs(self.X, self.targets)  # (n_inputs, n)
        self._all = np.arange(len(self.X))
        self._opt: Any = None  # the optimizer the arrays were made for
        self._before_last: Optional[np.ndarray] = None  # parameters before the last update
        self.bad_value = math.nan  # what an undone update made of a parameter
        self._current = False  # do the arrays hold the numbers (not the Values)?

    # --- the batch ------------------------------------------------------------------------
    def _rows(self, idx: Any) -> tuple:
        """(inputs, upstream seed) for rows ``idx``: the mean of the data loss, the L2
        term once."""
        idx = np.asarray(idx)
        if idx.ndim != 1 or len(idx) == 0:
            raise ValueError(
                f"CompiledObjective: idx must be a non-empty 1-D array of "
                f"row numbers, got shape {idx.shape}"
            )
        n = len(idx)
        if n == len(self._all) and np.array_equal(idx, self._all):
            inputs = self._inputs
        else:
            inputs = self._inputs[:, idx]
        seed = np.zeros((n, self.tape.n_outputs))
        seed[:, 0] = 1.0 / n
        if self.l2:
            seed[0, 1] = 1.0
        return inputs, seed

    def _result(self, out: np.ndarray) -> tuple:
        n = out.shape[1]
        # as the eager loss: the sum of the terms times 1/n, then the L2 term
        loss = float(out[0].sum() * (1.0 / n))
        if self.l2:
            loss += float(out[1, 0])
        f = self._first_pred
        preds = out[f] if out.shape[0] == f + 1 else out[f:].T
        return loss, preds

    def __call__(self, idx: Any) -> tuple:
        inputs, seed = self._rows(idx)
        self.sync()
        out = self.tape.replay(inputs, self.tape.param_values())
        grad = self.tape.vjp(seed if self.tape.multi else seed[:, 0])
        for p, g in zip(self.tape.params, grad.tolist()):
            p.grad += g
        return self._result(out)

    # --- training on arrays -----------------------------------------------------------------
    def _load(self, opt: Any) -> None:
        """Read the parameters and the optimizer's state into arrays (optimizer order)."""
        if opt is not self._opt:
            where = {id(p): i for i, p in enumerate(opt.params)}
            pos = np.array([where.get(id(p), -1) for p in self.tape.params], dtype=np.intp)
            self._mask = pos >= 0  # tape parameters the optimizer steps
            self._pos = pos[self._mask]
            self._G = np.zeros(len(opt.params))
            self._gtape = np.zeros(len(self.tape.params))
            self._opt = opt
            self._before_last = None
        self._P = np.array([p.data for p in opt.params], dtype=float)
        self._state = [np.array(s, dtype=float) for s in opt.state_lists()]
        self._Ptape = self.tape.param_values()
        self._current = True

    def forward(self, idx: Any, optimizer: Any) -> tuple:
        """``(loss, outputs)`` on rows ``idx`` with ``optimizer``'s parameters as the
        arrays hold them; :meth:`update` then steps from this forward's gradient."""
        inputs, seed = self._rows(idx)
        if optimizer is not self._opt or not self._current:
            self._load(optimizer)
        P = self._Ptape
        P[self._mask] = self._P[self._pos]
        out = self.tape.replay(inputs, P)
        self._seed = seed if self.tape.multi else seed[:, 0]
        return self._result(out)

    def update(self, optimizer: Any) -> Optional[int]:
        """Backward from the last :meth:`forward` and one ``optimizer.step_arrays``.
        An update that makes a parameter NaN or infinite is undone: its index in the
        optimizer's parameters is returned (the value in ``bad_value``); else None."""
        g = self.tape.vjp(self._seed)
        G = self._G
        G[:] = 0.0
        G[self._pos] = g[self._mask]
        before = self._P.copy()
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            optimizer.step_arrays(self._P, G, self._state)
        self._gtape = g
        bad = np.flatnonzero(~np.isfinite(self._P))
        if len(bad):
            self.bad_value = float(self._P[bad[0]])
            self._P[:] = before
            return int(bad[0])
        self._before_last = before
        return None

    def step(self, idx: Any, optimizer: Any) -> tuple:
        """One update of ``optimizer``'s parameters from rows ``idx``, on arrays:
        forward, backward, ``optimizer.step_arrays``.  Returns ``(loss, outputs)`` as
        calling does; the Values are left as they were until :meth:`sync`."""
        result = self.forward(idx, optimizer)
        self.update(optimizer)
        return result

    def undo_last(self) -> bool:
        """Put back the parameters from before the last update (the Values get them at
        the next :meth:`sync`); False when no update was made."""
        if self._before_last is None:
            return False
        self._P[:] = self._before_last
        self._before_last = None
        self._current = True
        return True

    def sync(self) -> None:
        """Write the arrays back into the model's Values (``.data`` of the optimizer's
        parameters, ``.grad`` of the last step) and its state lists; the next
        :meth:`step` reads the Values again, in case they were changed."""
        if not self._current:
            return
        opt = self._opt
        for p, v, g in zip(opt.params, self._P.tolist(), self._G.tolist()):
            p.data = v
            p.grad = g
        for p, g in zip(self.tape.params, self._gtape.tolist()):
            p.grad = g
        for lst, arr in zip(opt.state_lists(), self._state):
            lst[:] = arr.tolist()
        self._current = False

    def __repr__(self) -> str:
        l2 = f", l2={self.l2}" if self.l2 else ""
        return (
            f"CompiledObjective({getattr(self.loss, '__name__', self.loss)}{l2}, "
            f"{len(self.X)} rows, {self.tape!r})"
        )
