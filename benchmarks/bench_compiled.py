"""Compiled training against PyTorch on a grid of MLPs and batch sizes: the time of one
step of ``fit(..., compile=True)`` (hinge loss, SGD, full batch, seeded random data;
its bookkeeping -- batch choice, accuracy, history -- included) beside the same step in
PyTorch CPU float64 (``X @ W + b``, relu, hinge, ``backward``, ``torch.optim.SGD``).

Both sides run on one thread: ``torch.set_num_threads(1)``, and numpy's BLAS limited
to one thread with threadpoolctl (the note says what it found).  The machine may be
shared, so the two are timed in turns, round after round, and each figure is the
median of the rounds.  A step's time is ``fit``'s time from its first update to its
return, over its steps: the one-off setup before it, tracing the loss and checking the
replay against the eager engine, is reported beside it, as is the time to trace a
2-128-128-1 MLP.

    $ .venv/bin/python benchmarks/run.py --only compiled
"""
from __future__ import annotations

import time
from typing import List
from unittest import mock

import numpy as np
from common import in_turns, median

# (layer sizes, batch, steps per timing)
GRID = [([2, 16, 16, 1], 100, 300), ([2, 16, 16, 1], 10_000, 20),
        ([2, 64, 64, 1], 1_000, 60), ([64, 32, 1], 1_797, 60),
        ([2, 128, 128, 1], 100, 200), ([2, 128, 128, 1], 10_000, 4)]
LR = 0.05


def grid_data(nin: int, n: int, seed: int = 0) -> tuple:
    """n points with nin normal features and labels -1/+1 from a noisy quadrant rule."""
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, nin))
    y = np.where(X[:, 0] * X[:, -1] + 0.1 * r.normal(size=n) > 0, 1.0, -1.0)
    return X, y


def ours(sizes: List[int], X: np.ndarray, y: np.ndarray, steps: int) -> tuple:
    """(seconds per step of fit(compile=True), its setup in seconds).  The clock starts
    again when fit makes its first update: what comes before (tracing the loss and
    checking the replay against the eager engine) is the setup; the rest, divided by
    ``steps``, is a step with its bookkeeping and the final write-back into Values."""
    from nn import MLP, fit, optim
    from nn.train import Trainer
    m = MLP(sizes[0], sizes[1:], seed=0)
    first: List[float] = []
    update = Trainer._update

    def marked(self):
        if not first:
            first.append(time.perf_counter())
        return update(self)

    t0 = time.perf_counter()
    with mock.patch.object(Trainer, "_update", marked):
        fit(m, X, y, loss="hinge", optimizer=optim.SGD(m.parameters(), lr=LR),
            steps=steps, progress=False, compile=True)
    t1 = time.perf_counter()
    return (t1 - first[0]) / steps, first[0] - t0


def torch_step(sizes: List[int], X: np.ndarray, y: np.ndarray):
    """The same step in PyTorch, from the same initial weights."""
    import torch

    from nn import MLP
    m = MLP(sizes[0], sizes[1:], seed=0)
    ps = []
    for layer in m.layers:
        W = np.array([[w.data for w in n.w] for n in layer.neurons]).T   # (in, out)
        b = np.array([n.b.data for n in layer.neurons])
        ps += [torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)]
    Xt, yt = torch.tensor(X), torch.tensor(y)
    opt = torch.optim.SGD(ps, lr=LR)

    def step() -> float:
        h = Xt
        for i in range(0, len(ps), 2):
            h = h @ ps[i] + ps[i + 1]
            if i < len(ps) - 2:
                h = torch.relu(h)
        loss = torch.relu(1.0 - yt * h[:, 0]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step, ps


def torch_time(sizes: List[int], X: np.ndarray, y: np.ndarray, steps: int) -> float:
    step, _ = torch_step(sizes, X, y)
    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def _agree(sizes: List[int], X: np.ndarray, y: np.ndarray) -> float:
    """Largest difference between our parameters and PyTorch's after 5 steps."""
    from nn import MLP, fit, optim
    m = MLP(sizes[0], sizes[1:], seed=0)
    fit(m, X, y, loss="hinge", optimizer=optim.SGD(m.parameters(), lr=LR), steps=5,
        progress=False, compile=True)
    step, ps = torch_step(sizes, X, y)
    for _ in range(5):
        step()
    ours_p = np.array([p.data for p in m.parameters()])
    theirs: list = []
    for i in range(0, len(ps), 2):                 # per neuron: its weights, then b
        Wi, bi = ps[i].detach().numpy(), ps[i + 1].detach().numpy()
        for o in range(Wi.shape[1]):
            theirs += [*Wi[:, o], bi[o]]
    return float(np.max(np.abs(ours_p - np.array(theirs))))


def trace_time(rounds: int = 3) -> float:
    """Best time to trace and schedule a 2-128-128-1 MLP with compile()."""
    from autodiff import compile
    from nn import MLP
    m = MLP(2, [128, 128, 1], seed=0)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        compile(m, [0.1, 0.2])
        best = min(best, time.perf_counter() - t0)
    return best


def _blas_note() -> tuple:
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return None, "threadpoolctl not installed: numpy's BLAS threads left as they are"
    info = ", ".join(f"{d.get('internal_api')} {d.get('num_threads')} threads"
                     f" ({d.get('architecture', '?')})" for d in threadpool_info())
    return threadpool_limits, f"numpy BLAS found: {info}; limited to 1 for the run"


def run(quick: bool = False) -> List[dict]:
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    limits, note = _blas_note()
    ctx = limits(1) if limits is not None else None
    rows = []
    table = []
    try:
        if ctx is not None:
            ctx.__enter__()
        rounds = 2 if quick else 3
        for sizes, n, steps in GRID:
            steps = max(2, steps // 4) if quick else steps
            X, y = grid_data(sizes[0], n)
            setups: List[float] = []

            def timed_ours(sizes=sizes, X=X, y=y, steps=steps, setups=setups) -> float:
                t, s = ours(sizes, X, y, steps)
                setups.append(s)
                return t

            def timed_torch(sizes=sizes, X=X, y=y, steps=steps) -> float:
                return torch_time(sizes, X, y, steps)

            figs = in_turns({"ours": timed_ours, "pytorch": timed_torch}, rounds)
            o, p = median(figs["ours"]), median(figs["pytorch"])
            name = f"{'-'.join(map(str, sizes))} @ {n}"
            agree = _agree(sizes, X, y)
            table.append((name, o, p, median(setups), figs))
            rows.append({"bench": f"fit compiled {name} (s/step)", "ours": o,
                         "peers": {"pytorch": p}, "lower_is_better": True,
                         "note": (f"{o / p:.2f}x PyTorch's time (bar <= 2x); rounds ours "
                                  + ", ".join(f"{v * 1e3:.3f}" for v in figs["ours"])
                                  + " ms, PyTorch "
                                  + ", ".join(f"{v * 1e3:.3f}" for v in figs["pytorch"])
                                  + f" ms; setup {median(setups):.2f} s; parameters "
                                  f"equal PyTorch's after 5 steps to {agree:.1e}")})
        tr = trace_time()
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)
        torch.set_num_threads(threads)
    rows.append({"bench": "trace 2-128-128-1 MLP (s)", "ours": tr, "peers": {},
                 "lower_is_better": True, "note": "compile(MLP(2, [128, 128, 1])): bar 0.5 s"})
    print(f"  {note}")
    print(f"  {'MLP @ batch':22} {'fit(compile=True)':>18} {'PyTorch 1 thread':>17} "
          f"{'ours / PyTorch':>15} {'setup':>8}")
    for name, o, p, s, _ in table:
        print(f"  {name:22} {o * 1e3:15.3f} ms {p * 1e3:14.3f} ms {o / p:14.2f}x "
              f"{s:7.2f}s")
    return rows


if __name__ == "__main__":
    import sys
    for row in run(quick="--quick" in sys.argv):
        print(row)
