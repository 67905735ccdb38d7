"""Benchmark: micrograd's demo notebook, step for step, with gradwire's MLP vs micrograd's.

Two rows: our default ``MLP`` (each neuron's z = w·x + b one ``w·x+b`` node) and
``MLP(..., fused=False)``, which records micrograd's own graph, a gate per product and
sum; here the two give the same values and gradients, bit for bit.

The demo (micrograd/demo.ipynb) trains ``MLP(2, [16, 16, 1])`` on 100 moons points with
the max-margin loss, L2 regularisation and SGD, full batch.  Each timed step is the
notebook's loop body verbatim: build the loss graph, ``zero_grad``, ``backward``,
update.  As in the notebook, Python's automatic garbage collector stays on and the
previous step's graph stays alive (``total_loss`` is only rebound when the next graph
is complete).  Each engine runs in a fresh interpreter so neither inherits the other's
heap; the data are the same (``nn.datasets.moons``, as the test uses, since scikit-learn
is not installed), and so is the initialisation (``random.seed(1337)``).

    $ .venv/bin/python benchmarks/bench_nn.py --quick
"""
from __future__ import annotations

import json
import sys

from common import in_turns, median, per_round, run_fresh

# The notebook's code; only the imports differ between the two engines.
_DEMO = '''
import random, time
import numpy as np
{imports}
from nn.datasets import moons

np.random.seed(1337)
random.seed(1337)
X, y = moons(100, noise=0.1, seed=1337)
y = y*2 - 1

model = MLP(2, [16, 16, 1])

def loss(batch_size=None):
    if batch_size is None:
        Xb, yb = X, y
    else:
        ri = np.random.permutation(X.shape[0])[:batch_size]
        Xb, yb = X[ri], y[ri]
    inputs = [list(map(Value, xrow)) for xrow in Xb]
    scores = list(map(model, inputs))
    losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(yb, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum((p*p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
    return total_loss, sum(accuracy) / len(accuracy)

total_loss, acc = loss()
times, lines = [], []
for k in range({steps}):
    t0 = time.perf_counter()
    total_loss, acc = loss()
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9*k/100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    if k % 1 == 0:
        lines.append(f"step {{k}} loss {{total_loss.data}}, accuracy {{acc*100}}%")
    times.append(time.perf_counter() - t0)
RESULT = {{"times": times, "loss": total_loss.data, "accuracy": acc}}
'''

IMPORTS = {
    "ours": "from autodiff import Value\nfrom nn import MLP",
    "ours-gates": "from functools import partial\nfrom autodiff import Value\n"
                  "import nn\nMLP = partial(nn.MLP, fused=False)",
    "micrograd": "from micrograd.engine import Value\nfrom micrograd.nn import MLP",
}


def _worker(engine: str, steps: int) -> dict:
    """Run the demo in this interpreter; return per-step times and the final state."""
    scope: dict = {"__name__": "__demo__"}
    exec(compile(_DEMO.format(imports=IMPORTS[engine], steps=steps), "<micrograd demo>",
                 "exec"), scope)
    return scope["RESULT"]


def _run_fresh(engine: str, steps: int) -> dict:
    return run_fresh(f"from bench_nn import _worker; import json; "
                     f"print(json.dumps(_worker({engine!r}, {steps})))")


def run(quick: bool = False) -> list:
    """Time the demo's steps with each engine, in turns, each run in a fresh
    interpreter: 3 rounds of 100 steps of ours (fused, then gate by gate) and 4 of
    micrograd's (its steps take seconds each); one short round when quick.  Each round's
    figure is its mean step; the rows give the medians and each round's ratio."""
    ours_steps, mg_steps, rounds = (10, 2, 1) if quick else (100, 4, 3)
    last = {}

    def timer(engine: str, steps: int):
        def mean_step() -> float:
            last[engine] = r = _run_fresh(engine, steps)
            return sum(r["times"]) / len(r["times"])
        return mean_step

    times = in_turns({"ours": timer("ours", ours_steps),
                      "ours-gates": timer("ours-gates", ours_steps),
                      "micrograd": timer("micrograd", mg_steps)}, rounds)
    rows = []
    for engine, what in (("ours", "nn: micrograd demo, nn.MLP (s/step)"),
                         ("ours-gates", "nn: same, MLP(fused=False) (s/step)")):
        note = (f"final loss {last[engine]['loss']:.4f}, accuracy "
                f"{last[engine]['accuracy']:.2f} after {ours_steps} steps; "
                + per_round(times["micrograd"], times[engine]))
        if engine == "ours":
            note = (f"micrograd demo MLP(2,[16,16,1]), 100 moons points, full steps with GC "
                    f"on and the previous graph alive; {rounds} rounds of {ours_steps} steps "
                    f"(micrograd {mg_steps}), each in a fresh interpreter, medians; " + note)
        rows.append({"bench": what, "ours": median(times[engine]),
                     "peers": {"micrograd": median(times["micrograd"])},
                     "note": note})
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(_worker(sys.argv[2], int(sys.argv[3]))))
    else:
        for row in run(quick="--quick" in sys.argv):
            print(json.dumps(row, indent=1))
