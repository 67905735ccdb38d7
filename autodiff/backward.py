"""The backward pass: one visit order (the *schedule*) and the passes that consume it.

:func:`schedule` lists a graph's nodes outputs-first, each after every node that
consumes it (Kahn's algorithm on a stack, iterative, so a million-deep graph works),
a node's first input visited first: so a parameter that every sample of a batch uses
adds its shares in the order of the samples.  Everything that walks a graph reads this
one walk: the float pass and the ``create_graph`` pass of :meth:`Value.backward` and the
explainer's backward steps take its order; :func:`topological_order` is the same walk
visiting a node's last input first, reversed, so that it lists inputs first in the
order a formula is written (w0, x0, w0*x0, w1, ...), and the compiled tape reads that.
A pass visits each node once all its consumers have sent their share, and adds
``upstream * local`` to each input, the local derivative read from the op table;
:func:`local_terms` gives a node's inputs with their local derivatives and formula
text, for the explainer and diagrams.  The walk counts consumers in each node's ``_n``
slot and leaves it at zero when it returns, on any exception too (Ctrl-C included).
Leaves accumulate their gradient (``+=``, as in PyTorch); intermediate nodes hold the
gradient of the latest pass.

    >>> from autodiff import Value
    >>> x = Value(3.0, label="x"); y = x * x + x
    >>> [v.label or v.op for v in schedule(y)]
    ['add', 'mul', 'x']
    >>> y.backward(); x.grad
    7.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, List, cast

from . import ops
from .errors import _backward_error, _check_grads, _describe
from .modes import STATE
from .ops import Op
from .value import Value, _as_number

if TYPE_CHECKING:
    from .value import _OpNode

__all__ = ["schedule", "topological_order", "backprop", "local_terms", "input_names"]

_OTHER = ops.OTHER_OPERAND  # a product's local derivative: its other operand


def schedule(root: Value, leaves: bool = True) -> List[Value]:
    """The nodes of ``root``'s graph outputs-first, each once and after all its consumers,
    in the order backward visits them: of a node's inputs that become ready with it, the
    first is visited first.  ``leaves=False`` is backward's schedule: inputs and
    parameters left out (backward has nothing to do at a leaf), and the ``grad`` of
    every node listed reset to 0.0 (it will hold this pass's gradient).
    """
    if not isinstance(root, Value):
        raise TypeError(f"schedule(root): expected a Value, got {type(root).__name__} {root!r:.60}")
    return _walk(root, leaves, True)


def _walk(root: Value, leaves: bool, first_input_first: bool) -> List[Value]:
    """Kahn's walk from ``root``, as :func:`schedule` describes it; with
    ``first_input_first=False`` a node's last ready input is visited first instead, the
    walk :func:`topological_order` reverses."""
    if root._fn is None:
        return [root] if leaves else []
    order: List[Value] = []
    try:
        _count(root, leaves)
        ready = [root]  # Kahn's algorithm: a node is ready once all its consumers came
        push, pop, add = ready.append, ready.pop, order.append
        while True:
            v = pop()
            add(v)
            if v._fn is not None:
                # pushed last, popped first: reversed parents put the first input on top
                ps = v.parents
                for p in reversed(ps) if first_input_first else ps:
                    if leaves or p._fn is not None:
                        n = p._n - 1
                        p._n = n
                        if n == 0:
                            push(p)
            if not ready:
                break
    except BaseException:  # interrupted (Ctrl-C, MemoryError): leave no stale counts
        _reset_counts(root)
        raise
    return order


# Speed habits of the loops below and in _float_pass, each worth up to 2x on them: a
# node's inputs are taken one by one from its slots (`_a`, then `_b` for a binary op; a
# fused neuron's two tuples) rather than looped over as a tuple; counts are compared
# with `== 0` (specialized) rather than tested for truth (a C call); and a loop is
# `while True` with its test at the bottom, since CPython 3.11 specializes a loop's
# bytecode on its first call only when the loop ends in an unconditional jump.


def _count(root: Value, leaves: bool) -> None:
    """The schedule's first step: ``_n`` of each node = its consumers in the graph; with
    ``leaves=False`` leaves are skipped and each node's ``grad`` is reset to 0.0."""
    stack = cast("List[_OpNode]", [root])
    pop = stack.pop
    push = cast("Callable[[Value], None]", stack.append)  # a node with `_fn` set, checked
    while True:
        v = pop()
        fn = v._fn
        a = v._a
        if fn.binary:  # the commonest first
            if a._fn is not None:
                n = a._n
                if n == 0:
                    push(a)
                    if not leaves:
                        a.grad = 0.0
                a._n = n + 1
            elif leaves:
                a._n += 1
            b = v._b
            if b._fn is not None:
                n = b._n
                if n == 0:
                    push(b)
                    if not leaves:
                        b.grad = 0.0
                b._n = n + 1
            elif leaves:
                b._n += 1
        elif fn.nary:  # a fused neuron: (b, w0, ...) and (1, x0, ...)
            for p in a:
                if p._fn is not None:
                    n = p._n
                    if n == 0:
                        push(p)
                        if not leaves:
                            p.grad = 0.0
                    p._n = n + 1
                elif leaves:
                    p._n += 1
            for p in v._b:
                if type(p) is not Value:  # a number input
                    continue
                if p._fn is not None:
                    n = p._n
                    if n == 0:
                        push(p)
                        if not leaves:
                            p.grad = 0.0
                    p._n = n + 1
                elif leaves:
                    p._n += 1
        elif a._fn is not None:  # one input
            n = a._n
            if n == 0:
                push(a)
                if not leaves:
                    a.grad = 0.0
            a._n = n + 1
        elif leaves:
            a._n += 1
        if not stack:
            break


def _reset_counts(root: Value) -> None:
    stack = [root]
    seen = {id(root)}
    while stack:
        v = stack.pop()
        v._n = 0
        if v._fn is not None:
            for p in v.parents:
                if id(p) not in seen:
                    seen.add(id(p))
                    stack.append(p)


def topological_order(root: Value) -> List[Value]:
    """All nodes reachable from ``root``, inputs before outputs, in the order a formula
    is written: the schedule's walk with a node's last input visited first, reversed.

    >>> x = Value(1.0); y = x + x
    >>> [v.op for v in topological_order(y)]
    [None, 'add']
    """
    if not isinstance(root, Value):
        raise TypeError(
            f"topological_order(root): expected a Value, got {type(root).__name__} {root!r:.60}"
        )
    order = _walk(root, True, False)
    order.reverse()
    return order


def _locals(v: Value, fn: Op, graph: bool) -> list:
    """``(input, j, term, local)`` per input of ``v`` (made by ``fn``) in the order of its
    parents: ``j`` indexes the op's derivatives and formulas, ``term`` numbers an n-ary
    op's term, and ``local`` is the local derivative, a float, or with ``graph`` a Value."""
    out = v if graph else v.data
    if fn.split is not None:  # an n-ary op
        return [
            (
                p,
                j,
                k,
                fn.local(
                    j,
                    x if graph or type(x) is not Value else x.data,
                    y if graph or type(y) is not Value else y.data,
                    out,
                ),
            )
            for p, j, k, x, y in fn.split(v._a, v._b)
        ]
    a, b = v._a, v._b
    x = a if graph else a.data
    if fn.kind == "binary":
        y = b if graph else b.data
        return [(a, 0, None, fn.local(0, x, y, out)), (b, 1, None, fn.local(1, x, y, out))]
    return [(a, 0, None, fn.local(0, x, b, out))]


def local_terms(v: Value) -> list:
    """``(input, local derivative, formula)`` for each of ``v.parents`` in order, the
    local derivative a float from the op table, the formula its text (``'-1/x^2'``).

        >>> x = Value(2.0); [(p is x, d, r) for p, d, r in local_terms(x * x)]
        [(True, 2.0, 'y'), (True, 2.0, 'x')]
    """
    fn = v._fn
    if fn is None:
        return []
    c = v.const
    return [(p, local, fn.rule(j, c, k)) for p, j, k, local in _locals(v, fn, False)]


def input_names(v: Value) -> List[str]:
    """The names ``v``'s inputs have in its op's formulas: ``['x', 'y']``, or for a fused
    neuron ``['b', 'w0', 'x0', ...]``."""
    fn = v._fn
    if fn is None:
        return []
    return [fn.input_name(j, k) for _, j, k, _ in _locals(v, fn, False)]


def backprop(root: Value, seed: Any = 1.0, create_graph: bool = False) -> None:
    """``root.backward(seed, create_graph)``: a pass in schedule order from ``root``."""
    if type(seed) is not float and not (create_graph and isinstance(seed, Value)):
        seed = seed.data if isinstance(seed, Value) else _as_number(seed, "backward(grad)")
    if root._fn is None:
        root.grad = root.grad + seed
    elif create_graph:
        _graph_pass(cast("List[_OpNode]", schedule(root, leaves=False)), seed)
    else:
        _float_pass(root, seed)


def _float_pass(root: Value, seed: float) -> None:
    """Each node in schedule order adds ``upstream * local`` to each input's ``grad``,
    its last input first, and pushes each input that this makes ready: the first input
    is pushed last and so visited first, as :func:`schedule` visits.

    This is backward's hot loop, and its fast paths are all here; none changes a result
    bit.  Measured on the micrograd demo step built from Values (65,000 nodes, CPU
    time): (1) it walks :func:`schedule`'s order itself, the same Kahn step on the same
    counts, delivering gradients as it goes, where listing the nodes first and then
    looping over the list takes twice as long (53 ms against 23 ms); (2) a product's
    local derivative (``mul``, ``*c``: ``OTHER_OPERAND`` in the table) is read from the
    other operand instead of calling the table's function (25 ms without); (3) a
    derivative of 1.0 passes the upstream float on (``+``'s two at once: 2% of this
    pass's instructions), a zero share is skipped and a first share stored, so no new
    float is made where none is needed; (4) a fused neuron's tuples are read directly,
    its terms being products, each share delivered where it is computed (2% of an
    ``nn.MLP`` step's instructions against delivering all, then counting all).
    tests/test_hostile_passes.py and the explainer's tests check that the visit order
    and the sums are the schedule's and the explainer's, bit for bit.
    """
    anomaly = STATE.anomaly
    v = cast("_OpNode", root)  # not a leaf: backprop sends a leaf's seed itself
    ready = [v]
    pop = ready.pop
    push = cast("Callable[[Value], None]", ready.append)  # a node with `_fn` set, checked
    try:
        _count(root, False)
        root.grad = seed
        while True:
            v = pop()
            fn = v._fn
            g = v.grad
            a = v._a
            if fn.binary:
                b = v._b
                da, db = fn.derivs
                if da is _OTHER:
                    ga = g * b.data
                    gb = g * a.data
                elif da == db == 1.0:  # +: the upstream float passes on to both
                    ga = gb = g
                elif type(da) is float:  # -
                    ga = g if da == 1.0 else g * da
                    gb = g if db == 1.0 else g * db
                else:
                    x, y, out = a.data, b.data, v.data
                    ga = g * da(x, y, out)
                    gb = g * db(x, y, out)
                if anomaly:
                    _check_grads(v, (ga, gb))
                # A zero share is skipped (it adds nothing); a node's first share is
                # stored, not added to 0.0; a leaf accumulates, across passes too.
                if b._fn is None:
                    if gb:
                        b.grad += gb
                else:
                    if gb:
                        b.grad = b.grad + gb if b.grad else gb
                    n = b._n - 1
                    b._n = n
                    if n == 0:
                        push(b)
            elif fn.nary:  # a fused neuron: b*1 + w0*x0 + ..., each term a product
                for p, q in zip(reversed(a), reversed(v._b)):  # x_n, w_n, ..., x0, w0, b
                    if type(q) is Value:
                        gq = g * p.data
                        gp = g * q.data
                        if anomaly:
                            _check_grads(v, (gq, gp), (q, p))
                        if q._fn is None:
                            if gq:
                                q.grad += gq
                        else:
                            if gq:
                                q.grad = q.grad + gq if q.grad else gq
                            n = q._n - 1
                            q._n = n
                            if n == 0:
                                push(q)
                    else:  # a number x_i: only w_i gets a share
                        gp = g * q
                        if anomaly:
                            _check_grads(v, (gp,), (p,))
                    if p._fn is None:
                        if gp:
                            p.grad += gp
                    else:
                        if gp:
                            p.grad = p.grad + gp if p.grad else gp
                        n = p._n - 1
                        p._n = n
                        if n == 0:
                            push(p)
                if not ready:
                    break
                continue
            else:  # one input, and a constant or None in _b
                d = fn.derivs[0]
                if type(d) is float:
                    ga = g if d == 1.0 else g * d
                elif d is _OTHER:
                    ga = g * v._b
                else:
                    ga = g * d(a.data, v._b, v.data)
                if anomaly:
                    _check_grads(v, (ga,))
            if a._fn is None:  # a binary op's first input, or a one-input op's input
                if ga:
                    a.grad += ga
            else:
                if ga:
                    a.grad = a.grad + ga if a.grad else ga
                n = a._n - 1
                a._n = n
                if n == 0:
                    push(a)
            if not ready:
                break
    except BaseException as e:  # no stale counts for the next pass, Ctrl-C included
        _reset_counts(root)
        if isinstance(e, (ArithmeticError, ValueError, TypeError)) and not isinstance(
            e, FloatingPointError
        ):
            raise _backward_error(v, e) from None
        raise


def _graph_pass(order: List[_OpNode], seed: Any) -> None:
    """``create_graph=True``: the same pass on Values, so gradients form a graph."""
    v = order[0]
    v.grad = seed if type(seed) is Value else Value(seed)
    prev = STATE.grad_enabled
    STATE.grad_enabled = True
    i = 0
    try:
        for v in order:
            g = v.grad
            terms = _locals(v, v._fn, True)
            for i in range(len(terms) - 1, -1, -1):  # last input first, as the float pass
                p, _, _, local = terms[i]
                p.grad = p.grad + (g if local == 1.0 else g * local)
    except FloatingPointError as e:  # detect_anomaly caught a gradient node's forward
        raise FloatingPointError(
            f"detect_anomaly: backward of {v._fn.name} ({v.gate}) produced a non-finite "
            f"gradient for input {i} {_describe(v.parents[i])}; upstream grad "
            f"{_describe(v.grad)}, local derivative {local_terms(v)[i][2]}; output "
            f"{_describe(v)} [{e}]"
        ) from None
    except (ArithmeticError, ValueError, TypeError) as e:
        raise _backward_error(v, e) from None
    finally:
        STATE.grad_enabled = prev
