"""nn.losses: values and gradients against PyTorch float64; stability; clear errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autodiff import Value
from nn import losses

RNG = np.random.default_rng(0)


def _ours(loss, z, target):
    vs = [[Value(v) for v in row] for row in z] if z.ndim == 2 else [Value(v) for v in z]
    out = loss(vs, target)
    out.backward()
    grads = (np.array([[v.grad for v in row] for row in vs]) if z.ndim == 2
             else np.array([v.grad for v in vs]))
    return out.data, grads


def _torch(fn, z, target):
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    out = fn(zt, target)
    out.backward()
    return out.item(), zt.grad.numpy()


CASES = {
    "mse": (losses.mse, lambda z, t: F.mse_loss(z, torch.tensor(t, dtype=torch.float64)),
            lambda: (RNG.normal(size=6), RNG.normal(size=6))),
    "l1": (losses.l1, lambda z, t: F.l1_loss(z, torch.tensor(t, dtype=torch.float64)),
           lambda: (RNG.normal(size=6), RNG.normal(size=6))),
    "bce": (losses.bce,
            lambda z, t: F.binary_cross_entropy(z, torch.tensor(t, dtype=torch.float64)),
            lambda: (RNG.uniform(0.05, 0.95, size=6), np.array([0, 1, 1, 0, 0.3, 1.0]))),
    "bce_with_logits": (losses.bce_with_logits,
                        lambda z, t: F.binary_cross_entropy_with_logits(
                            z, torch.tensor(t, dtype=torch.float64)),
                        lambda: (np.array([-3.0, 0.0, 0.5, 40.0, -40.0, 2.0]),
                                 np.array([1, 0, 1, 0, 1, 0.25]))),
    "hinge": (losses.hinge,
              lambda z, t: torch.relu(1 - torch.tensor(t, dtype=torch.float64) * z).mean(),
              lambda: (np.array([2.0, -0.5, 0.3, -1.7, 0.9]), np.array([1, 1, -1, -1, 1]))),
    "cross_entropy": (losses.cross_entropy,
                      lambda z, t: F.cross_entropy(z, torch.tensor(t)),
                      lambda: (RNG.normal(size=(5, 4)) * 3, np.array([0, 3, 1, 1, 2]))),
    "cross_entropy_onehot": (losses.cross_entropy,
                             lambda z, t: F.cross_entropy(z, torch.tensor(t, dtype=torch.float64)),
                             lambda: (RNG.normal(size=(3, 3)),
                                      np.array([[0, 1.0, 0], [1, 0, 0], [0.2, 0.3, 0.5]]))),
    "cross_entropy_extreme": (losses.cross_entropy,
                              lambda z, t: F.cross_entropy(z, torch.tensor(t)),
                              lambda: (np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]]),
                                       np.array([1, 2]))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_loss_value_and_gradient_match_torch(name):
    ours_fn, torch_fn, data = CASES[name]
    z, t = data()
    value, grad = _ours(ours_fn, z, t)
    tvalue, tgrad = _torch(torch_fn, z, t)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert value == pytest.approx(tvalue, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(grad, tgrad, rtol=1e-10, atol=1e-12)


def test_bce_with_logits_gradient_at_zero_is_sigmoid_minus_target():
    z = Value(0.0)
    losses.bce_with_logits([z], [1]).backward()
    assert z.grad == pytest.approx(-0.5)


def test_softmax_matches_torch_and_is_stable():
    z = np.array([1000.0, 999.0, -1000.0])
    vs = [Value(v) for v in z]
    p = losses.softmax(vs)
    ref = torch.softmax(torch.tensor(z), 0).numpy()
    np.testing.assert_allclose([v.data for v in p], ref, rtol=1e-12, atol=1e-300)
    p[0].backward()
    zt = torch.tensor(z, requires_grad=True)
    torch.softmax(zt, 0)[0].backward()
    np.testing.assert_allclose([v.grad for v in vs], zt.grad.numpy(), atol=1e-12)
    batch = losses.softmax([[Value(0.0), Value(0.0)], [Value(1.0), Value(1.0)]])
    assert [[v.data for v in r] for r in batch] == [[0.5, 0.5], [0.5, 0.5]]


def test_single_sample_forms():
    assert losses.mse(Value(3.0), 1.0).data == 4.0
    assert losses.cross_entropy([Value(0.0), Value(0.0)], 1).data == pytest.approx(np.log(2))
    assert losses.cross_entropy([Value(0.0), Value(0.0)], [0, 1]).data == pytest.approx(np.log(2))


def test_targets_may_be_values():
    z = [Value(0.5), Value(-1.0)]
    t = [Value(0.0), Value(1.0)]
    out = losses.cross_entropy([z], [t])
    assert out.data == pytest.approx(losses.cross_entropy([z], [1]).data)


@pytest.mark.parametrize("call, match", [
    (lambda: losses.mse([Value(1.0)] * 3, [1.0, 2.0]), "mse: 3 predictions but 2 targets"),
    (lambda: losses.l1([], []), "l1: empty batch"),
    (lambda: losses.hinge([Value(1.0)], [0]), "hinge: label 0 is 0; hinge needs labels -1 or"),
    (lambda: losses.bce([Value(1.5)], [1]), "bce: prediction 0 is 1.5, not a probability"),
    (lambda: losses.bce([Value(0.5)], [2]), r"bce: target 0 is 2; targets must lie in \[0, 1\]"),
    (lambda: losses.bce_with_logits([Value(0.5)], [-1]), "bce_with_logits: target 0"),
    (lambda: losses.cross_entropy([[Value(1.0), Value(2.0)]], [2]),
     r"target 0 is class 2, out of range for 2 classes \(0..1\)"),
    (lambda: losses.cross_entropy([[Value(1.0), Value(2.0)]], [-1]), "out of range"),
    (lambda: losses.cross_entropy([[Value(1.0), Value(2.0)]], [0.5]), "give a class id"),
    (lambda: losses.cross_entropy([[Value(1.0), Value(2.0)]], [0, 1]), "1 samples but 2 targets"),
    (lambda: losses.cross_entropy([[Value(1.0), Value(2.0)], [Value(1.0)]], [0, 0]),
     "sample 1 has 1 logits, sample 0 has 2"),
    (lambda: losses.cross_entropy([[Value(1.0), Value(2.0)]], [[1, 0, 0]]),
     r"target 0 has 3 entries, expected one per class \(2\)"),
    (lambda: losses.cross_entropy(Value(1.0), [0]), "expected a list of logits"),
    (lambda: losses.mse([Value(1.0)], [float("nan")]), "target 0 is nan"),
    (lambda: losses.get("huber"), "unknown loss 'huber'"),
])
def test_errors_are_clear(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_get_by_name():
    assert losses.get("cross_entropy") is losses.cross_entropy
    assert losses.get("l2") is losses.mse
    f = lambda p, t: p  # noqa: E731
    assert losses.get(f) is f
