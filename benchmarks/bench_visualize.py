"""Diagram benchmarks: rendering micrograd's demo network (2-16-16-1, every weight an
edge) to SVG with Graphviz, and the slides' sigmoid circuit with values and gradients.
There is no peer that draws these; the figure stands beside its bound."""
from __future__ import annotations

from common import best_time


def run(quick: bool = False) -> list:
    from autodiff.examples import sigmoid_circuit
    from nn import MLP
    from visualize import draw, draw_network

    model = MLP(2, [16, 16, 1], seed=0)
    x = [0.5, -0.25]
    (1 - model(x)).relu().backward()
    reps = 2 if quick else 5
    net = best_time(lambda k: draw_network(model, x=x).pipe(format="svg"), 1, reps)
    f, _ = sigmoid_circuit()
    f.backward()
    circ = best_time(lambda k: draw(f).pipe(format="svg"), 1, reps)
    from visualize.expr import build
    shared, _ = build("*".join(["sin(x)"] * 90), {"x": 0.5})
    shared.backward()
    fan = best_time(lambda k: draw(shared).pipe(format="svg"), 1, reps)
    return [
        {"bench": "render network 2-16-16-1 to SVG (s)", "ours": net, "peers": {},
         "note": "draw_network + dot, 35 nodes and 304 edges, best of runs; bound 2 s"},
        {"bench": "render sigmoid circuit to SVG (s)", "ours": circ, "peers": {},
         "note": "draw(sigmoid_circuit()) + dot, values and gradients on every wire"},
        {"bench": "render sin(x)*...*sin(x), 90 factors, to SVG (s)", "ours": fan, "peers": {},
         "note": "one x feeding 90 gates down a 180-node product: far uses drawn from copies "
                 "of x's wire; with one long wire per use dot ran past 60 s"},
    ]
