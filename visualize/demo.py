"""The demo pictures: the lecture's sigmoid circuit (circuit and record style), its
step-by-step page, and a 2-16-16-1 network on a moons point after ``backward()``.

:func:`write_demo` writes them to a folder and returns the paths; ``gradwire demo`` calls it.
It checks first that Graphviz's ``dot`` is on the PATH, so a missing ``dot`` is one clear
:class:`~visualize.diagram.GraphvizNotFound` before any file or folder is written.
"""

from __future__ import annotations

import os
import shutil
from typing import Dict

from autodiff import Value
from autodiff.examples import sigmoid_circuit

from .diagram import INSTALL_HELP, GraphvizNotFound, render
from .network import draw_network
from .steps import stepper

__all__ = ["write_demo", "sigmoid_circuit"]


def write_demo(out_dir: str = "out") -> Dict[str, str]:
    """Write sigmoid.svg, sigmoid-record.svg, steps.html and network.svg to ``out_dir``
    (created if needed); returns their paths by name.

        >>> import tempfile
        >>> sorted(write_demo(tempfile.mkdtemp()))
        ['circuit', 'network', 'record', 'steps']
    """
    from nn import MLP, datasets

    if shutil.which("dot") is None:
        raise GraphvizNotFound(INSTALL_HELP)
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    f, _ = sigmoid_circuit()
    paths["steps"] = stepper(f).save(os.path.join(out_dir, "steps.html"))  # before backward
    f.backward()
    paths["circuit"] = render(f, os.path.join(out_dir, "sigmoid.svg"), style="circuit")
    paths["record"] = render(f, os.path.join(out_dir, "sigmoid-record.svg"), style="record")
    X, y = datasets.moons(100, seed=0, labels="pm1")
    model = MLP(2, [16, 16, 1], seed=0)
    x = [float(v) for v in X[0]]
    score = model(x)
    assert isinstance(score, Value)  # one output neuron: one Value, not a list
    loss = (1 - float(y[0]) * score).relu()  # the hinge loss of one point
    loss.backward()
    paths["network"] = render(draw_network(model, x=x), os.path.join(out_dir, "network.svg"))
    return paths
