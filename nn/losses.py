"""Loss functions on Values: the numbers training pushes down, each the mean over a batch.

Every loss takes the model's outputs for a batch (a list of Values, or for
``cross_entropy``/``softmax`` a list of logit lists) and the targets (numbers, numpy
arrays, or Values), and returns one ``Value`` whose ``backward`` gives the gradients.
``mse`` (L2) and ``l1`` for regression, ``bce`` on probabilities and
``bce_with_logits`` on raw scores for two classes, ``hinge`` (the max-margin loss of
micrograd's demo, labels -1/+1), and ``cross_entropy`` from logits for k classes,
computed with the log-sum-exp trick so logits of ±1000 stay finite.  A single sample
(one Value, or one list of logits) is accepted as a batch of one.  Mismatched lengths and
labels out of range raise ``ValueError`` naming the loss and the offending entry, and
:func:`check_fit` checks before training that a loss suits a model's outputs and labels
(``fit`` and ``Trainer`` call it).  A loss that needs a prediction's value as a number
(the stable shift of ``softmax``/``cross_entropy``, ``bce``'s range check) reads it as a
constant through ``v.detach().data``, the read that tracing for ``compile`` allows.

    >>> from autodiff import Value
    >>> scores = [Value(2.0), Value(-0.5)]
    >>> hinge(scores, [1, 1]).data      # mean(relu(1 - y*s)) = (0 + 1.5) / 2
    0.75
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, Callable, Union

import numpy as np

from autodiff import Value

__all__ = [
    "mse",
    "l1",
    "bce",
    "bce_with_logits",
    "hinge",
    "softmax",
    "cross_entropy",
    "get",
    "check_fit",
    "LOSSES",
]

Scalar = Union[Value, float]


def _flatten(pred: Any, name: str, what: str = "predictions") -> list:
    """Predictions (or targets) as a flat list: a Value, a list of Values, or a list of
    lists."""
    if isinstance(pred, (Value, Real)):
        return [pred]
    if isinstance(pred, np.ndarray):
        if pred.dtype.kind not in "biuf":  # objects (Values?) or strings: one by one
            return _flatten(pred.tolist(), name, what)
        return [float(v) for v in pred.ravel()]
    out = []
    for p in pred:
        if isinstance(p, (Value, Real)):
            out.append(p)
        elif isinstance(p, (list, tuple, np.ndarray)):
            out.extend(_flatten(p, name, what))
        else:
            raise TypeError(
                f"{name}: {what} must be Values or numbers, got {type(p).__name__} {p!r:.40}"
            )
    return out


def _targets(target: Any, n: int, name: str) -> list:
    t = _flatten(target, name, "targets")
    if len(t) != n:
        raise ValueError(
            f"{name}: {n} predictions but {len(t)} targets; give one target per prediction"
        )
    if n == 0:
        raise ValueError(f"{name}: empty batch")
    for i, v in enumerate(t):
        if not isinstance(v, Value) and not math.isfinite(v):
            raise ValueError(f"{name}: target {i} is {v!r}, not a finite number")
    return t


def _mean(terms: list) -> Value:
    total = sum(terms)
    if not isinstance(total, Value):
        total = Value(total)
    return total * (1.0 / len(terms))


def mse(pred: Any, target: Any) -> Value:
    """Mean squared error (L2): mean of (pred - target)^2 over every element.

    >>> from autodiff import Value
    >>> mse([Value(1.0), Value(3.0)], [0.0, 1.0]).data
    2.5
    """
    p = _flatten(pred, "mse")
    t = _targets(target, len(p), "mse")
    return _mean([(pi - ti) ** 2 for pi, ti in zip(p, t)])


def l1(pred: Any, target: Any) -> Value:
    """Mean absolute error: mean of |pred - target|.

    >>> from autodiff import Value
    >>> l1([Value(1.0), Value(3.0)], [0.0, 1.0]).data
    1.5
    """
    p = _flatten(pred, "l1")
    t = _targets(target, len(p), "l1")
    return _mean([abs(pi - ti) for pi, ti in zip(p, t)])


def _check_unit(t: list, name: str) -> None:
    for i, v in enumerate(t):
        if not isinstance(v, Value) and not 0.0 <= v <= 1.0:
            raise ValueError(
                f"{name}: target {i} is {v!r}; targets must lie in [0, 1] "
                "(class 1 = 1, class 0 = 0)"
            )


def bce(prob: Any, target: Any) -> Value:
    """Binary cross-entropy on probabilities p in (0, 1):
    mean of -(t log p + (1 - t) log(1 - p)).  A term whose target weight is 0 is left
    out, so p = 1 with t = 1 is fine; p outside (0, 1) otherwise raises.

        >>> from autodiff import Value
        >>> round(bce([Value(0.5)], [1]).data, 4)
        0.6931
    """
    p = _flatten(prob, "bce")
    t = _targets(target, len(p), "bce")
    _check_unit(t, "bce")
    terms = []
    for i, (pi, ti) in enumerate(zip(p, t)):
        pd = _data(pi)
        if not 0.0 <= pd <= 1.0:
            raise ValueError(
                f"bce: prediction {i} is {pd!r}, not a probability in [0, 1];"
                " use bce_with_logits for raw scores"
            )
        if isinstance(ti, Value):
            terms.append(-(ti * pi.log() + (1 - ti) * (1 - pi).log()))
        elif ti == 1.0:
            terms.append(-_log(pi))
        elif ti == 0.0:
            terms.append(-_log(1 - pi))
        else:
            terms.append(-(ti * _log(pi) + (1 - ti) * _log(1 - pi)))
    return _mean(terms)


def _log(x: Scalar) -> Scalar:
    return x.log() if isinstance(x, Value) else math.log(x)


def _softplus(z: Value) -> Value:
    """log(1 + e^z) without overflow: 0.5 z + 0.5 |z| + log(1 + e^-|z|).  (The split
    of relu(z) into halves keeps the derivative exact at z = 0: sigmoid(0) = 0.5.)"""
    a = abs(z)
    return 0.5 * z + 0.5 * a + (1 + (-a).exp()).log()


def bce_with_logits(logits: Any, target: Any) -> Value:
    """Binary cross-entropy on raw scores z (sigmoid inside, computed stably):
    mean of softplus(z) - t z, whose gradient is sigmoid(z) - t.

        >>> from autodiff import Value
        >>> round(bce_with_logits([Value(0.0)], [1]).data, 4)
        0.6931
    """
    z = _flatten(logits, "bce_with_logits")
    t = _targets(target, len(z), "bce_with_logits")
    _check_unit(t, "bce_with_logits")
    terms = []
    for zi, ti in zip(z, t):
        if not isinstance(zi, Value):
            zi = Value(zi)
        terms.append(_softplus(zi) - zi * ti)
    return _mean(terms)


def hinge(scores: Any, target: Any) -> Value:
    """The max-margin (SVM) loss of micrograd's demo: mean of relu(1 - y s) with
    labels y in {-1, +1}.

        >>> from autodiff import Value
        >>> hinge([Value(0.5)], [-1]).data
        1.5
    """
    s = _flatten(scores, "hinge")
    t = _targets(target, len(s), "hinge")
    for i, v in enumerate(t):
        if not isinstance(v, Value) and v not in (-1.0, 1.0):
            raise ValueError(
                f"hinge: label {i} is {v!r}; hinge needs labels -1 or +1 "
                "(from 0/1 labels use 2*y - 1, or datasets' labels='pm1')"
            )
    terms = []
    for si, ti in zip(s, t):
        if not isinstance(si, Value):
            si = Value(si)
        terms.append((1 + -ti * si).relu())
    return _mean(terms)


# --- k classes --------------------------------------------------------------------------


def _rows(logits: Any, name: str) -> tuple:
    """``(rows, single)``: logits as a list of rows; a flat list is one sample."""
    if isinstance(logits, np.ndarray):
        logits = logits.tolist()
    if isinstance(logits, Value) or not isinstance(logits, (list, tuple)):
        raise TypeError(
            f"{name}: expected a list of logits (one sample) or a list of "
            f"lists (a batch), got {type(logits).__name__}"
        )
    if not logits:
        raise ValueError(f"{name}: empty batch")
    if all(isinstance(z, (Value, Real)) for z in logits):
        return [list(logits)], True
    rows = [list(r) if isinstance(r, (list, tuple, np.ndarray)) else r for r in logits]
    for i, r in enumerate(rows):
        if not isinstance(r, list):
            raise TypeError(
                f"{name}: sample {i} is a {type(r).__name__}, expected a list of logits"
            )
        if len(r) != len(rows[0]):
            raise ValueError(f"{name}: sample {i} has {len(r)} logits, sample 0 has {len(rows[0])}")
    if len(rows[0]) < 2:
        raise ValueError(f"{name}: need at least 2 classes per sample, got {len(rows[0])}")
    return rows, False


def _data(z: Scalar) -> float:
    """z's value as a plain float, read as a constant (``detach``) for a Value."""
    return z.detach().data if isinstance(z, Value) else float(z)


def _log_sum_exp(row: list) -> Value:
    """log(sum(exp(z))) with the largest logit's value subtracted as a constant first."""
    m = max(_data(z) for z in row)
    s = sum((z - m).exp() if isinstance(z, Value) else Value(math.exp(z - m)) for z in row)
    assert isinstance(s, Value)  # a sum of Values (the row is not empty)
    return s.log() + m


def softmax(logits: Any) -> list:
    """Probabilities exp(z_i) / sum_j exp(z_j) for one sample (a list of Values), or a
    list of such lists for a batch; stable for large logits.

        >>> from autodiff import Value
        >>> [round(p.data, 4) for p in softmax([Value(0.0), Value(0.0)])]
        [0.5, 0.5]
    """
    rows, single = _rows(logits, "softmax")
    out = []
    for row in rows:
        m = max(_data(z) for z in row)
        e = [(z - m).exp() if isinstance(z, Value) else Value(math.exp(z - m)) for z in row]
        s = sum(e)
        out.append([ei / s for ei in e])
    return out[0] if single else out


def cross_entropy(logits: Any, target: Any) -> Value:
    """Softmax cross-entropy from logits, mean over the batch: for class ids c,
    mean of logsumexp(z) - z_c; a one-hot (or probability) row t gives
    sum_i t_i (logsumexp(z) - z_i).  Logits of ±1000 give finite loss and gradients.

        >>> from autodiff import Value
        >>> round(cross_entropy([[Value(1000.0), Value(-1000.0)]], [1]).data, 1)
        2000.0
    """
    rows, single = _rows(logits, "cross_entropy")
    k = len(rows[0])
    if single:
        targets = [target]
    elif isinstance(target, (np.ndarray, list, tuple)):
        targets = list(target)
    else:
        raise TypeError(
            f"cross_entropy: targets must be a list or array, got {type(target).__name__}"
        )
    if len(targets) != len(rows):
        raise ValueError(f"cross_entropy: {len(rows)} samples but {len(targets)} targets")
    terms = []
    for i, (row, t) in enumerate(zip(rows, targets)):
        lse = _log_sum_exp(row)
        if isinstance(t, (list, tuple, np.ndarray)):
            t = list(t)
            if len(t) != k:
                raise ValueError(
                    f"cross_entropy: target {i} has {len(t)} entries, expected one per class ({k})"
                )
            for j, tj in enumerate(t):
                if not isinstance(tj, Value) and (
                    not isinstance(tj, (Real, np.bool_)) or not 0.0 <= float(tj) <= 1.0
                ):
                    raise ValueError(
                        f"cross_entropy: target {i} entry {j} is {tj!r}; a "
                        "one-hot or probability row holds numbers in [0, 1]"
                    )
            terms.append(
                sum(ti * (lse - zi) for ti, zi in zip(t, row) if isinstance(ti, Value) or ti != 0)
            )
        else:
            if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
                c = int(t)
            elif isinstance(t, Real) and math.isfinite(t) and float(t).is_integer():
                c = int(float(t))  # a whole float such as 2.0
            else:
                raise ValueError(
                    f"cross_entropy: target {i} is {t!r}; give a class id "
                    f"(an int in 0..{k - 1}) or a one-hot list"
                )
            if not 0 <= c < k:
                raise ValueError(
                    f"cross_entropy: target {i} is class {c}, out of range "
                    f"for {k} classes (0..{k - 1})"
                )
            terms.append(lse - row[c])
    return _mean(terms)


# --- checks before training -------------------------------------------------------------


def _target_array(y: Any, where: str) -> np.ndarray:
    """y as a numeric numpy array of 1 or 2 dimensions with finite entries (booleans
    become 0/1); anything else raises naming ``where``, the row and the entry."""
    try:
        arr = np.asarray(y)
    except ValueError as e:  # ragged rows
        raise ValueError(
            f"{where}: y must be a list of numbers or of equal-length rows: {e}"
        ) from None
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":
        flat = arr.ravel().tolist()
        for i, v in enumerate(flat):
            if isinstance(v, bool) or not isinstance(v, Real):
                row = i // max(1, int(np.prod(arr.shape[1:])))
                raise TypeError(
                    f"{where}: y must hold numbers (class ids or targets), "
                    f"got {type(v).__name__} {v!r:.40} in row {row}"
                )
        try:
            arr = arr.astype(float)
        except OverflowError:
            raise ValueError(f"{where}: y holds an integer too large for a float") from None
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"{where}: y must be one label per row (shape (n,)) or one row "
            f"of targets per sample (shape (n, k)), got shape {arr.shape}"
        )
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(f"{where}: y contains NaN or infinity (row {row}: {arr[row].tolist()!r})")
    return arr


def _number(v: Any) -> str:
    v = float(v)
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)


def _seen(y: np.ndarray) -> str:
    """The labels in y in a few words, for messages: 'labels seen: 0, 1, 2'."""
    if y.size == 0:
        return "no labels"
    vals = np.unique(y)
    if y.ndim == 2:
        return (
            f"targets of shape {y.shape} with values from {_number(vals[0])} to {_number(vals[-1])}"
        )
    if len(vals) <= 8:
        return "labels seen: " + ", ".join(_number(v) for v in vals)
    return (
        f"labels seen: {len(vals)} distinct values from {_number(vals[0])} to {_number(vals[-1])}"
    )


def check_fit(
    loss: Union[str, Callable],
    n_outputs: int,
    y: Any,
    out_activation: Union[str, None] = None,
    where: str = "fit",
) -> None:
    """Check, before any training, that ``loss`` suits a model with ``n_outputs``
    outputs (whose last layer's activation is ``out_activation``, when known) and the
    labels ``y``; a mismatch raises ``ValueError`` naming the loss, the output count
    and the labels seen.  What each loss needs:

    - ``cross_entropy``: at least 2 outputs (one logit per class) and class ids
      0..k-1, or rows of k numbers in [0, 1] (one-hot or probabilities);
    - ``hinge``: one label per output, each -1 or +1;
    - ``bce``: one label per output in [0, 1] and a sigmoid output (probabilities);
      ``bce_with_logits``: labels in [0, 1] on raw scores;
    - ``mse``, ``l1``: one finite target per output.

    A loss of your own is not checked here beyond y holding finite numbers.

        >>> check_fit("hinge", 1, [-1, 1, 1])
        >>> check_fit("cross_entropy", 1, [0, 1, 2])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: fit: cross_entropy needs at least 2 outputs ... labels seen: 0, 1, 2
    """
    fn = get(loss)
    name = getattr(fn, "__name__", "loss")
    y = _target_array(y, where)
    k = int(n_outputs)
    has = f"the model has {k} output{'s' if k != 1 else ''}"

    def bad(need: str) -> ValueError:
        return ValueError(f"{where}: {name} needs {need}, but {has}; {_seen(y)}")

    if fn is cross_entropy:
        if k < 2:
            raise bad("at least 2 outputs (one logit per class)")
        if y.ndim == 1:
            if not np.all(y == np.round(y)) or np.any(y < 0) or np.any(y >= k):
                raise bad(f"class ids 0..{k - 1} (an int per row, one class per output)")
        elif y.shape[1] != k or np.any(y < 0) or np.any(y > 1):
            raise bad(
                f"a row of {k} numbers in [0, 1] per sample (one-hot or "
                "probabilities), or a class id per row"
            )
        return
    if fn not in (mse, l1, bce, bce_with_logits, hinge):
        return
    cols = 1 if y.ndim == 1 else y.shape[1]
    if cols != k:
        raise bad(
            f"one target per output (y has {cols} per row)"
            + ("; for k classes use cross_entropy" if k > 1 and cols == 1 else "")
        )
    if fn is hinge and not np.all((y == 1) | (y == -1)):
        raise bad("labels -1 or +1 (from 0/1 labels use 2*y - 1, or datasets' labels='pm1')")
    if fn in (bce, bce_with_logits) and (np.any(y < 0) or np.any(y > 1)):
        raise bad("labels in [0, 1] (class 1 = 1, class 0 = 0)")
    if fn is bce and out_activation is not None and out_activation != "sigmoid":
        raise ValueError(
            f"{where}: bce needs probabilities from a sigmoid output, but "
            f"{has} with a {out_activation} last layer; use out_activation="
            f"'sigmoid' or loss='bce_with_logits'; {_seen(y)}"
        )


LOSSES = {
    "mse": mse,
    "l2": mse,
    "l1": l1,
    "bce": bce,
    "bce_with_logits": bce_with_logits,
    "hinge": hinge,
    "cross_entropy": cross_entropy,
}


def get(loss: Union[str, Callable]) -> Callable:
    """A loss by name (``'hinge'``, ``'cross_entropy'``...) or the callable itself."""
    if callable(loss):
        return loss
    try:
        return LOSSES[loss]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)} "
            "or pass a function(predictions, targets) -> Value"
        ) from None
