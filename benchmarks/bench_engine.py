"""Engine benchmarks: micrograd's demo step built from `Value` ops alone (our Value against
micrograd's Value, same arithmetic, same run, default GC), bytes per recorded node
(tracemalloc over a 100,000-node graph) and GC-tracked objects per node."""
from __future__ import annotations

import gc
import tracemalloc

from common import demo_data, demo_step, time_steps, value_mlp


def _step_time(V, n: int) -> float:
    X, y = demo_data()
    model, params = value_mlp(V, [2, 16, 16, 1])
    return time_steps(lambda k: demo_step(V, model, params, X, y, k), n)


def _chain(V, n: int):
    x = V(0.5)
    v = x
    for i in range(n // 2):
        v = (v * x) + 0.25  # a mul node and an add node per round
    return v


def _bytes_per_node(V, n: int = 100_000) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    g = _chain(V, n)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del g
    return (after - before) / n


def _tracked_per_node(V, n: int = 20_000) -> float:
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        before = len(gc.get_objects())
        g = _chain(V, n)
        after = len(gc.get_objects())
    finally:
        if was:
            gc.enable()
    del g
    return (after - before) / n


def run(quick: bool = False) -> list:
    from autodiff import Value
    from micrograd.engine import Value as MgValue

    ours = _step_time(Value, 5 if quick else 30)
    theirs = _step_time(MgValue, 2 if quick else 5)
    return [
        {"bench": "demo step, Value ops only (s/step)", "ours": ours,
         "peers": {"micrograd": theirs}, "lower_is_better": True,
         "note": "MLP 2-16-16-1, 100 moons, hinge + 1e-4 L2, ~65k nodes; default GC"},
        {"bench": "bytes per recorded node", "ours": _bytes_per_node(Value),
         "peers": {"micrograd": _bytes_per_node(MgValue)}, "lower_is_better": True,
         "note": "tracemalloc over a 100,000-node graph"},
        {"bench": "GC-tracked objects per node", "ours": _tracked_per_node(Value),
         "peers": {"micrograd": _tracked_per_node(MgValue)}, "lower_is_better": True,
         "note": "what Python's cyclic collector walks"},
    ]
