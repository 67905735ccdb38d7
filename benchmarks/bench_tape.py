"""Compiled-tape benchmarks: micrograd's demo step (100 moons points, MLP 2-16-16-1,
hinge + 1e-4 L2, forward + backward + SGD update, learning rate 1.0 -> 0.1) replayed by
``autodiff.compile`` against micrograd (eager), PyTorch CPU float64 doing the same
batched step, and a hand-written numpy forward/backward of the same MLP (the practical
floor); plus the time to trace a 100,000-node graph.

Every contender starts from the same weights (``common.value_mlp``, seed 1337) and data
(``common.demo_data``).  The machine is shared, so each figure is the best of a few
repeats of a block of steps, the same for everyone.  PyTorch runs with its default thread
count and again with one thread; the faster of the two is the peer figure (the note
gives both): on a busy 2-core machine the default threads can be many times slower.

    $ .venv/bin/python benchmarks/run.py --only tape
"""
from __future__ import annotations

import time
from typing import Callable, List

import numpy as np
from common import best_time, demo_data, demo_step, value_mlp


def _lr(k: int) -> float:
    return 1.0 - 0.9 * (k % 100) / 100


# --- the contenders ---------------------------------------------------------------------------

def compiled_step(X: np.ndarray, y: np.ndarray):
    """Our step: the demo's per-sample objective traced once, replayed over the batch.
    The mean over samples of relu(1 - y s) + 1e-4 sum(p^2) is the demo's loss."""
    from autodiff import Value, compile
    model, params = value_mlp(Value, [2, 16, 16, 1])

    def per_sample(x, yi):
        return (1 + -yi * model(x)).relu() + 1e-4 * sum(p * p for p in params)

    tape = compile(per_sample, X[0].tolist(), float(y[0]))
    yf = y.astype(float)

    def step(k: int) -> float:
        loss = tape(X, yf)
        for p in params:
            p.grad = 0.0
        tape.backward()
        lr = _lr(k)
        for p in params:
            p.data -= lr * p.grad
        return loss

    return step, params


def micrograd_step(X: np.ndarray, y: np.ndarray):
    from micrograd.engine import Value as MgValue
    model, params = value_mlp(MgValue, [2, 16, 16, 1])
    return (lambda k: demo_step(MgValue, model, params, X, y, k % 100)), params


def _initial_arrays():
    """The demo's initial weights as matrices: W (in, out), b (out,)."""
    from autodiff import Value
    _, params = value_mlp(Value, [2, 16, 16, 1])
    vals = [p.data for p in params]
    arrays, i = [], 0
    for nin, nout in ((2, 16), (16, 16), (16, 1)):
        W = np.empty((nin, nout))
        b = np.empty(nout)
        for j in range(nout):              # value_mlp: per neuron, its weights then b
            W[:, j] = vals[i:i + nin]
            b[j] = vals[i + nin]
            i += nin + 1
        arrays += [W, b]
    return arrays


def numpy_step(X: np.ndarray, y: np.ndarray):
    """The same step written by hand in numpy: forward, backward, L2, SGD."""
    ps = _initial_arrays()
    yf = y.astype(float)
    n = len(X)

    def step(k: int) -> float:
        W1, b1, W2, b2, W3, b3 = ps
        z1 = X @ W1 + b1
        h1 = np.maximum(z1, 0.0)
        z2 = h1 @ W2 + b2
        h2 = np.maximum(z2, 0.0)
        s = (h2 @ W3 + b3)[:, 0]
        m = 1.0 - yf * s
        loss = np.maximum(m, 0.0).mean() + 1e-4 * sum(float((p * p).sum()) for p in ps)
        ds = np.where(m > 0.0, -yf, 0.0) / n
        dz2 = (ds[:, None] @ W3.T) * (z2 > 0.0)
        dz1 = (dz2 @ W2.T) * (z1 > 0.0)
        grads = [X.T @ dz1, dz1.sum(0), h1.T @ dz2, dz2.sum(0),
                 h2.T @ ds[:, None], np.array([ds.sum()])]
        lr = _lr(k)
        for p, g in zip(ps, grads):
            p -= lr * (g + 2e-4 * p)
        return loss

    return step, ps


def torch_step(X: np.ndarray, y: np.ndarray):
    import torch
    ps = [torch.tensor(a, dtype=torch.float64, requires_grad=True)
          for a in _initial_arrays()]
    Xt = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)

    def step(k: int):
        W1, b1, W2, b2, W3, b3 = ps
        h = torch.relu(Xt @ W1 + b1)
        h = torch.relu(h @ W2 + b2)
        s = (h @ W3 + b3)[:, 0]
        loss = torch.relu(1.0 - yt * s).mean() + 1e-4 * sum((p * p).sum() for p in ps)
        for p in ps:
            p.grad = None
        loss.backward()
        lr = _lr(k)
        with torch.no_grad():
            for p in ps:
                p -= lr * p.grad
        return loss

    return step, ps


def _agree(X: np.ndarray, y: np.ndarray) -> float:
    """Largest relative difference between our compiled step's parameters and the numpy
    step's after 5 steps (they must train the same model)."""
    ours, params = compiled_step(X, y)
    ref, arrays = numpy_step(X, y)
    for k in range(5):
        ours(k)
        ref(k)
    flat = []
    for j in range(3):
        W, b = arrays[2 * j], arrays[2 * j + 1]
        for o in range(W.shape[1]):
            flat += [*W[:, o], b[o]]
    a, b = np.array([p.data for p in params]), np.array(flat)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# --- tracing -------------------------------------------------------------------------------

def _timed(fn: Callable[[], object], repeats: int = 2) -> tuple:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _chain(x):
    """100,001 nodes, one per level: tanh, then *0.999 and + x, alternately."""
    v = x
    for i in range(66_667):
        v = v * 0.999 + x if i % 2 else v.tanh()
    return v


def _trace_times():
    from autodiff import Value, compile
    from nn import MLP
    # fused=False: the eager peer records the gate graph a trace records (tracing always
    # expands a neuron's w·x+b gate into its * and + gates, which the tape vectorizes)
    model = MLP(16, [128, 128, 128, 1], seed=0, fused=False)
    x0 = [0.1] * 16
    eager_mlp, _ = _timed(lambda: model([Value(v) for v in x0]))
    mlp, tape = _timed(lambda: compile(model, x0))
    eager_chain, _ = _timed(lambda: _chain(Value(0.5)))
    chain, deep = _timed(lambda: compile(_chain, 0.5))
    return (tape.n_nodes, mlp, eager_mlp), (deep.n_nodes, deep.n_levels, chain, eager_chain)


def run(quick: bool = False) -> List[dict]:
    import torch
    X, y = demo_data()
    n, reps = (100, 3) if quick else (400, 5)
    ours = best_time(compiled_step(X, y)[0], n, reps)
    floor = best_time(numpy_step(X, y)[0], n, reps)
    threads = torch.get_num_threads()
    t_default = best_time(torch_step(X, y)[0], n // 2, reps)
    torch.set_num_threads(1)
    try:
        t_one = best_time(torch_step(X, y)[0], n // 2, reps)
    finally:
        torch.set_num_threads(threads)
    mg = best_time(micrograd_step(X, y)[0], 1 if quick else 3, 2)
    agree = _agree(X, y)
    (mlp_nodes, mlp_s, mlp_eager), (ch_nodes, ch_levels, ch_s, ch_eager) = _trace_times()
    best_torch = min(t_default, t_one)
    return [
        {"bench": "demo step compiled (s/step)", "ours": ours,
         "peers": {"micrograd": mg, "pytorch": best_torch, "numpy": floor},
         "lower_is_better": True,
         "note": (f"MLP 2-16-16-1, 100 moons, hinge + 1e-4 L2, fwd+bwd+SGD; "
                  f"{mg / ours:.0f}x micrograd (bar 300x), {ours / best_torch:.2f}x "
                  f"PyTorch's time (bar <= 2x), {ours / floor:.2f}x the numpy floor; "
                  f"PyTorch float64 {t_default * 1e3:.3f} ms with its default "
                  f"{threads} threads, {t_one * 1e3:.3f} ms with 1 (peer = faster); "
                  f"parameters equal numpy's after 5 steps to {agree:.1e}")},
        {"bench": "trace ~100k-node MLP graph (s)", "ours": mlp_s,
         "peers": {"eager": mlp_eager}, "lower_is_better": True,
         "note": (f"compile(MLP 16-128-128-128-1): {mlp_nodes} nodes, bound 1 s; "
                  f"peer = recording the same graph once, eagerly")},
        {"bench": "trace 100k-node deep chain (s)", "ours": ch_s,
         "peers": {"eager": ch_eager}, "lower_is_better": True,
         "note": (f"worst case, one node per level: {ch_nodes} nodes, {ch_levels} levels"
                  f"; peer = recording it once, eagerly")},
    ]


if __name__ == "__main__":
    import sys
    for row in run(quick="--quick" in sys.argv):
        print(row)
