"""nn.train: Trainer steps, batching, l2, history, tol, callback, progress, predict/accuracy."""
import sys

import numpy as np
import pytest

from autodiff import Value
from nn import MLP, History, StepInfo, Trainer, accuracy, fit, losses, optim, predict
from nn.datasets import blobs, moons, spiral


def test_batch_step_equals_hand_written_update():
    X, y = moons(10, seed=0, labels="pm1")
    a, b = MLP(2, [4, 1], seed=1), MLP(2, [4, 1], seed=1)
    t = Trainer(a, X, y, loss="hinge", optimizer=optim.SGD(a.parameters(), lr=0.3), l2=1e-3)
    info = t.step()
    scores = [b(list(map(Value, row))) for row in X]
    total = losses.hinge(scores, y) + 1e-3 * sum(p * p for p in b.parameters())
    total.backward()
    for p in b.parameters():
        p.data -= 0.3 * p.grad
    want = [p.data for p in b.parameters()]
    assert [p.data for p in a.parameters()] == pytest.approx(want, abs=1e-15)
    assert info.loss == pytest.approx(total.data, abs=1e-15)
    assert info.accuracy == np.mean([(s.data > 0) == (yi > 0) for s, yi in zip(scores, y)])
    assert isinstance(info, StepInfo)
    assert info.step == 0 and info.epoch == 0 and info.batch_size == 10


def test_minibatches_cover_every_row_once_per_epoch():
    X, y = moons(11, seed=0)
    t = Trainer(MLP(2, [3, 1], seed=0), X, y, batch_size=4, seed=3)
    seen = []
    for _ in range(t.updates_per_epoch):
        seen.extend(t._next_batch().tolist())
    assert sorted(seen) == list(range(11))


def test_default_losses_follow_labels():
    X, y = moons(10, seed=0)
    assert Trainer(MLP(2, [2, 1], seed=0), X, y).loss is losses.bce_with_logits
    assert Trainer(MLP(2, [2, 1], seed=0), X, 2 * y - 1).loss is losses.hinge
    assert Trainer(MLP(2, [2, 1], out_activation="sigmoid", seed=0), X, y).loss is losses.bce
    assert Trainer(MLP(2, [2, 2], seed=0), X, y).loss is losses.cross_entropy
    assert Trainer(MLP(2, [2, 1], seed=0), X, X[:, 0]).loss is losses.mse


def test_fit_history_and_accuracy_on_blobs():
    X, y = blobs(60, centers=3, std=0.4, seed=1)
    m = MLP(2, [8, 3], seed=0)
    h = fit(m, X, y, optimizer=optim.Adam(m.parameters(), lr=0.05), epochs=3, batch_size=16,
            progress=False)
    assert isinstance(h, History) and len(h) == 3 * 4 == len(h.accuracy) == len(h.step)
    assert h.step == list(range(12)) and h.epoch == [0] * 4 + [1] * 4 + [2] * 4
    assert h.stopped == "steps"
    assert accuracy(m, X, y) > 0.9
    assert np.mean(h.loss[-4:]) < np.mean(h.loss[:4])


def test_sgd_one_row_per_update():
    X, y = moons(8, seed=0, labels="pm1")
    h = fit(MLP(2, [3, 1], seed=0), X, y, loss="hinge", epochs=2, batch_size=1, progress=False)
    assert len(h) == 16 and set(h.accuracy) <= {0.0, 1.0}


def test_tol_stops_on_convergence():
    X, y = blobs(20, centers=2, std=0.2, seed=0)
    m = MLP(2, [1], seed=0)
    h = fit(m, X, y, optimizer=optim.Adam(m.parameters(), lr=0.1), steps=2000, tol=1e-4,
            progress=False)
    assert h.stopped == "tol" and len(h) < 2000
    assert abs(h.loss[-1] - h.loss[-2]) < 1e-4


def test_callback_sees_every_step_and_can_stop():
    X, y = moons(10, seed=0)
    seen = []
    h = fit(MLP(2, [3, 1], seed=0), X, y, steps=50, progress=False,
            callback=lambda info: seen.append(info) or info.step < 4)
    assert len(h) == 5 == len(seen) and h.stopped == "callback"
    assert [i.loss for i in seen] == h.loss


def test_progress_bar_on_long_runs(capsys):
    X, y = moons(6, seed=0)
    fit(MLP(2, [2, 1], seed=0), X, y, steps=60, progress=True)
    assert "60/60" in capsys.readouterr().err
    fit(MLP(2, [2, 1], seed=0), X, y, steps=60, progress=False)
    assert capsys.readouterr().err == ""


def test_progress_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails
    X, y = moons(6, seed=0)
    assert len(fit(MLP(2, [2, 1], seed=0), X, y, steps=60)) == 60


def test_gradient_free_optimizer_in_trainer():
    X, y = moons(20, seed=0, labels="pm1")
    m = MLP(2, [4, 1], seed=0)
    h = fit(m, X, y, loss="hinge", optimizer=optim.RandomLocalSearch(m.parameters(), seed=0),
            steps=30, progress=False)
    assert h.loss[-1] < h.loss[0] and all(b <= a for a, b in zip(h.loss, h.loss[1:]))


def test_predict_and_accuracy():
    m = MLP(2, [3], seed=0)
    X = np.array([[0.5, -1.0], [2.0, 1.0]])
    scores = predict(m, X)
    assert scores.shape == (2, 3)
    assert np.array_equal(scores[1], [v.data for v in m([2.0, 1.0])])
    assert np.array_equal(predict(m, X, classes=True), scores.argmax(1))
    assert accuracy(m, X, scores.argmax(1)) == 1.0
    one = MLP(2, [1], seed=0)
    s = predict(one, X)
    assert s.shape == (2,)
    assert accuracy(one, X, (s > 0).astype(int)) == 1.0
    assert accuracy(one, X, np.where(s > 0, -1, 1)) == 0.0


def test_compile_without_compiled_module_is_clear(monkeypatch):
    X, y = moons(6, seed=0)
    monkeypatch.setitem(sys.modules, "nn.compiled", None)
    with pytest.raises(RuntimeError, match=r"compile=True\) needs the compiled tape"):
        Trainer(MLP(2, [2, 1], seed=0), X, y, compile=True)


@pytest.mark.parametrize("call, match", [
    (lambda X, y, m: Trainer(m, X[:, :1], y), r"X must have shape \(n, 2\)"),
    (lambda X, y, m: Trainer(m, X, y[:-1]), "10 rows in X but 9 targets"),
    (lambda X, y, m: Trainer(m, X, y, batch_size=0), "batch_size must be None"),
    (lambda X, y, m: Trainer(m, X, y, l2=-1), "l2 must be a number >= 0"),
    (lambda X, y, m: Trainer(m, X, y, loss="svm"), "unknown loss 'svm'"),
    (lambda X, y, m: Trainer(m, X, y, optimizer="lbfgs"), "optimizer must be"),
    (lambda X, y, m: fit(m, X, y, steps=3, epochs=2), "steps or epochs, not both"),
    (lambda X, y, m: fit(m, X, y, steps=0), "steps must be a positive int"),
    (lambda X, y, m: Trainer(m, np.full_like(X, np.nan), y), "NaN or infinity"),
])
def test_errors(call, match):
    X, y = moons(10, seed=0)
    with pytest.raises((ValueError, TypeError), match=match):
        call(X, y, MLP(2, [2, 1], seed=0))


@pytest.mark.parametrize("nouts, loss, labels", [([6, 1], "hinge", "pm1"),
                                                 ([6, 3], "cross_entropy", "01")])
def test_compiled_training_matches_eager(nouts, loss, labels):
    X, y = spiral(12, 3, seed=0) if nouts[-1] == 3 else moons(30, seed=0, labels=labels)
    runs = []
    for compiled in (False, True):
        m = MLP(2, nouts, seed=0)
        t = Trainer(m, X, y, loss=loss, optimizer=optim.SGD(m.parameters(), lr=0.1),
                    l2=1e-3, batch_size=7, compile=compiled)
        infos = [t.step() for _ in range(6)]
        runs.append(([i.loss for i in infos], [i.accuracy for i in infos],
                     [p.data for p in m.parameters()]))
    (le, ae, pe), (lc, ac, pc) = runs
    assert lc == pytest.approx(le, abs=1e-12) and ac == ae
    np.testing.assert_allclose(pc, pe, rtol=0, atol=1e-12)
