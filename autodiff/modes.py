"""Grad modes: the engine's switches and the context managers that flip them.

``STATE`` holds whether operations record a graph (off inside :class:`no_grad`), whether
``detect_anomaly`` checks every forward and backward step for NaN and inf, and whether
the compiled tape is tracing (which refuses Python control flow over Values).  The
context managers restore the previous setting on exit, exceptions included, and also
work as decorators.

    >>> from autodiff import Value
    >>> with no_grad():
    ...     y = Value(2.0) * 3
    >>> y.is_leaf, is_grad_enabled()
    (True, True)
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["STATE", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly"]


class _State:
    """Engine switches: graph recording, anomaly checks, and the tape's tracing guard.
    ``plain`` (recording on, no anomaly checks, not tracing) is kept up to date for the
    hot path."""

    __slots__ = ("_grad_enabled", "_anomaly", "_tracing", "plain")

    def __init__(self) -> None:
        self._grad_enabled = True
        self._anomaly = False
        self._tracing = False
        self.plain = True

    def _update(self) -> None:
        self.plain = self._grad_enabled and not self._anomaly and not self._tracing

    @property
    def grad_enabled(self) -> bool:
        return self._grad_enabled

    @grad_enabled.setter
    def grad_enabled(self, on: bool) -> None:
        self._grad_enabled = bool(on)
        self._update()

    @property
    def anomaly(self) -> bool:
        return self._anomaly

    @anomaly.setter
    def anomaly(self, on: bool) -> None:
        self._anomaly = bool(on)
        self._update()

    @property
    def tracing(self) -> bool:
        return self._tracing

    @tracing.setter
    def tracing(self, on: bool) -> None:
        self._tracing = bool(on)
        self._update()


STATE = _State()


class _Switch:
    """Base for the context managers that flip one engine switch and restore it."""

    attr = ""
    value = True

    def __enter__(self) -> _Switch:
        self._prev = getattr(STATE, self.attr)
        setattr(STATE, self.attr, self.value)
        return self

    def __exit__(self, *exc: Any) -> None:
        setattr(STATE, self.attr, self._prev)

    def __call__(self, fn):
        """Also usable as a decorator."""

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapped


class no_grad(_Switch):
    """Context manager: operations inside record no graph (results are leaves).

    >>> from autodiff import Value
    >>> w = Value(2.0)
    >>> with no_grad():
    ...     y = w * 3
    >>> y.is_leaf
    True
    """

    attr = "grad_enabled"
    value = False


class enable_grad(_Switch):
    """Context manager: record the graph again inside a ``no_grad`` block."""

    attr = "grad_enabled"
    value = True


class detect_anomaly(_Switch):
    """Context manager: a NaN or inf made in a forward or backward step raises a
    ``FloatingPointError`` naming the op, its inputs and their labels.

        >>> from autodiff import Value
        >>> with detect_anomaly():
        ...     Value(1e308, label="big") * 10      # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        FloatingPointError: detect_anomaly: forward of mul_const (*10) produced inf ...
    """

    attr = "anomaly"
    value = True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return STATE.grad_enabled
