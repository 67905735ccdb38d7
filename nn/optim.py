"""Ways to choose parameters: gradient descent (SGD, momentum, Adam) and the seed
lecture's gradient-free methods, random search and random local search.

All optimizers share one interface so they can be compared on one problem:
``opt.step(closure)``, where ``closure()`` computes the loss (a Value) at the current
parameters.  Gradient optimizers call ``zero_grad``, the closure and ``backward``, then
update ``p.data -= lr * ...`` (or use the ``.grad`` already there when called without a
closure, PyTorch style).  The random searches only evaluate the closure, under
``no_grad``, and keep the best parameters seen.  Learning rates may be a number or a
schedule (``LinearDecay`` as in micrograd's demo, ``StepDecay``, ``ExponentialDecay``),
a function of the step count.  Every hyper-parameter is checked when the optimizer or
schedule is made (a finite number in its range, the message naming it), and a schedule's
rate at each use: a NaN, infinite or negative learning rate raises naming the step.

    >>> from autodiff import Value
    >>> w = Value(5.0)
    >>> opt = SGD([w], lr=0.25)
    >>> for _ in range(30):
    ...     _ = opt.step(lambda: (w - 1) ** 2)
    >>> round(w.data, 6)
    1.0
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from autodiff import Value, no_grad
from autodiff.ops import sqrt
from autodiff.value import _is_int, _is_real

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "RandomSearch",
    "RandomLocalSearch",
    "Schedule",
    "LinearDecay",
    "StepDecay",
    "ExponentialDecay",
]


# --- checking hyper-parameters ---------------------------------------------------------


def _number(x: Any, what: str, ok: Callable[[float], bool], need: str) -> float:
    """x as a float when it is a finite real number (not a bool) for which ``ok`` holds;
    else TypeError/ValueError saying ``what`` must be ``need``."""
    if not _is_real(x):
        raise TypeError(f"{what} must be {need}, got {type(x).__name__} {x!r:.40}")
    try:
        v = float(x)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v) or not ok(v):
        raise ValueError(f"{what} must be {need}, got {x!r:.40}")
    return v


def _count(x: Any, what: str) -> int:
    """x as an int >= 1, else an error naming ``what``."""
    if not _is_int(x):
        raise TypeError(f"{what} must be >= 1 (an int), got {type(x).__name__} {x!r:.40}")
    if x < 1:
        raise ValueError(f"{what} must be >= 1 (an int), got {x!r}")
    return int(x)


def _rate(lr: Any, where: str) -> float:
    return _number(lr, f"{where}: lr", lambda v: v >= 0, "a non-negative number")


# --- learning-rate schedules ------------------------------------------------------------


class Schedule:
    """A learning rate as a function of the step number k (0 for the first step)."""

    def __call__(self, k: int) -> float:
        raise NotImplementedError


class LinearDecay(Schedule):
    """From ``start`` down to ``end`` in a straight line over ``steps``, then ``end``.
    micrograd's demo uses ``LinearDecay(1.0, 0.1, 100)``: lr = 1.0 - 0.9 k / 100.

        >>> s = LinearDecay(1.0, 0.1, 100); s(0), round(s(50), 10), round(s(100), 10)
        (1.0, 0.55, 0.1)
    """

    def __init__(self, start: float, end: float, steps: int) -> None:
        self.start = _rate(start, "LinearDecay(start)")
        self.end = _rate(end, "LinearDecay(end)")
        self.steps = _count(steps, "LinearDecay: steps")

    def __call__(self, k: int) -> float:
        return self.start - (self.start - self.end) * min(k, self.steps) / self.steps

    def __repr__(self) -> str:
        return f"LinearDecay({self.start}, {self.end}, steps={self.steps})"


class StepDecay(Schedule):
    """``lr0`` multiplied by ``gamma`` every ``every`` steps.

    >>> s = StepDecay(1.0, every=10, gamma=0.5); s(9), s(10), s(25)
    (1.0, 0.5, 0.25)
    """

    def __init__(self, lr0: float, every: int, gamma: float = 0.1) -> None:
        self.lr0 = _rate(lr0, "StepDecay(lr0)")
        self.every = _count(every, "StepDecay: every")
        self.gamma = _number(gamma, "StepDecay: gamma", lambda v: 0 < v <= 1, "in (0, 1]")

    def __call__(self, k: int) -> float:
        return self.lr0 * self.gamma ** (k // self.every)

    def __repr__(self) -> str:
        return f"StepDecay({self.lr0}, every={self.every}, gamma={self.gamma})"


class ExponentialDecay(Schedule):
    """``lr0 * gamma ** k``.

    >>> ExponentialDecay(1.0, 0.5)(3)
    0.125
    """

    def __init__(self, lr0: float, gamma: float) -> None:
        self.lr0 = _rate(lr0, "ExponentialDecay(lr0)")
        self.gamma = _number(gamma, "ExponentialDecay: gamma", lambda v: 0 < v <= 1, "in (0, 1]")

    def __call__(self, k: int) -> float:
        return self.lr0 * self.gamma**k

    def __repr__(self) -> str:
        return f"ExponentialDecay({self.lr0}, gamma={self.gamma})"


# --- the common interface ---------------------------------------------------------------


class Optimizer:
    """Base class: holds the parameters, the step count ``t`` and the learning rate."""

    gradient_free = False
    # Each optimizer defines ``step(closure=None)``, one update; a gradient-free one
    # evaluates ``closure()`` and returns the best loss so far.
    step: Callable[..., Optional[float]]

    def __init__(self, params: Sequence[Value], lr: Union[float, Schedule]) -> None:
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Value):
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} is a "
                    f"{type(p).__name__}, expected a Value"
                )
        if not callable(lr):
            lr = _number(
                lr,
                f"{type(self).__name__}: lr",
                lambda v: v >= 0,
                "a non-negative number or a schedule",
            )
        self.params = params
        self.lr_schedule = lr
        self.t = 0

    @property
    def lr(self) -> float:
        """The learning rate for the next step; a schedule's value is checked at each
        use (a finite number >= 0, else ValueError naming the schedule and the step)."""
        s = self.lr_schedule
        if not callable(s):
            return float(s)
        return _number(
            s(self.t),
            f"{type(self).__name__}: the learning-rate schedule {s!r} at step {self.t}",
            lambda v: v >= 0,
            "a finite number >= 0",
        )

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = 0.0

    def step_arrays(self, data: np.ndarray, grad: np.ndarray, state: list) -> None:
        """One update of parameters held in arrays (compiled training), in place.  This
        default goes through the Values and :meth:`step`; SGD and Adam apply their rule
        to the arrays directly."""
        for p, v, g in zip(self.params, data.tolist(), grad.tolist()):
            p.data, p.grad = v, g
        self.step()
        data[:] = [p.data for p in self.params]

    def state_lists(self) -> list:
        """The per-parameter state that :meth:`step_arrays` keeps in arrays."""
        return []

    def _loss(self, closure: Optional[Callable]) -> Optional[float]:
        """Run the closure and backward (gradient methods), return the loss value."""
        if closure is None:
            return None
        self.zero_grad()
        loss = closure()
        if not isinstance(loss, Value):
            raise TypeError(
                f"{type(self).__name__}.step: the closure must return a "
                f"Value, got {type(loss).__name__}"
            )
        loss.backward()
        return loss.data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} params, lr={self.lr_schedule!r})"


class SGD(Optimizer):
    """Gradient descent p <- p - lr * v, with v = momentum * v + grad (PyTorch's form;
    momentum 0 is the plain rule of the lecture, p' = p - α ∇L)."""

    def __init__(
        self, params: Sequence[Value], lr: Union[float, Schedule] = 0.1, momentum: float = 0.0
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _number(momentum, "SGD: momentum", lambda v: 0.0 <= v < 1.0, "in [0, 1)")
        self._v = [0.0] * len(self.params)

    def rule(self, p: Any, g: Any, v: Any, lr: float) -> tuple:
        """The update, on floats or numpy arrays alike: new ``(p, v)`` from the
        parameter ``p``, its gradient ``g`` and velocity ``v``.

            >>> SGD([Value(0.0)], momentum=0.5).rule(1.0, 2.0, 1.0, 0.1)
            (0.75, 2.5)
        """
        if self.momentum == 0.0:
            return p - lr * g, v
        v = self.momentum * v + g
        return p - lr * v, v

    def step(self, closure: Optional[Callable] = None) -> Optional[float]:
        """One update from the current ``.grad`` (or from ``closure``'s loss)."""
        loss = self._loss(closure)
        lr, rule, v = self.lr, self.rule, self._v
        for i, p in enumerate(self.params):
            p.data, v[i] = rule(p.data, p.grad, v[i], lr)
        self.t += 1
        return loss

    def step_arrays(self, data: np.ndarray, grad: np.ndarray, state: list) -> None:
        """The same update on arrays, in place: ``data`` and ``state`` (from
        :meth:`state_lists`, as arrays) stepped by ``grad``."""
        data[:], v = self.rule(data, grad, state[0], self.lr)
        state[0][:] = v
        self.t += 1

    def state_lists(self) -> list:
        """The per-parameter state, one list per kind: ``[velocity]``."""
        return [self._v]


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's formulation: bias-corrected first and second
    moments m, v; p <- p - lr * m_hat / (sqrt(v_hat) + eps)."""

    def __init__(
        self,
        params: Sequence[Value],
        lr: Union[float, Schedule] = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence) or len(betas) != 2:
            raise ValueError(
                f"Adam: betas must be a pair (beta1, beta2), each in [0, 1), got {betas!r:.60}"
            )
        b1, b2 = (
            _number(
                b,
                f"Adam: betas[{i}]",
                lambda v: 0.0 <= v < 1.0,
                "in [0, 1) (betas must be in [0, 1))",
            )
            for i, b in enumerate(betas)
        )
        self.betas = (b1, b2)
        self.eps = _number(eps, "Adam: eps", lambda v: v > 0, "> 0 (a small finite number)")
        self._m = [0.0] * len(self.params)
        self._v = [0.0] * len(self.params)

    def rule(self, p: Any, g: Any, m: Any, v: Any, lr: float, t: int) -> tuple:
        """The update of step ``t`` (1 for the first), on floats or numpy arrays alike:
        new ``(p, m, v)`` from the parameter, its gradient and its two moments.

            >>> Adam([Value(0.0)]).rule(1.0, 0.5, 0.0, 0.0, 0.1, 1)[0]
            0.900000002
        """
        b1, b2 = self.betas
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * g * g
        c1, c2 = 1.0 - b1**t, 1.0 - b2**t
        return p - lr * (m / c1) / (sqrt(v / c2) + self.eps), m, v

    def step(self, closure: Optional[Callable] = None) -> Optional[float]:
        loss = self._loss(closure)
        lr, rule, m, v = self.lr, self.rule, self._m, self._v
        self.t += 1
        t = self.t
        for i, p in enumerate(self.params):
            p.data, m[i], v[i] = rule(p.data, p.grad, m[i], v[i], lr, t)
        return loss

    def step_arrays(self, data: np.ndarray, grad: np.ndarray, state: list) -> None:
        """The same update on arrays, in place (see :meth:`SGD.step_arrays`)."""
        lr = self.lr
        self.t += 1
        data[:], m, v = self.rule(data, grad, state[0], state[1], lr, self.t)
        state[0][:] = m
        state[1][:] = v

    def state_lists(self) -> list:
        """The per-parameter state, one list per kind: ``[m, v]``."""
        return [self._m, self._v]


# --- gradient-free search (the seed lecture's first two ideas) --------------------------


class _Search(Optimizer):
    gradient_free = True
    _candidate: Callable[[], list]  # the next parameters to try, one per method

    def __init__(self, params: Sequence[Value], scale: float, seed: Optional[int]) -> None:
        super().__init__(params, 0.0)
        self.scale = _number(
            scale, f"{type(self).__name__}: scale", lambda v: v > 0, "> 0 (a finite number)"
        )
        if seed is not None and (not _is_int(seed) or seed < 0):
            raise ValueError(
                f"{type(self).__name__}: seed must be None or an int >= 0, got {seed!r:.40}"
            )
        self.rng = np.random.default_rng(seed)
        self.best = [p.data for p in self.params]
        self.best_loss = math.inf

    def _evaluate(self, closure: Callable) -> float:
        """The closure's loss; a loss that is not finite, or overflows or divides by
        zero on the way, counts as infinite (never kept)."""
        try:
            with no_grad():
                loss = closure()
        except (OverflowError, ZeroDivisionError, FloatingPointError):
            return math.inf
        value = loss.data if isinstance(loss, Value) else float(loss)
        return value if math.isfinite(value) else math.inf

    def step(self, closure: Optional[Callable] = None) -> float:
        """Try one candidate: set it, evaluate ``closure()``, keep it if the loss went
        down, else put the best parameters back.  Returns the best loss so far."""
        if closure is None:
            raise TypeError(
                f"{type(self).__name__}.step needs a closure computing the "
                "loss: a gradient-free method can only evaluate"
            )
        if self.best_loss == math.inf:  # the starting point is the first candidate
            self.best_loss = self._evaluate(closure)
        candidate = self._candidate()
        for p, v in zip(self.params, candidate):
            p.data = v
        loss = self._evaluate(closure)
        if loss < self.best_loss:
            self.best, self.best_loss = candidate, loss
        else:
            for p, v in zip(self.params, self.best):
                p.data = v
        self.t += 1
        return self.best_loss


class RandomSearch(_Search):
    """Try many random parameter vectors (uniform in [-scale, scale]) and keep the best.

    >>> from autodiff import Value
    >>> w = Value(3.0); rs = RandomSearch([w], scale=2.0, seed=0)
    >>> losses = [rs.step(lambda: (w - 1) ** 2) for _ in range(50)]
    >>> losses[-1] < losses[0] and w.data == rs.best[0]
    True
    """

    def __init__(
        self, params: Sequence[Value], scale: float = 1.0, seed: Optional[int] = None
    ) -> None:
        super().__init__(params, scale, seed)

    def _candidate(self) -> list:
        return [float(v) for v in self.rng.uniform(-self.scale, self.scale, len(self.params))]


class RandomLocalSearch(_Search):
    """Perturb the best parameters by ``scale`` times Gaussian noise; keep improvements.

    >>> from autodiff import Value
    >>> w = Value(3.0); rls = RandomLocalSearch([w], scale=0.1, seed=0)
    >>> losses = [rls.step(lambda: (w - 1) ** 2) for _ in range(200)]
    >>> losses[-1] < 0.01
    True
    """

    def __init__(
        self, params: Sequence[Value], scale: float = 0.1, seed: Optional[int] = None
    ) -> None:
        super().__init__(params, scale, seed)

    def _candidate(self) -> list:
        noise = self.rng.standard_normal(len(self.params)) * self.scale
        return [b + float(d) for b, d in zip(self.best, noise)]
