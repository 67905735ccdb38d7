"""Diagram benchmarks: rendering micrograd's demo network (2-16-16-1, every weight an
edge) to SVG with Graphviz, and the slides' sigmoid circuit with values and gradients.
There is no peer that draws these; the figure stands beside the bound the issue set."""
from __future__ import annotations

import time


def _best(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False) -> list:
    from autodiff.examples import sigmoid_circuit
    from nn import MLP
    from visualize import draw, draw_network

    model = MLP(2, [16, 16, 1], seed=0)
    x = [0.5, -0.25]
    (1 - model(x)).relu().backward()
    net = _best(lambda: draw_network(model, x=x).pipe(format="svg"), 2 if quick else 5)
    f, _ = sigmoid_circuit()
    f.backward()
    circ = _best(lambda: draw(f).pipe(format="svg"), 2 if quick else 5)
    return [
        {"bench": "render network 2-16-16-1 to SVG (s)", "ours": net, "peers": {},
         "note": "draw_network + dot, 35 nodes and 304 edges, best of runs; bound 2 s"},
        {"bench": "render sigmoid circuit to SVG (s)", "ours": circ, "peers": {},
         "note": "draw(sigmoid_circuit()) + dot, values and gradients on every wire"},
    ]
