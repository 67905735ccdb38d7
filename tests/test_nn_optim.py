"""nn.optim: SGD, momentum and Adam step for step against torch.optim; schedules; searches."""
import itertools
import math

import numpy as np
import pytest
import torch

from autodiff import Value
from nn import optim


def _quartic(ps):
    a, b = ps
    return (a * b - 1.5) ** 2 + (a - 0.3) ** 4 + 0.1 * b * b


@pytest.mark.parametrize("ours, theirs", [
    (lambda p: optim.SGD(p, lr=0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    (lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    (lambda p: optim.Adam(p, lr=0.1, betas=(0.8, 0.99), eps=1e-6),
     lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.8, 0.99), eps=1e-6)),
], ids=["sgd", "momentum", "adam"])
def test_matches_torch_optimizers(ours, theirs):
    start = [0.7, -1.2]
    ps = [Value(v) for v in start]
    opt = ours(ps)
    ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in start]
    topt = theirs(ts)
    for _ in range(25):
        opt.step(lambda: _quartic(ps))
        topt.zero_grad()
        _quartic(ts).backward()
        topt.step()
    np.testing.assert_allclose([p.data for p in ps], [t.item() for t in ts], rtol=1e-12)
    assert opt.t == 25


def test_step_without_closure_uses_existing_grads():
    w = Value(2.0)
    opt = optim.SGD([w], lr=0.5)
    (w * w).backward()
    assert opt.step() is None
    assert w.data == 0.0


def test_linear_decay_reproduces_micrograd_schedule():
    s = optim.LinearDecay(1.0, 0.1, 100)
    assert all(s(k) == 1.0 - 0.9 * k / 100 for k in range(100))
    w = Value(1.0)
    opt = optim.SGD([w], lr=s)
    lrs = []
    for _ in range(3):
        lrs.append(opt.lr)
        w.grad = 0.0
        opt.step()
    assert lrs == [1.0, 1.0 - 0.9 / 100, 1.0 - 0.9 * 2 / 100]


def test_step_and_exponential_decay():
    decay = optim.StepDecay(0.8, every=2, gamma=0.5)
    assert [decay(k) for k in range(5)] == [0.8, 0.8, 0.4, 0.4, 0.2]
    assert [optim.ExponentialDecay(1.0, 0.9)(k) for k in range(3)] == [1.0, 0.9, 0.9 ** 2]


def test_random_search_keeps_best_and_never_gets_worse():
    ps = [Value(3.0), Value(3.0)]
    rs = optim.RandomSearch(ps, scale=2.0, seed=1)
    best = [rs.step(lambda: _quartic(ps)) for _ in range(100)]
    assert all(b2 <= b1 for b1, b2 in itertools.pairwise(best))
    assert best[-1] < best[0]
    assert [p.data for p in ps] == rs.best
    assert _quartic(ps).data == pytest.approx(best[-1])
    assert all(abs(v) <= 2.0 for v in rs.best)


def test_random_local_search_moves_in_small_steps():
    ps = [Value(3.0), Value(3.0)]
    rls = optim.RandomLocalSearch(ps, scale=0.05, seed=0)
    first = rls.step(lambda: _quartic(ps))
    assert math.dist([p.data for p in ps], [3.0, 3.0]) < 0.5
    for _ in range(300):
        last = rls.step(lambda: _quartic(ps))
    assert last < first and _quartic(ps).data == pytest.approx(last)


def test_search_needs_a_closure_and_records_no_graph():
    w = Value(1.0)
    with pytest.raises(TypeError, match="needs a closure"):
        optim.RandomSearch([w]).step()
    seen = []
    optim.RandomSearch([w], seed=0).step(lambda: seen.append(w * 2) or seen[-1])
    assert all(v.is_leaf for v in seen)  # evaluated under no_grad


@pytest.mark.parametrize("make, match", [
    (lambda: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda: optim.SGD([1.0], lr=0.1), "parameter 0 is a float, expected a Value"),
    (lambda: optim.SGD([Value(1.0)], lr=-1), "lr must be a non-negative number"),
    (lambda: optim.SGD([Value(1.0)], momentum=1.0), "momentum must be in"),
    (lambda: optim.Adam([Value(1.0)], betas=(1.0, 0.9)), "betas must be in"),
    (lambda: optim.Adam([Value(1.0)], eps=0), "eps must be > 0"),
    (lambda: optim.RandomLocalSearch([Value(1.0)], scale=0), "scale must be > 0"),
    (lambda: optim.LinearDecay(1, 0, 0), "steps must be >= 1"),
    (lambda: optim.ExponentialDecay(1, 1.5), "gamma must be in"),
])
def test_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_closure_must_return_value():
    with pytest.raises(TypeError, match="closure must return a Value"):
        optim.SGD([Value(1.0)]).step(lambda: 1.0)
