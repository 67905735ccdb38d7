"""Shared pieces of the benchmarks: micrograd's demo (MLP 2-16-16-1 on 100 moons points,
max-margin loss + 1e-4 L2, learning rate decaying 1.0 -> 0.1), written once so that every
engine runs exactly the same arithmetic, and a timer that keeps Python's GC as users have
it (on, automatic) and keeps the previous step's graph alive while the next one is built,
as the demo notebook does."""
from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np


def demo_data(n: int = 100, noise: float = 0.1, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """100 moons points with labels -1/+1, as micrograd's demo uses them."""
    from nn.datasets import moons
    X, y = moons(n, noise=noise, seed=seed)
    return X, y * 2 - 1


def value_mlp(V: Callable[[float], Any], sizes: Sequence[int], seed: int = 1337):
    """micrograd's MLP written against any Value class: returns (model, params).
    Neuron: sum((wi*xi for wi, xi in zip(w, x)), b), relu on hidden layers."""
    rnd = random.Random(seed)
    layers = []
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        layers.append([([V(rnd.uniform(-1, 1)) for _ in range(sizes[i])], V(0.0), not last)
                       for _ in range(sizes[i + 1])])

    def model(x):
        for layer in layers:
            out = []
            for w, b, nonlin in layer:
                act = sum((wi * xi for wi, xi in zip(w, x)), b)
                out.append(act.relu() if nonlin else act)
            x = out
        return x[0] if len(x) == 1 else x

    params = [p for layer in layers for w, b, _ in layer for p in [*w, b]]
    return model, params


def demo_step(V, model, params: List[Any], X: np.ndarray, y: np.ndarray, k: int):
    """One step of micrograd's demo: forward, loss, zero_grad, backward, SGD update."""
    inputs = [list(map(V, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in params)
    total = data_loss + reg_loss
    for p in params:
        p.grad = 0
    total.backward()
    lr = 1.0 - 0.9 * k / 100
    for p in params:
        p.data -= lr * p.grad
    return total


def time_steps(step: Callable[[int], Any], n: int) -> float:
    """Mean seconds per call of step(k), k = 0..n-1, the previous result kept alive."""
    keep = step(0)  # warm-up, and the 'previous graph' the first timed step sees
    t0 = time.perf_counter()
    for k in range(1, n + 1):
        keep = step(k)  # noqa: F841  (the old graph dies only when this one replaces it)
    return (time.perf_counter() - t0) / n


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def best_time(step: Callable[[int], object], n: int, repeats: int) -> float:
    """Seconds per call of step(k): the best mean over ``repeats`` blocks of n calls."""
    step(0)
    best = float("inf")
    k = 1
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            step(k)
            k += 1
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def in_turns(timers: Dict[str, Callable[[], float]], rounds: int) -> Dict[str, List[float]]:
    """Call each timer once per round, in turn, ``rounds`` times, so that a machine that
    speeds up or slows down over the run weighs on all of them alike.  Returns each
    timer's figures, one per round (see :func:`median` and :func:`per_round`)."""
    figures: Dict[str, List[float]] = {name: [] for name in timers}
    for _ in range(rounds):
        for name, timer in timers.items():
            figures[name].append(timer())
    return figures


median = statistics.median


def per_round(peer: List[float], ours: List[float]) -> str:
    """``'ratio per round 11.0x, 9.9x'``: peer / ours, round by round."""
    return "ratio per round " + ", ".join(f"{p / o:.1f}x" for p, o in zip(peer, ours))


def run_fresh(code: str) -> dict:
    """Run ``code`` in a fresh interpreter (so no engine inherits another's heap or GC
    state) and return the JSON object its last output line prints."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.path.join(ROOT, "benchmarks")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])
