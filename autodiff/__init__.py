"""gradwire's engine: the scalar `Value` and its op table, the backward schedule and
passes, the step explainer, function transforms and the compiled tape.

The modules, in the order a reader meets them: :mod:`autodiff.ops` (the op table),
:mod:`autodiff.value` (the node and its operators), :mod:`autodiff.backward` (one visit
order and the passes that read it), beside them :mod:`autodiff.modes` (``no_grad`` and
friends) and :mod:`autodiff.errors` (the messages), then :mod:`autodiff.explain`,
:mod:`autodiff.functional` and :mod:`autodiff.tape`, which build on them.  Nothing
here imports ``nn`` or ``visualize`` (``import visualize`` registers Jupyter's picture
of a Value).

    >>> from autodiff import Value
    >>> x = Value(-1.0, label="x")
    >>> y = (2 * x).sigmoid()
    >>> y.backward()
    >>> round(x.grad, 4)
    0.21
"""

from . import (
    micrograd_compat,  # noqa: F401 (imported to give Value micrograd's _op, _prev, _backward())
    ops,
)
from .explain import Step, backward_steps, chain_rule, forward_steps
from .functional import GradcheckError, grad, gradcheck, gradients, hessian, value_and_grad
from .tape import Tape, TapeMismatchError, compile
from .value import (
    Value,
    affine,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    topological_order,
)

__all__ = [
    "Value",
    "affine",
    "ops",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "topological_order",
    "gradients",
    "grad",
    "value_and_grad",
    "hessian",
    "gradcheck",
    "GradcheckError",
    "Step",
    "forward_steps",
    "backward_steps",
    "chain_rule",
    "compile",
    "Tape",
    "TapeMismatchError",
]
__version__ = "0.1.0"
