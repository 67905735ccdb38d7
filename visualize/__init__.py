"""gradwire's pictures: Graphviz diagrams of a graph, the step-by-step backprop page,
the neuron-level view of a network, training plots and a live training view.

    >>> from autodiff import Value
    >>> import visualize
    >>> x = Value(2.0, label="x"); y = (x * 3).exp(); y.backward()
    >>> g = visualize.draw(y)        # a graphviz.Digraph; Jupyter shows it inline
"""

from .diagram import (
    GraphTooLarge,
    GraphvizNotFound,
    LayoutTimeout,
    draw,
    register_jupyter_display,
    render,
)
from .live import LiveView, live_training
from .network import draw_network
from .plots import plot_decision_boundary, plot_history
from .steps import Stepper, stepper

__all__ = [
    "draw",
    "render",
    "GraphTooLarge",
    "GraphvizNotFound",
    "LayoutTimeout",
    "stepper",
    "Stepper",
    "draw_network",
    "plot_decision_boundary",
    "plot_history",
    "live_training",
    "LiveView",
    "register_jupyter_display",
]

register_jupyter_display()  # in Jupyter, a Value displays as its graph from here on
