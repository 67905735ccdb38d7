"""gradwire's engine: the scalar `Value`, its op table, and function transforms.

    >>> from autodiff import Value
    >>> x = Value(-1.0, label="x")
    >>> y = (2 * x).sigmoid()
    >>> y.backward()
    >>> round(x.grad, 4)
    0.21
"""
from . import ops
from . import micrograd_compat  # gives Value micrograd's _prev and _backward()
from .explain import Step, backward_steps, chain_rule, forward_steps
from .functional import (GradcheckError, gradcheck, gradients, grad, hessian,
                         value_and_grad)
from .tape import Tape, TapeMismatchError, compile
from .value import (Value, affine, detect_anomaly, enable_grad, is_grad_enabled,
                    no_grad, topological_order)

__all__ = ["Value", "affine", "ops", "no_grad", "enable_grad", "is_grad_enabled",
           "detect_anomaly", "topological_order", "gradients", "grad",
           "value_and_grad", "hessian", "gradcheck", "GradcheckError",
           "Step", "forward_steps", "backward_steps", "chain_rule",
           "compile", "Tape", "TapeMismatchError"]
__version__ = "0.1.0"
