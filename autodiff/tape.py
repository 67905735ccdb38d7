"""The compiled tape: record a function once with the scalar engine, replay it over a
whole batch with numpy, forward and backward.

``compile(fn)`` runs ``fn`` on one sample with Values (*tracing*) and keeps the graph it
recorded as a schedule of *levels*: every node of one op at one depth is computed by one
numpy call on an array shaped ``(nodes, batch)``, so numpy works on large arrays, not one
node at a time.  Chains of ``+`` are flattened into one n-ary sum (a neuron's 16-term sum
is one level, not sixteen).  Forward and local derivatives are the op table's own
(``op.vforward``, ``op.local`` called with arrays, see :mod:`autodiff.ops`): the tape holds
no second copy of any derivative.

The traced function's arguments are the *inputs*, one row per sample (a number, or a
list of numbers, per argument).  Values it reaches that are not inputs and were not
computed inside it -- model parameters -- are *parameters*: their current ``.data`` is
read at every call, and :meth:`Tape.backward` adds the batch's gradient (by default of
the MEAN over the batch) to their ``.grad``, so an optimizer steps them as usual.
Numbers folded into gates are constants.  Python control flow over Values (``if v > 0``,
``bool(v)``) cannot be replayed for other samples, so tracing refuses it; ``relu``,
``abs`` and friends are ops and fine.

    >>> from autodiff import Value
    >>> w = Value(2.0, label="w")
    >>> f = compile(lambda x: (w * x).tanh())
    >>> f([0.0, 0.5, 1.0]).round(4)          # three samples at once
    array([0.    , 0.7616, 0.964 ])
    >>> _ = f.backward()                      # d mean(f) / dw, added to w.grad
    >>> round(w.grad, 4)
    0.0935
"""
from __future__ import annotations

import gc
import inspect
from numbers import Real
from typing import Any, Callable, List, Optional, Sequence

import numpy as np

from . import ops
from .backward import topological_order
from .value import STATE, Value, _affine_gates, enable_grad

__all__ = ["compile", "Tape", "TapeMismatchError"]

_V, _C = 0, 1          # the two buffers: per-sample rows (batch wide), constant rows (width 1)
_SPACE = ("batch", "constant")
_ADD_D = ops.ADD.derivs[0]       # d(x + y)/dx from the table: the flattened sum's derivative
_SUMMABLE = (ops.ADD, ops.ADD_C) if (type(_ADD_D) is float and
                                     ops.ADD.derivs == (_ADD_D, _ADD_D) and
                                     ops.ADD_C.derivs == (_ADD_D,)) else ()


class TapeMismatchError(AssertionError):
    """The replay disagrees with the eager engine (raised by :meth:`Tape.check`)."""


def compile(fn: Callable[..., Any], *example: Any, check: bool = False) -> "Tape":
    """Trace ``fn`` and return a :class:`Tape` replaying it over batches.

    ``example`` is one sample (one value per argument of ``fn``: a number, or a list of
    numbers); without it the tape traces on the first row of its first call.  With
    ``check=True`` the first call also verifies the replay against the eager engine on
    a few samples (:meth:`Tape.check`).

        >>> sq = compile(lambda x: x[0] * x[0] + x[1], [0.0, 0.0])
        >>> sq([[1.0, 2.0], [3.0, 4.0]])
        array([ 3., 13.])
    """
    return Tape(fn, *example, check=check)


# --- the schedule's pieces ----------------------------------------------------------------

def _as_gates(v: Value) -> Value:
    """A fused ``w·x+b`` node recorded again as its ``*`` and ``+`` gates (same floats)."""
    with enable_grad():
        return _affine_gates(v._a[1:], v._b[1:], v._a[0])


def _first(key: tuple) -> Any:
    return key[0]


def _sel(rows: List[int]):
    """Row selector: a slice (a view, no copy) when rows are consecutive, else an index."""
    first = rows[0] if rows else -1
    if first >= 0 and rows[-1] - first == len(rows) - 1:
        if len(rows) <= 2 or rows == list(range(first, first + len(rows))):
            return slice(first, first + len(rows))
    return np.asarray(rows, dtype=np.intp)


def _padded(lists: List[List[int]]):
    """(flat index, width) of lists padded to equal length with -1, the zero row."""
    k = max((len(t) for t in lists), default=0)
    if k == 0:
        return None, 0
    flat = [-1] * (k * len(lists))
    for i, t in enumerate(lists):
        flat[i * k:i * k + len(t)] = t
    return _sel(flat), k


def _reduce(buf: np.ndarray, idx, k: int, n: int) -> np.ndarray:
    """Sum k rows per output row: rows idx[i*k:(i+1)*k] of buf -> row i."""
    t = buf[idx]
    return t if k == 1 else t.reshape(n, k, t.shape[-1]).sum(axis=1)


class _Group:
    """One level of the schedule: all nodes of one op at one depth, in one buffer.

    ``kind`` is the op's kind or ``"sum"`` (a flattened chain of ``+``); rows
    ``start:stop`` of buffer ``space`` receive its results."""
    __slots__ = ("op", "kind", "depth", "space", "start", "stop", "nodes", "index",
                 "a_space", "a_sel", "b_space", "b_sel", "const",
                 "v_idx", "v_k", "c_idx", "c_k", "offset")

    def __repr__(self) -> str:
        name = "sum" if self.kind == "sum" else self.op.name
        return f"<level depth={self.depth} {name} x{len(self.nodes)} ({_SPACE[self.space]})>"


class _Back:
    """The backward step of one group: how to get its upstream gradient, and where to
    write the gradient it sends to each input slot."""
    __slots__ = ("group", "g_idx", "g_k", "fresh", "slots", "needs_g")


# --- the tape --------------------------------------------------------------------------------

class Tape:
    """A function traced once with Values and replayed over batches with numpy.

    Call it with one array per argument of the traced function (``(batch,)`` for a
    number argument, ``(batch, k)`` for a list of ``k`` numbers) to get the outputs:
    ``(batch,)`` for a function returning one Value, ``(batch, n_outputs)`` for a list.
    Then :meth:`backward` adds the gradient of the mean (or sum) over the batch to every
    parameter's ``.grad``.  See :func:`compile`.

        >>> from autodiff import Value
        >>> b = Value(1.0, label="b")
        >>> t = Tape(lambda x, y: [x * y + b, (x - y).relu()], 0.0, 0.0)
        >>> t([1.0, 2.0], [3.0, 0.5])
        array([[4. , 0. ],
               [2. , 1.5]])
        >>> _ = t.backward(output=0)      # mean over the batch of output 0
        >>> b.grad
        1.0
    """

    def __init__(self, fn: Callable[..., Any], *example: Any, check: bool = False) -> None:
        if not callable(fn):
            raise TypeError(f"compile: expected a function, got {type(fn).__name__}")
        self.fn = fn
        self.name = getattr(fn, "__name__", None) or repr(fn)
        self._check_first = bool(check)
        self._traced = False
        self._fwd = None          # state of the last forward: (batch, V, C, saved)
        self._plans: dict = {}
        if example:
            self._trace(example)

    # --- tracing ---------------------------------------------------------------------------
    def _arg_names(self, n: int) -> List[str]:
        try:
            names = [p.name for p in inspect.signature(self.fn).parameters.values()
                     if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            names = []
        return [names[i] if i < len(names) else f"arg{i}" for i in range(n)]

    def _trace(self, example: Sequence[Any]) -> None:
        names = self._arg_names(len(example))
        self.arg_names = names
        self._arg_shapes: List[tuple] = []
        leaves: List[Value] = []
        call_args: List[Any] = []
        for name, ex in zip(names, example):
            if isinstance(ex, Value):
                ex = ex.data
            if isinstance(ex, Real):
                v = Value(float(ex), label=name)
                leaves.append(v)
                call_args.append(v)
                self._arg_shapes.append(())
                continue
            arr = np.asarray(ex, dtype=object)
            if arr.ndim != 1:
                raise TypeError(f"compile({self.name}): argument {name!r} of the example "
                                f"must be a number or a flat list of numbers, got "
                                f"{type(ex).__name__} of shape {arr.shape}")
            vals = []
            for k, e in enumerate(arr.tolist()):
                e = e.data if isinstance(e, Value) else e
                if not isinstance(e, Real):
                    raise TypeError(f"compile({self.name}): argument {name!r}[{k}] of the "
                                    f"example is {type(e).__name__}, not a number")
                vals.append(Value(float(e), label=f"{name}[{k}]"))
            leaves.extend(vals)
            call_args.append(vals)
            self._arg_shapes.append((len(vals),))
        prev = STATE.tracing, STATE.grad_enabled
        gc_was = gc.isenabled()
        # Tracing makes many objects and frees none: the cyclic collector would walk
        # the whole growing graph again and again (half the time of a deep trace).
        gc.disable()
        STATE.tracing = True
        STATE.grad_enabled = True
        try:
            result = self.fn(*call_args)
        except TypeError as e:
            if "while tracing" in str(e):
                raise TypeError(f"compile({self.name}): {e}") from None
            raise
        finally:
            STATE.tracing, STATE.grad_enabled = prev
            if gc_was:
                gc.enable()
        self.multi = isinstance(result, (list, tuple))
        outs = list(result) if self.multi else [result]
        for j, o in enumerate(outs):
            if isinstance(o, Real) and not isinstance(o, Value):
                outs[j] = Value(float(o))
            elif not isinstance(o, Value):
                raise TypeError(f"compile({self.name}): the function must return a Value "
                                f"or a list of Values; output {j} is {type(o).__name__}")
        if not outs:
            raise ValueError(f"compile({self.name}): the function returned no outputs")
        if gc_was:
            gc.disable()
        try:
            self._build(leaves, outs)
        finally:
            if gc_was:
                gc.enable()
        self._traced = True

    def _build(self, inputs: List[Value], outs: List[Value]) -> None:
        # 1. Every node reachable from the outputs, inputs first, then in the engine's
        #    schedule (reversed: inputs before the nodes computed from them).
        index = {}
        nodes: List[Value] = []
        for v in inputs:
            index[id(v)] = len(nodes)
            nodes.append(v)
        gates: dict = {}  # id of a fused w·x+b node made before tracing -> its gates
        for root in outs:
            for v in topological_order(root):
                if id(v) in index:
                    continue
                if v._fn is not None and v._fn.kind == "nary":
                    # Made outside the traced function (tracing itself records gates):
                    # the tape replays it as its * and + gates, which it vectorizes.
                    g = gates.get(id(v))
                    if g is None:
                        g = gates[id(v)] = _as_gates(v)  # the dict keeps g alive
                    for u in topological_order(g):
                        if id(u) not in index:
                            index[id(u)] = len(nodes)
                            nodes.append(u)
                    index[id(v)] = index[id(g)]
                    continue
                index[id(v)] = len(nodes)
                nodes.append(v)
        n = len(nodes)
        n_in = len(inputs)
        self.n_inputs = n_in
        out_idx = [index[id(o)] for o in outs]
        is_out = set(out_idx)
        # 2. Per node: op, input indices, folded constant; leaves split into parameters.
        op_of: List[Any] = [None] * n
        ins: List[tuple] = [()] * n
        const: List[Any] = [None] * n
        fanout = [0] * n
        params: List[Value] = []
        for i in range(n_in, n):
            v = nodes[i]
            op = v._fn
            if op is None:
                params.append(v)
                continue
            op_of[i] = op
            if op.binary:
                t = (index[id(v._a)], index[id(v._b)])
            else:
                t = (index[id(v._a)],)
                if op.kind == "folded":
                    const[i] = float(v._b)
            ins[i] = t
            for p in t:
                fanout[p] += 1
        self.params = params
        self.n_nodes = n
        # 3. Flatten chains of + into n-ary sums (terms in left-to-right order, folded
        #    constants into one offset); an inner + used elsewhere stays a term.
        dead = bytearray(n)
        terms: dict = {}
        offset: dict = {}
        for i in range(n_in, n):
            op = op_of[i]
            if op is None or op not in _SUMMABLE:
                continue
            first = True
            tl: Optional[list] = None
            c = const[i] if op.kind == "folded" else 0.0
            for p in ins[i]:
                if p in terms and fanout[p] == 1 and p not in is_out:
                    dead[p] = 1
                    c += offset.pop(p)
                    if first:
                        tl = terms.pop(p)      # steal the list: long chains stay linear
                    else:
                        tl.extend(terms.pop(p))
                else:
                    if tl is None:
                        tl = []
                    tl.append(p)
                first = False
            terms[i] = tl
            offset[i] = c
        # 4. Depth (longest path from a leaf) and buffer: batch rows unless every input
        #    is a constant row (parameters and what is computed from them alone).
        depth = [0] * n
        space = [_C] * n
        for i in range(n_in):
            space[i] = _V
        for i in range(n_in, n):
            if op_of[i] is None or dead[i]:
                continue
            t = terms[i] if i in terms else ins[i]
            if len(t) == 1:
                p = t[0]
                depth[i] = depth[p] + 1
                space[i] = space[p]
            elif len(t) == 2:
                p, q = t
                depth[i] = (depth[p] if depth[p] > depth[q] else depth[q]) + 1
                space[i] = _V if space[p] == _V or space[q] == _V else _C
            else:
                depth[i] = 1 + max([depth[p] for p in t])
                space[i] = _V if _V in [space[p] for p in t] else _C
        # 5. Levels: group by (depth, op, buffers of the inputs), in order of depth.
        groups: dict = {}
        for i in range(n_in, n):
            op = op_of[i]
            if op is None or dead[i]:
                continue
            if i in terms:
                key = (depth[i], "sum", space[i])
            elif op.binary:
                key = (depth[i], op, space[ins[i][0]], space[ins[i][1]])
            else:
                key = (depth[i], op, space[ins[i][0]])
            g = groups.get(key)
            if g is None:
                groups[key] = g = []
            g.append(i)
        row = [0] * n
        n_rows = [n_in, len(params)]
        for i in range(n_in):
            row[i] = i
        for k, p in enumerate(params):
            row[index[id(p)]] = k
        levels: List[_Group] = []
        for key in sorted(groups, key=_first):
            # Rows for this level, then its input selectors: every input lies at a
            # smaller depth, so its row is already known.
            m = groups[key]
            g = _Group()
            g.depth = key[0]
            g.index = len(levels)
            g.nodes = m
            sp = g.space = key[-1] if key[1] == "sum" else space[m[0]]
            start = g.start = n_rows[sp]
            g.stop = n_rows[sp] = start + len(m)
            levels.append(g)
            if len(m) == 1:
                i = m[0]
                row[i] = start
                if key[1] == "sum":
                    g.op, g.kind = ops.ADD, "sum"
                    t = terms[i]
                    g.v_idx, g.v_k = _padded([[row[p] for p in t if space[p] == _V]])
                    g.c_idx, g.c_k = _padded([[row[p] for p in t if space[p] == _C]])
                    c = offset[i]
                    g.offset = np.array([[c]]) if c else None
                    continue
                op = g.op = key[1]
                g.kind = op.kind
                t = ins[i]
                r = row[t[0]]
                g.a_space = key[2]
                g.a_sel = slice(r, r + 1)
                if op.binary:
                    r = row[t[1]]
                    g.b_space = key[3]
                    g.b_sel = slice(r, r + 1)
                elif g.kind == "folded":
                    g.const = np.array([[const[i]]])
                continue
            for r, i in enumerate(m, start):
                row[i] = r
            if key[1] == "sum":
                g.op, g.kind = ops.ADD, "sum"
                vt = [[row[p] for p in terms[i] if space[p] == _V] for i in m]
                ct = [[row[p] for p in terms[i] if space[p] == _C] for i in m]
                g.v_idx, g.v_k = _padded(vt)
                g.c_idx, g.c_k = _padded(ct)
                offs = [offset[i] for i in m]
                g.offset = np.asarray(offs)[:, None] if any(offs) else None
                continue
            op = g.op = key[1]
            g.kind = op.kind
            g.a_space = key[2]
            g.a_sel = _sel([row[ins[i][0]] for i in m])
            if op.binary:
                g.b_space = key[3]
                g.b_sel = _sel([row[ins[i][1]] for i in m])
            elif g.kind == "folded":
                g.const = np.asarray([const[i] for i in m])[:, None]
        self._levels = levels
        self._n_rows = n_rows
        self._out_space = [space[i] for i in out_idx]
        self._out_rows = [row[i] for i in out_idx]
        self._out_idx = out_idx
        # Kept for the backward plans (built on first use, one per mode).
        self._graph = (n_in, op_of, ins, terms, space, row, dead)
        self.n_levels = len(levels)
        self.n_outputs = len(outs)

    # --- backward plan --------------------------------------------------------------------
    def _plan(self, with_inputs: bool):
        """Where each gradient comes from: built once per mode, inputs-first order reversed.

        Each node's gradient is the sum of its *sources*: rows of the gradient buffer of
        its space (its seed if it is an output; per consumer, either that consumer's own
        gradient row when the local derivative is the constant 1, or a row the consumer's
        backward step writes).  A node with one source reads that row (no copy)."""
        plan = self._plans.get(with_inputs)
        if plan is not None:
            return plan
        n_in, op_of, ins, terms, space, row, dead = self._graph
        n = self.n_nodes
        # Nodes whose gradient is wanted: parameters (and inputs), and every node on a
        # path from one of them to an output.
        need = bytearray(n)
        if with_inputs:
            need[:n_in] = b"\x01" * n_in
        for i in range(n_in, n):
            if op_of[i] is None:
                need[i] = 1
            elif not dead[i]:
                t = terms[i] if i in terms else ins[i]
                need[i] = any(need[p] for p in t)
        n_rows = [0, 0]

        def alloc(sp: int, k: int) -> int:
            r = n_rows[sp]
            n_rows[sp] = r + k
            return r

        src: List[list] = [[] for _ in range(n)]
        seed_rows = []
        for j, i in enumerate(self._out_idx):
            r = alloc(space[i], 1)
            src[i].append(r)
            seed_rows.append((space[i], r))
        grow = [0] * n                          # the row holding each node's gradient
        steps: List[_Back] = []
        for g in reversed(self._levels):
            m = g.nodes
            if not any(need[i] for i in m):
                continue
            b = _Back()
            b.group = g
            lists = [src[i] for i in m]
            k = max(len(t) for t in lists)
            if k <= 1:
                b.fresh = None
                for i in m:
                    grow[i] = src[i][0] if src[i] else -1
            else:
                b.fresh = alloc(g.space, len(m))
                for r, i in enumerate(m):
                    grow[i] = b.fresh + r
            b.g_idx, b.g_k = _padded(lists)
            b.slots = []
            if g.kind == "sum":
                # Same-buffer terms read the sum's gradient row (derivative 1 from the
                # table); constant-row terms of a batch sum get the batch total.
                cross_owner, cross_rows = [], []
                for r, i in enumerate(m):
                    for p in terms[i]:
                        if not need[p]:
                            continue
                        if space[p] == g.space and _ADD_D == 1.0:
                            src[p].append(grow[i])
                        else:
                            q = alloc(space[p], 1)
                            src[p].append(q)
                            cross_owner.append(r)
                            cross_rows.append((space[p], q))
                if cross_owner:
                    for sp in (_V, _C):
                        own = [o for o, (s, _) in zip(cross_owner, cross_rows) if s == sp]
                        rws = [q for (s, q) in cross_rows if s == sp]
                        if own:
                            b.slots.append(("sum", sp, np.asarray(own, dtype=np.intp),
                                            _sel(rws)))
            else:
                n_slots = 2 if g.kind == "binary" else 1
                for s in range(n_slots):
                    inputs = [ins[i][s] for i in m]
                    if not any(need[p] for p in inputs):
                        continue
                    sp = g.a_space if s == 0 else g.b_space
                    d = g.op.derivs[s]
                    if type(d) is float and d == 1.0 and sp == g.space:
                        for i, p in zip(m, inputs):
                            src[p].append(grow[i])
                        continue
                    start = alloc(sp, len(m))
                    for r, p in enumerate(inputs):
                        src[p].append(start + r)
                    b.slots.append((s, sp, start, start + len(m)))
            b.needs_g = bool(b.fresh is not None or b.slots)
            steps.append(b)
        leaves = [(_C, [src[row_i] for row_i in
                        [i for i in range(n_in, n) if op_of[i] is None]])]
        if with_inputs:
            leaves.append((_V, [src[i] for i in range(n_in)]))
        leaf_sel = [(sp, _padded(lists), len(lists)) for sp, lists in leaves]
        plan = (steps, seed_rows, leaf_sel, list(n_rows))
        self._plans[with_inputs] = plan
        return plan

    # --- running ------------------------------------------------------------------------------
    def _as_batch(self, args: Sequence[Any]) -> tuple:
        if not self._traced:
            if len(args) == 0:
                raise TypeError(f"{self!r}: call it with one array per argument of "
                                f"{self.name}")
            first = []
            for a in args:
                arr = np.asarray(a, dtype=float)
                if arr.ndim == 0 or arr.shape[0] == 0:
                    raise ValueError(f"{self.name}: cannot trace on an empty or scalar "
                                     f"batch; got shape {arr.shape}")
                first.append(arr[0].tolist())
            self._trace(first)
        names = self.arg_names
        if len(args) != len(self._arg_shapes):
            raise TypeError(f"{self.name} was traced with {len(self._arg_shapes)} "
                            f"argument(s) ({', '.join(names)}); got {len(args)}")
        arrays = []
        batch = None
        for name, shape, a in zip(names, self._arg_shapes, args):
            try:
                arr = np.asarray(a, dtype=float)
            except (TypeError, ValueError):
                raise TypeError(f"{self.name}: argument {name!r} must be an array of "
                                f"numbers, got {type(a).__name__}") from None
            if arr.ndim != 1 + len(shape) or arr.shape[1:] != shape:
                want = "(batch,)" if not shape else f"(batch, {shape[0]})"
                raise ValueError(f"{self.name}: argument {name!r} must have shape {want} "
                                 f"(one row per sample), got {arr.shape}")
            if batch is None:
                batch = arr.shape[0]
            elif arr.shape[0] != batch:
                raise ValueError(f"{self.name}: argument {name!r} has {arr.shape[0]} rows "
                                 f"but the first argument has {batch}")
            arrays.append(arr)
        if batch == 0:
            raise ValueError(f"{self.name}: empty batch (0 rows)")
        return arrays, batch

    def __call__(self, *args: Any) -> np.ndarray:
        """Forward over a batch: the outputs, ``(batch,)`` or ``(batch, n_outputs)``."""
        arrays, batch = self._as_batch(args)
        if self._check_first:
            self._check_first = False
            self.check(*args)
        return self._forward(arrays, batch)

    def _forward(self, arrays: List[np.ndarray], batch: int) -> np.ndarray:
        nv, nc = self._n_rows
        V = np.empty((nv + 1, batch))
        C = np.empty((nc + 1, 1))
        V[-1] = 0.0
        C[-1] = 0.0
        r = 0
        for arr, shape in zip(arrays, self._arg_shapes):
            if shape:
                V[r:r + shape[0]] = arr.T
                r += shape[0]
            else:
                V[r] = arr
                r += 1
        params = self.params
        if params:
            C[:len(params), 0] = np.fromiter([p.data for p in params], float, len(params))
        bufs = (V, C)
        saved: List[Any] = [None] * len(self._levels)
        with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
            for li, g in enumerate(self._levels):
                try:
                    if g.kind == "sum":
                        out = None
                        if g.v_k:
                            out = _reduce(V, g.v_idx, g.v_k, len(g.nodes))
                        if g.c_k:
                            t = _reduce(C, g.c_idx, g.c_k, len(g.nodes))
                            out = t if out is None else out + t
                        if g.offset is not None:
                            out = out + g.offset
                    else:
                        a = bufs[g.a_space][g.a_sel]
                        if g.kind == "binary":
                            b = bufs[g.b_space][g.b_sel]
                        elif g.kind == "folded":
                            b = g.const
                        else:
                            b = None
                        out = g.op.vforward(a, b) if b is not None else g.op.vforward(a)
                        saved[li] = (a, b)
                    bufs[g.space][g.start:g.stop] = out
                except (FloatingPointError, ArithmeticError, ValueError) as e:
                    raise self._replay_error("forward", g, e) from None
        self._fwd = (batch, V, C, saved)
        outs = np.empty((len(self._out_idx), batch))
        for j, (sp, r) in enumerate(zip(self._out_space, self._out_rows)):
            outs[j] = bufs[sp][r]
        return outs.T.copy() if self.multi else outs[0]

    def _replay_error(self, where: str, g: _Group, e: Exception) -> Exception:
        op = g.op
        name = "sum" if g.kind == "sum" else f"{op.name} ({op.doc})"
        domain = f"; defined for {op.domain}" if op.domain and g.kind != "sum" else ""
        msg = str(e).replace("encountered in", "in numpy's")
        cls = OverflowError if "overflow" in msg else (
            ZeroDivisionError if "divide" in msg else ValueError)
        return cls(f"{self.name}: {where} replay of {name} at depth {g.depth} "
                   f"({len(g.nodes)} nodes): {msg}{domain}")

    def _grads(self, seed: np.ndarray, with_inputs: bool):
        """Backward over the last forward: (parameter gradients, input gradients or None),
        seed shaped (n_outputs, batch) holding each sample's upstream gradient."""
        batch, V, C, saved = self._fwd
        steps, seed_rows, leaf_sel, (nv, nc) = self._plan(with_inputs)
        GV = np.empty((nv + 1, batch))
        GC = np.empty((nc + 1, 1))
        GV[-1] = 0.0
        GC[-1] = 0.0
        G = (GV, GC)
        for j, (sp, r) in enumerate(seed_rows):
            if sp == _V:
                GV[r] = seed[j]
            else:
                GC[r, 0] = seed[j].sum()
        bufs = (V, C)
        with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
            for b in steps:
                if not b.needs_g:
                    continue
                g = b.group
                buf = G[g.space]
                try:
                    gr = _reduce(buf, b.g_idx, b.g_k, len(g.nodes))
                    if b.fresh is not None:
                        buf[b.fresh:b.fresh + len(g.nodes)] = gr
                    if g.kind == "sum":
                        for _, sp, owner, rows in b.slots:
                            tot = gr.sum(axis=1, keepdims=True) if sp != g.space else gr
                            G[sp][rows] = tot[owner] if _ADD_D == 1.0 else tot[owner] * _ADD_D
                        continue
                    a, y = saved[g.index]
                    out = bufs[g.space][g.start:g.stop]
                    for s, sp, r0, r1 in b.slots:
                        d = g.op.local(s, a, y, out)
                        contrib = gr * d
                        if sp != g.space:                 # batch -> constant row
                            contrib = contrib.sum(axis=1, keepdims=True)
                        G[sp][r0:r1] = contrib
                except (FloatingPointError, ArithmeticError, ValueError) as e:
                    raise self._replay_error("backward", g, e) from None
        results = []
        for sp, (idx, k), count in leaf_sel:
            if k == 0:
                results.append(np.zeros((count, batch if sp == _V else 1)))
            else:
                results.append(_reduce(G[sp], idx, k, count))
        pgrad = results[0][:, 0] if len(results[0]) else np.zeros(0)
        return pgrad, (results[1] if with_inputs else None)

    def _seed(self, grad: Any, output: Optional[int], reduction: str) -> np.ndarray:
        if self._fwd is None:
            raise RuntimeError(f"{self!r}: backward() needs a forward call first")
        batch = self._fwd[0]
        n_out = len(self._out_idx)
        if grad is not None:
            g = np.asarray(grad, dtype=float)
            want = (batch, n_out) if self.multi else (batch,)
            if g.shape != want:
                raise ValueError(f"{self.name}: backward(grad) must have shape {want} "
                                 f"(one upstream gradient per sample and output), "
                                 f"got {g.shape}")
            return g.T.reshape(n_out, batch)
        if reduction not in ("mean", "sum"):
            raise ValueError(f"backward(reduction): expected 'mean' or 'sum', "
                             f"got {reduction!r}")
        if output is None:
            if n_out != 1:
                raise ValueError(f"{self.name} has {n_out} outputs: pass output=i to "
                                 f"backpropagate the {reduction} of output i, or grad=")
            output = 0
        if not 0 <= output < n_out:
            raise IndexError(f"backward(output={output}): {self.name} has {n_out} "
                             f"output(s)")
        seed = np.zeros((n_out, batch))
        seed[output] = 1.0 / batch if reduction == "mean" else 1.0
        return seed

    def backward(self, grad: Any = None, *, output: Optional[int] = None,
                 reduction: str = "mean", inputs: bool = False) -> Optional[list]:
        """Backpropagate the last forward; add each parameter's gradient to its ``.grad``.

        By default the upstream is the MEAN over the batch (``1/batch`` per sample) of
        the single output, or of output ``output``; ``reduction="sum"`` uses 1 per
        sample; ``grad`` gives every sample's upstream explicitly, shaped like the
        outputs.  Parameters accumulate (``+=``), as with ``Value.backward``.  With
        ``inputs=True`` returns the gradients of the inputs, one array per argument
        shaped like it (per sample, scaled by the upstream).

            >>> from autodiff import Value
            >>> w = Value(3.0)
            >>> t = compile(lambda x: w * x * x, 0.0)
            >>> _ = t([1.0, 2.0])
            >>> t.backward(inputs=True)[0], w.grad      # d/dx = w*x (mean: /2), x^2 mean
            (array([3., 6.]), 2.5)
        """
        seed = self._seed(grad, output, reduction)
        pgrad, igrad = self._grads(seed, inputs)
        for p, gv in zip(self.params, pgrad.tolist()):
            p.grad += gv
        if not inputs:
            return None
        res = []
        r = 0
        for shape in self._arg_shapes:
            if shape:
                res.append(igrad[r:r + shape[0]].T.copy())
                r += shape[0]
            else:
                res.append(igrad[r].copy())
                r += 1
        return res

    # --- verification -----------------------------------------------------------------------
    def check(self, *args: Any, n: int = 3, rtol: float = 1e-9, atol: float = 1e-12) -> None:
        """Verify the replay against the eager engine on the first ``n`` samples of a
        batch: every output, and its gradient with respect to every parameter and input.

        Raises :class:`TapeMismatchError` naming the sample, output and value that
        differ: the traced graph is not what ``fn`` computes for that sample (``fn`` read
        a Value's number with ``.data`` or ``float()``, built Values under ``no_grad``,
        or branched on its inputs' numbers).  Parameters' ``.grad`` are left as found.

            >>> t = compile(lambda x: x.relu() * 2)
            >>> t.check([-1.0, 0.5, 2.0])
        """
        from .functional import gradients
        arrays, batch = self._as_batch(args)
        prev = self._fwd
        try:
            for r in range(min(n, batch)):
                rows = [a[r:r + 1] for a in arrays]
                got = np.atleast_1d(self._forward(rows, 1).reshape(-1))
                leaves, call_args = [], []
                for a, shape in zip(arrays, self._arg_shapes):
                    if shape:
                        vals = [Value(float(e)) for e in a[r]]
                        leaves.extend(vals)
                        call_args.append(vals)
                    else:
                        v = Value(float(a[r]))
                        leaves.append(v)
                        call_args.append(v)
                res = self.fn(*call_args)
                outs = list(res) if self.multi else [res]
                for j, o in enumerate(outs):
                    eager = o.data if isinstance(o, Value) else float(o)
                    self._compare(r, f"output {j}", eager, got[j], rtol, atol)
                    seed = np.zeros((len(outs), 1))
                    seed[j] = 1.0
                    pg, ig = self._grads(seed, True)
                    wrt = list(self.params) + leaves
                    eg = gradients(o, wrt) if isinstance(o, Value) else [0.0] * len(wrt)
                    for k, p in enumerate(self.params):
                        what = f"d output {j} / d parameter {k}" + \
                               (f" ({p.label!r})" if p.label else "")
                        self._compare(r, what, eg[k], pg[k], rtol, atol)
                    for k in range(len(leaves)):
                        self._compare(r, f"d output {j} / d input {k}",
                                      eg[len(self.params) + k], ig[k, 0], rtol, atol)
        finally:
            self._fwd = prev

    def _compare(self, r: int, what: str, eager: float, replay: float,
                 rtol: float, atol: float) -> None:
        if np.isnan(eager) and np.isnan(replay):
            return
        if not np.isclose(replay, eager, rtol=rtol, atol=atol):
            raise TapeMismatchError(
                f"{self.name}: replay differs from the eager engine at sample {r}, {what}: "
                f"eager {eager!r}, replay {float(replay)!r}. The traced graph is not what "
                f"the function computes for this sample: it probably reads a Value's "
                f"number (.data, float()), builds Values under no_grad, or branches on "
                f"its inputs' numbers; run it eagerly instead.")

    # --- display ------------------------------------------------------------------------------
    def summary(self) -> str:
        """The schedule, one line per level: depth, op, node count, buffer."""
        if not self._traced:
            return f"{self!r}"
        lines = [repr(self)]
        for g in self._levels:
            name = "sum" if g.kind == "sum" else g.op.label(
                g.const[0, 0] if g.kind == "folded" else None)
            lines.append(f"  depth {g.depth:3d}  {name:8s} x{len(g.nodes):<6d} "
                         f"{_SPACE[g.space]}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        if not self._traced:
            return f"Tape({self.name}, not traced yet)"
        return (f"Tape({self.name}: {self.n_inputs} inputs, {len(self.params)} parameters, "
                f"{self.n_nodes} nodes in {self.n_levels} levels, {self.n_outputs} "
                f"output{'s' if self.n_outputs != 1 else ''})")
