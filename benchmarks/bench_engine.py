"""Engine benchmarks: micrograd's demo step built from `Value` ops alone (our Value against
micrograd's Value, same arithmetic, same run, default GC, each engine in a fresh
interpreter), bytes per recorded node (tracemalloc over a 100,000-node graph) and
GC-tracked objects per node."""
from __future__ import annotations

import gc
import tracemalloc

from common import in_turns, median, per_round, run_fresh

_STEPS = """
import json
from common import demo_data, demo_step, time_steps, value_mlp
from {module} import Value as V
X, y = demo_data()
model, params = value_mlp(V, [2, 16, 16, 1])
print(json.dumps({{"s": time_steps(lambda k: demo_step(V, model, params, X, y, k), {n})}}))
"""


def _step_time(module: str, n: int) -> float:
    """Mean seconds per demo step over n steps, in a fresh interpreter."""
    return run_fresh(_STEPS.format(module=module, n=n))["s"]


def _chain(V, n: int):
    x = V(0.5)
    v = x
    for _ in range(n // 2):
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
    from micrograd.engine import Value as MgValue

    from autodiff import Value

    n_ours, n_mg, rounds = (10, 2, 1) if quick else (40, 4, 3)
    t = in_turns({"ours": lambda: _step_time("autodiff", n_ours),
                  "micrograd": lambda: _step_time("micrograd.engine", n_mg)}, rounds)
    return [
        {"bench": "demo step, Value ops only (s/step)", "ours": median(t["ours"]),
         "peers": {"micrograd": median(t["micrograd"])}, "lower_is_better": True,
         "note": "MLP 2-16-16-1, 100 moons, hinge + 1e-4 L2, ~65k nodes; default GC; "
                 f"{rounds} alternating rounds of {n_ours} steps (micrograd {n_mg}), each "
                 f"in a fresh interpreter, medians; "
                 + per_round(t["micrograd"], t["ours"])},
        {"bench": "bytes per recorded node", "ours": _bytes_per_node(Value),
         "peers": {"micrograd": _bytes_per_node(MgValue)}, "lower_is_better": True,
         "note": "tracemalloc over a 100,000-node graph"},
        {"bench": "GC-tracked objects per node", "ours": _tracked_per_node(Value),
         "peers": {"micrograd": _tracked_per_node(MgValue)}, "lower_is_better": True,
         "note": "what Python's cyclic collector walks"},
    ]
