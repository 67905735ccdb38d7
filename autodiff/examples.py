"""The lecture's worked example as a ready-made graph, for demos, diagrams and tests.

``sigmoid_circuit()`` builds f(w, x) = 1/(1+exp(-(w0*x0 + w1*x1 + w2))) with the
slides' numbers (w = [2, -3, -3], x = [-1, -2]), its inputs labelled as on the slides,
so that ``gradwire demo``, the diagrams and the step explainer all draw the same circuit.

    >>> f, (w0, x0, w1, x1, w2) = sigmoid_circuit()
    >>> f.backward()
    >>> round(f.data, 4), round(w0.grad, 4), round(x0.grad, 4)
    (0.7311, -0.1966, 0.3932)
"""

from __future__ import annotations

from typing import List, Tuple

from .value import Value

__all__ = ["sigmoid_circuit"]


def sigmoid_circuit() -> Tuple[Value, List[Value]]:
    """``(f, [w0, x0, w1, x1, w2])``: the slides' sigmoid circuit, before backward."""
    w0, x0 = Value(2.0, "w0"), Value(-1.0, "x0")
    w1, x1 = Value(-3.0, "w1"), Value(-2.0, "x1")
    w2 = Value(-3.0, "w2")
    f = 1 / (1 + (-(w0 * x0 + w1 * x1 + w2)).exp())
    f.label = "f"
    return f, [w0, x0, w1, x1, w2]
