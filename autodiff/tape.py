"""The compiled tape: trace a function once, replay it over a whole batch with numpy.

``compile(fn)`` runs ``fn`` on one sample with Values and keeps what it recorded as a
:class:`~autodiff.program.Program` (equations over variables, printable: ``tape.program``),
rewritten so that chains of ``+`` are sums and sums of ``weight * input`` products are
dot products.  Scheduling then turns the program into *steps*: every equation of one
primitive at one depth is one numpy call over an array shaped ``(equations, batch)``, and
dot products that read the same inputs -- a layer -- are one matrix product
``W @ X + b``.  Replay runs the steps forward and, in reverse, backward.  Forwards and
local derivatives are the op table's own (``op.vforward``, ``op.local`` called with
arrays, see :mod:`autodiff.ops`): the tape holds no second copy of any derivative.

The traced function's arguments are the *inputs*, one row per sample (a number, or a
list of numbers, per argument).  Values it reaches that are not inputs and were not
computed inside it -- model parameters -- are *parameters*: their current ``.data`` is
read at every call, and :meth:`Tape.backward` adds the batch's gradient (by default of
the MEAN over the batch) to their ``.grad``, so an optimizer steps them as usual
(:meth:`Tape.replay` and :meth:`Tape.vjp` do the same on flat arrays, for training
loops that keep parameters in arrays).  Python control flow over Values (``if v > 0``,
``bool(v)``) cannot be replayed for other samples, so tracing refuses it; ``relu``,
``abs`` and friends are ops and fine.  Nor can a number read out of a Value: tracing
refuses ``float(v)``, ``math.exp(v)``, ``int(v)``, ``round(v)`` and reading ``v.data`` of
an input or a node computed from one; ``v.detach().data`` is the way to take a constant
on purpose (e.g. a stable shift, the same for every sample).

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
from numbers import Integral
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, cast

import numpy as np

from . import ops
from .program import DOT, SUM, Eqn, Program, Var, _batch_vars, optimize, trace
from .value import Value

__all__ = ["compile", "Tape", "TapeMismatchError"]

_INPUTS, _PARAMS = 0, 1  # the two leaf levels: per-sample inputs, parameters


class TapeMismatchError(AssertionError):
    """The replay disagrees with the eager engine (raised by :meth:`Tape.check`)."""


def compile(fn: Callable[..., Any], *example: Any, check: bool = False) -> Tape:
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


# --- moving rows between the levels' arrays ---------------------------------------------------

Loc = Tuple[int, int]  # where a variable lives: (level, row)
Sel = Union[slice, np.ndarray]  # rows of a level: a slice, or an array of row indices


def _sel(rows: List[int]) -> Sel:
    """Row selector: a slice (a view, no copy) when rows are consecutive, else an index."""
    first = rows[0]
    if len(rows) == 1:
        return slice(first, first + 1)
    if rows[-1] - first == len(rows) - 1 and (
        len(rows) == 2 or rows == list(range(first, rows[-1] + 1))
    ):
        return slice(first, rows[-1] + 1)
    return np.asarray(rows, dtype=np.intp)


class _Rows:
    """Some variables' rows gathered into one array ``(n, width)``, and gradients
    scattered back: for every level they come from, its rows ``src`` go to positions
    ``dst``.  Positions holding no variable (``None``) read 0."""

    __slots__ = ("n", "batch", "pieces", "single", "zeros")

    def __init__(self, locs: List[Optional[Loc]], batch: bool, per: int = 1) -> None:
        self.n = len(locs)
        self.batch = batch
        self.zeros: Optional[Sel] = None
        # each piece: (level, src, dst, dst // per for scattering, src rows all distinct)
        self.pieces: List[Tuple[int, Sel, Sel, Sel, bool]]
        self.single: Optional[Tuple[int, Sel]]  # (level, src) when one piece is all
        if self.n == 1 and locs[0] is not None:  # one variable: no bookkeeping
            lv, r = locs[0]
            one = slice(0, 1)
            self.pieces = [(lv, slice(r, r + 1), one, one, True)]
            self.single = (lv, slice(r, r + 1))
            return
        by_level: Dict[int, Tuple[list, list]] = {}
        zeros = []
        for pos, loc in enumerate(locs):
            if loc is None:
                zeros.append(pos)
                continue
            dst, src = by_level.setdefault(loc[0], ([], []))
            dst.append(pos)
            src.append(loc[1])
        self.pieces = []
        for lv, (dst, src) in by_level.items():
            d = _sel(dst)
            self.pieces.append(
                (
                    lv,
                    _sel(src),
                    d,
                    d if per == 1 else _sel([i // per for i in dst]),
                    len(src) == 1 or len(set(src)) == len(src),
                )
            )
        self.zeros = _sel(zeros) if zeros else None
        whole = slice(0, self.n)
        self.single = None
        if len(self.pieces) == 1 and not zeros and self.pieces[0][2] == whole:
            self.single = self.pieces[0][:2]

    def get(self, vals: list, width: int) -> np.ndarray:
        if self.single is not None:
            lv, src = self.single
            return vals[lv][src]
        out = np.empty((self.n, width if self.batch else 1))
        if self.zeros is not None:
            out[self.zeros] = 0.0
        for lv, src, dst, _, _ in self.pieces:
            out[dst] = vals[lv][src]
        return out

    def needed(self, need: Sequence[bool]) -> bool:
        return any(need[p[0]] for p in self.pieces)

    def scatter(
        self, G: list, shapes: list, need: Sequence[bool], contrib: np.ndarray, owned: bool
    ) -> None:
        """Add ``contrib``'s rows (or, with ``per``, row ``dst // per``) into the
        gradients of the variables they came from."""
        for lv, src, _, gdst, distinct in self.pieces:
            if not need[lv]:
                continue
            c = contrib[gdst]
            rows, wide = shapes[lv]
            if not wide and c.shape[1] != 1:  # per-sample -> one row per variable
                c = c.sum(axis=1, keepdims=True)
                fresh = True
            else:
                fresh = owned or type(gdst) is not slice
            g = G[lv]
            if g is None:
                if (
                    distinct
                    and type(src) is slice
                    and src.start == 0
                    and src.stop == rows
                    and c.shape[0] == rows
                ):
                    G[lv] = c if fresh else c.copy()
                    continue
                g = G[lv] = np.zeros((rows, c.shape[1]))
            if distinct:
                g[src] += c
            else:  # rows repeat: src is an index array (a slice's rows are distinct)
                np.add.at(g, cast(np.ndarray, src), c)


# --- steps: one numpy call (or a few) over many equations --------------------------------------


def _buffer(pool: Optional[dict], key: tuple, shape: tuple) -> Optional[np.ndarray]:
    """An output array kept from the last replay (None: let numpy make one).  Reusing the
    layers' big arrays spares the allocator handing back and faulting in fresh memory
    every step, which costs as much as the arithmetic at batch sizes of thousands."""
    if pool is None:
        return None
    buf = pool.get(key)
    if buf is None or buf.shape != shape:
        buf = pool[key] = np.empty(shape)
    return buf


class _Step:
    """Equations of one primitive at one depth, replayed together; their results are
    the rows of this step's level, ``(len(eqns), batch)`` (``wide``) or
    ``(len(eqns), 1)``.  Each kind builds its row movers from the equations' operands'
    locations."""

    __slots__ = ("level", "eqns", "depth", "batch", "name")

    def __init__(self, eqns: List[Eqn], level: int, depth: int, wide: bool) -> None:
        self.eqns = eqns
        self.level = level
        self.depth = depth
        self.batch = wide
        self.name = ""

    def describe(self) -> str:
        return self.name

    def rows(self) -> List[_Rows]:
        """Every operand mover of the step (for deciding where gradients flow)."""
        raise NotImplementedError


class _OpStep(_Step):
    """An op-table entry on whole arrays: ``op.vforward`` forward, ``op.local`` back."""

    __slots__ = ("op", "slots", "const")

    def __init__(
        self,
        eqns: List[Eqn],
        level: int,
        depth: int,
        wide: bool,
        loc: Dict[int, Loc],
        wide_in: Sequence[int],
    ) -> None:
        super().__init__(eqns, level, depth, wide)
        op = self.op = eqns[0].op
        self.slots = [
            _Rows([loc[e.ins[s].id] for e in eqns], bool(wide_in[s]))
            for s in range(len(eqns[0].ins))
        ]
        folded = op.kind == "folded"
        self.const = np.array([e.const for e in eqns])[:, None] if folded else None
        self.name = op.name

    def describe(self) -> str:
        if self.const is None:
            return self.name
        return self.op.label(self.eqns[0].const) + (
            " ..." if len({e.const for e in self.eqns}) > 1 else ""
        )

    def rows(self) -> List[_Rows]:
        return self.slots

    def forward(self, vals: list, width: int, pool: Optional[dict]) -> tuple:
        a = self.slots[0].get(vals, width)
        b = self.slots[1].get(vals, width) if self.op.kind == "binary" else self.const
        return (self.op.vforward(a) if b is None else self.op.vforward(a, b)), (a, b)

    def backward(
        self,
        gr: np.ndarray,
        vals: list,
        saved: Any,
        G: list,
        shapes: list,
        need: Sequence[bool],
        pool: Optional[dict],
    ) -> None:
        a, b = saved
        out = vals[self.level]
        op = self.op
        for s, rows in enumerate(self.slots):
            if not rows.needed(need):
                continue
            d = op.local(s, a, b, out)
            if type(d) is float and d == 1.0:
                rows.scatter(G, shapes, need, gr, False)
            elif (
                type(d) is np.ndarray
                and d.base is None
                and d.shape == gr.shape
                and d is not a
                and d is not b
                and d is not out
            ):
                # a derivative computed just now (relu's step(x), tanh's 1 - out^2):
                # multiply into it rather than into one more batch-sized array
                rows.scatter(G, shapes, need, np.multiply(d, gr, out=d), True)
            else:
                rows.scatter(G, shapes, need, gr * d, True)


class _SumStep(_Step):
    """``t1 + ... + tk + c`` for equations of up to k terms (padded with zeros)."""

    __slots__ = ("terms", "k", "offset")

    def __init__(
        self, eqns: List[Eqn], level: int, depth: int, wide: bool, loc: Dict[int, Loc]
    ) -> None:
        super().__init__(eqns, level, depth, wide)
        k = self.k = max(len(e.ins) for e in eqns)
        self.terms = _Rows(
            [loc[e.ins[j].id] if j < len(e.ins) else None for e in eqns for j in range(k)],
            wide,
            per=k,
        )
        offsets = [e.const for e in eqns]
        self.offset = np.array(offsets)[:, None] if any(offsets) else None
        self.name = "sum"

    def rows(self) -> List[_Rows]:
        return [self.terms]

    def forward(self, vals: list, width: int, pool: Optional[dict]) -> tuple:
        t = self.terms.get(vals, width)
        k = self.k
        out = t if k == 1 else t.reshape(len(self.eqns), k, t.shape[1]).sum(axis=1)
        if self.offset is not None:
            out = out + self.offset
        return out, None

    def backward(
        self,
        gr: np.ndarray,
        vals: list,
        saved: Any,
        G: list,
        shapes: list,
        need: Sequence[bool],
        pool: Optional[dict],
    ) -> None:
        self.terms.scatter(G, shapes, need, gr, False)  # d(sum)/d(term) = 1, the table's


class _DotStep(_Step):
    """Dot products reading the same inputs: ``W @ X + b``, a layer."""

    __slots__ = ("x", "w", "b", "k")

    def __init__(
        self, eqns: List[Eqn], level: int, depth: int, wide: bool, loc: Dict[int, Loc]
    ) -> None:
        super().__init__(eqns, level, depth, wide)
        k = self.k = eqns[0].k
        self.x = _Rows([loc[v.id] for v in eqns[0].ins[k : 2 * k]], wide)
        self.w = _Rows([loc[v.id] for e in eqns for v in e.ins[:k]], False)
        biases = [e.ins[2 * k] if len(e.ins) > 2 * k else None for e in eqns]
        self.b = (
            None
            if all(b is None for b in biases)
            else _Rows([None if b is None else loc[b.id] for b in biases], False)
        )
        self.name = f"layer {k} -> {len(eqns)} (W @ X + b)"

    def rows(self) -> List[_Rows]:
        return [self.x, self.w] + ([self.b] if self.b is not None else [])

    def forward(self, vals: list, width: int, pool: Optional[dict]) -> tuple:
        X = self.x.get(vals, width)
        W = self.w.get(vals, 1).reshape(len(self.eqns), self.k)
        out = np.matmul(W, X, out=_buffer(pool, (self.level, 0), (W.shape[0], X.shape[1])))
        if self.b is not None:
            out += self.b.get(vals, 1)
        return out, (X, W)

    def backward(
        self,
        gr: np.ndarray,
        vals: list,
        saved: Any,
        G: list,
        shapes: list,
        need: Sequence[bool],
        pool: Optional[dict],
    ) -> None:
        X, W = saved
        # d(w·x)/dx = w and d(w·x)/dw = x, the affine entry's "other operand" rule:
        if self.x.needed(need):
            gx = np.matmul(W.T, gr, out=_buffer(pool, (self.level, 1), (W.shape[1], gr.shape[1])))
            self.x.scatter(G, shapes, need, gx, True)
        if self.w.needed(need):
            self.w.scatter(G, shapes, need, (gr @ X.T).reshape(-1, 1), True)
        if self.b is not None:
            self.b.scatter(G, shapes, need, gr, False)


# --- scheduling: program -> steps --------------------------------------------------------------


def _schedule(prog: Program) -> tuple:
    """Steps in replay order, the parameters' order, every variable's (level, row), and
    each level's (rows, per-sample?)."""
    batch = _batch_vars(prog)
    depth = [0] * prog.n_vars
    groups: Dict[tuple, List[Eqn]] = {}
    for e in prog.eqns:
        wide = batch[e.out.id]
        # constant steps run first (they read no inputs), so among per-sample
        # equations a constant operand counts as depth 0
        d = 0
        for v in e.ins:
            if batch[v.id] == wide and depth[v.id] > d:
                d = depth[v.id]
        d += 1
        depth[e.out.id] = d
        if e.prim == DOT:
            key: tuple = (not wide, d, DOT, tuple(v.id for v in e.ins[e.k : 2 * e.k]))
        elif e.prim == SUM:
            key = (not wide, d, SUM, wide)
        else:
            key = (not wide, d, e.op.name, tuple(batch[v.id] for v in e.ins))
        groups.setdefault(key, []).append(e)
    order = sorted(groups, key=lambda k: (not k[0], k[1]))  # constants, then by depth
    # Parameters: each layer's weights first, row by row, then its biases, so that W
    # and b are views of the parameter array; then the rest in the order met.
    pindex: Dict[int, int] = {}
    porder: List[Var] = []

    for key in order:
        if key[2] == DOT:
            eqs = groups[key]
            for v in [v for e in eqs for v in e.ins[: e.k]] + [
                v for e in eqs for v in e.ins[2 * e.k :]
            ]:
                if v.kind == "param" and v.id not in pindex:
                    pindex[v.id] = len(porder)
                    porder.append(v)
    for v in prog.params:
        if v.id not in pindex:
            pindex[v.id] = len(porder)
            porder.append(v)
    loc: Dict[int, Tuple[int, int]] = {}
    for i, v in enumerate(prog.inputs):
        loc[v.id] = (_INPUTS, i)
    for v in porder:
        loc[v.id] = (_PARAMS, pindex[v.id])
    shapes = [(len(prog.inputs), True), (len(porder), False)]
    steps: list = []
    for key in order:
        eqs = groups[key]
        lv = len(shapes)
        wide = not key[0]
        for r, e in enumerate(eqs):
            loc[e.out.id] = (lv, r)
        shapes.append((len(eqs), wide))
        prim, depth = key[2], key[1]
        if prim == DOT:
            steps.append(_DotStep(eqs, lv, depth, wide, loc))
        elif prim == SUM:
            steps.append(_SumStep(eqs, lv, depth, wide, loc))
        else:
            steps.append(_OpStep(eqs, lv, depth, wide, loc, key[3]))
    return steps, porder, loc, shapes


def _needs(steps: list, shapes: list, inputs: bool) -> list:
    """Per level: does a gradient have to flow into it (towards a parameter, or the
    inputs when they are asked for)?"""
    need = [False] * len(shapes)
    need[_INPUTS] = inputs
    need[_PARAMS] = shapes[_PARAMS][0] > 0
    for st in steps:
        for r in st.rows():
            for p in r.pieces:
                if need[p[0]]:
                    need[st.level] = True
                    break
            if need[st.level]:
                break
    return need


# --- the tape --------------------------------------------------------------------------------


class Tape:
    """A function traced once with Values and replayed over batches with numpy.

    Call it with one array per argument of the traced function (``(batch,)`` for a
    number argument, ``(batch, k)`` for a list of ``k`` numbers) to get the outputs:
    ``(batch,)`` for a function returning one Value, ``(batch, n_outputs)`` for a list.
    Then :meth:`backward` adds the gradient of the mean (or sum) over the batch to every
    parameter's ``.grad``.  See :func:`compile`; ``tape.program`` is what it replays.

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
        self._fwd: Optional[tuple] = None  # the last forward: (batch, vals, saved)
        self._pool: dict = {}  # arrays the layers reuse between replays
        self._reusing = False
        if example:
            self._trace(example)

    # --- tracing and scheduling ------------------------------------------------------------
    def _trace(self, example: Sequence[Any]) -> None:
        gc_was = gc.isenabled()
        # Scheduling makes many small objects and frees few: the cyclic collector would
        # walk the whole traced graph again and again.
        gc.disable()
        try:
            self._build(optimize(trace(self.fn, example, self.name)))
        finally:
            if gc_was:
                gc.enable()

    def _build(self, prog: Program) -> None:
        self.program = prog
        self.multi = prog.multi
        self.arg_names = prog.arg_names
        self._arg_shapes = prog.arg_shapes
        self.n_inputs = len(prog.inputs)
        self.n_nodes = prog.n_nodes
        steps, porder, loc, shapes = _schedule(prog)
        self._steps = steps
        self._shapes = shapes
        self.params: List[Value] = [v.value for v in porder]
        self._outs = [loc[v.id] for v in prog.outputs]
        self._need = {flag: _needs(steps, shapes, flag) for flag in (False, True)}
        self._traced = True

    @property
    def n_levels(self) -> int:
        """How many steps a replay takes (each one numpy call, or a few)."""
        return len(self._steps)

    @property
    def n_outputs(self) -> int:
        return len(self._outs)

    # --- arguments ----------------------------------------------------------------------------
    def _array(self, name: str, a: Any) -> np.ndarray:
        if isinstance(a, np.ndarray) and a.dtype.kind in "fiub":
            return a.astype(float, copy=False)
        try:
            raw = np.asarray(a, dtype=object)
        except (TypeError, ValueError):
            raw = None
        if raw is not None and raw.dtype == object and raw.ndim >= 1:
            bad = np.argwhere(np.frompyfunc(lambda e: e is None, 1, 1)(raw).astype(bool))
            if len(bad):
                where = f"row {bad[0][0]}" + (f", entry {bad[0][1]}" if raw.ndim > 1 else "")
                raise ValueError(
                    f"{self.name}: argument {name!r} holds None at {where}; "
                    f"give a number for every sample"
                )
        try:
            return np.asarray(a, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(
                f"{self.name}: argument {name!r} must be an array of "
                f"numbers, got {type(a).__name__}"
            ) from None

    def _as_batch(self, args: Sequence[Any]) -> tuple:
        if not self._traced:
            if len(args) == 0:
                raise TypeError(f"{self!r}: call it with one array per argument of {self.name}")
            first = []
            for i, a in enumerate(args):
                arr = self._array(f"arg{i}", a)
                if arr.ndim == 0 or arr.shape[0] == 0:
                    raise ValueError(
                        f"{self.name}: cannot trace on an empty or scalar "
                        f"batch; got shape {arr.shape}"
                    )
                first.append(arr[0].tolist())
            self._trace(first)
        names = self.arg_names
        if len(args) != len(self._arg_shapes):
            raise TypeError(
                f"{self.name} was traced with {len(self._arg_shapes)} "
                f"argument(s) ({', '.join(names)}); got {len(args)}"
            )
        arrays = []
        batch = None
        for name, shape, a in zip(names, self._arg_shapes, args):
            arr = self._array(name, a)
            if arr.ndim != 1 + len(shape) or arr.shape[1:] != shape:
                want = "(batch,)" if not shape else f"(batch, {shape[0]})"
                raise ValueError(
                    f"{self.name}: argument {name!r} must have shape {want} "
                    f"(one row per sample), got {arr.shape}"
                )
            if batch is None:
                batch = arr.shape[0]
            elif arr.shape[0] != batch:
                raise ValueError(
                    f"{self.name}: argument {name!r} has {arr.shape[0]} rows "
                    f"but the first argument has {batch}"
                )
            arrays.append(arr)
        if batch == 0:
            raise ValueError(f"{self.name}: empty batch (0 rows)")
        return arrays, batch

    def stack_inputs(self, *args: Any) -> np.ndarray:
        """The arguments (as for a call) as one array ``(n_inputs, batch)``: a row per
        input number, in argument order, as :meth:`replay` takes them."""
        arrays, batch = self._as_batch(args)
        level = np.empty((self.n_inputs, batch))
        r = 0
        for arr, shape in zip(arrays, self._arg_shapes):
            if shape:
                level[r : r + shape[0]] = arr.T
                r += shape[0]
            else:
                level[r] = arr
                r += 1
        return level

    def param_values(self) -> np.ndarray:
        """The parameters' current numbers, in ``tape.params`` order."""
        return np.fromiter([p.data for p in self.params], float, len(self.params))

    # --- running ------------------------------------------------------------------------------
    def __call__(self, *args: Any) -> np.ndarray:
        """Forward over a batch: the outputs, ``(batch,)`` or ``(batch, n_outputs)``."""
        level = self.stack_inputs(*args)
        if self._check_first:
            self._check_first = False
            self.check(*args)
        outs = self.replay(level, self.param_values())
        return outs.T.copy() if self.multi else outs[0]

    def replay(self, inputs: np.ndarray, params: np.ndarray, *, reuse: bool = True) -> np.ndarray:
        """Forward over a batch given as arrays: ``inputs`` ``(n_inputs, batch)`` (see
        :meth:`stack_inputs`), ``params`` one number per ``tape.params``.  Returns the
        outputs ``(n_outputs, batch)`` and keeps what :meth:`vjp` needs.  With ``reuse``
        the layers write into the arrays of the last replay."""
        batch = inputs.shape[1]
        # Let the last forward's arrays go first: new ones then reuse their memory (with
        # both alive, every batch-sized array is fresh memory, page by page).
        self._fwd = None
        vals: list = [None] * len(self._shapes)
        vals[_INPUTS] = inputs
        vals[_PARAMS] = params.reshape(-1, 1)
        saved: list = [None] * len(self._shapes)
        pool = self._pool if reuse else None
        self._reusing = reuse
        with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
            for st in self._steps:
                try:
                    vals[st.level], saved[st.level] = st.forward(vals, batch, pool)
                except (FloatingPointError, ArithmeticError, ValueError) as e:
                    raise self._replay_error("forward", st, e) from None
        self._fwd = (batch, vals, saved)
        outs = np.empty((len(self._outs), batch))
        for j, (lv, r) in enumerate(self._outs):
            outs[j] = vals[lv][r]
        return outs

    def _replay_error(self, where: str, st: _Step, e: Exception) -> Exception:
        op = (
            st.op
            if isinstance(st, _OpStep)
            else (ops.ADD if isinstance(st, _SumStep) else ops.AFFINE)
        )
        name = st.name if op.kind == "nary" or isinstance(st, _SumStep) else f"{op.name} ({op.doc})"
        domain = f"; defined for {op.domain}" if op.domain else ""
        msg = str(e).replace("encountered in", "in numpy's")
        cls = (
            OverflowError
            if "overflow" in msg
            else (ZeroDivisionError if "divide" in msg else ValueError)
        )
        return cls(
            f"{self.name}: {where} replay of {name} at depth {st.depth} "
            f"({len(st.eqns)} nodes): {msg}{domain}"
        )

    def _grads(self, seed: np.ndarray, inputs: bool) -> tuple:
        """Backward over the last forward: (parameter gradients, input gradients or
        None), ``seed`` shaped (n_outputs, batch) holding each sample's upstream."""
        assert self._fwd is not None
        batch, vals, saved = self._fwd
        pool = self._pool if self._reusing else None
        shapes = self._shapes
        need = self._need[inputs]
        G: list = [None] * len(shapes)
        for j, (lv, r) in enumerate(self._outs):
            if not need[lv]:
                continue
            rows, wide = shapes[lv]
            if G[lv] is None:
                G[lv] = np.zeros((rows, batch if wide else 1))
            G[lv][r] += seed[j] if wide else seed[j].sum()
        with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
            for st in reversed(self._steps):
                gr = G[st.level]
                if gr is None or not need[st.level]:
                    continue
                try:
                    st.backward(gr, vals, saved[st.level], G, shapes, need, pool)
                except (FloatingPointError, ArithmeticError, ValueError) as e:
                    raise self._replay_error("backward", st, e) from None
        gp = G[_PARAMS]
        pgrad = gp[:, 0].copy() if gp is not None else np.zeros(shapes[_PARAMS][0])
        if not inputs:
            return pgrad, None
        gi = G[_INPUTS]
        return pgrad, (gi if gi is not None else np.zeros((self.n_inputs, batch)))

    def _seed(self, grad: Any, output: Any, reduction: str) -> np.ndarray:
        if self._fwd is None:
            raise RuntimeError(f"{self!r}: backward() needs a forward call first")
        batch = self._fwd[0]
        n_out = len(self._outs)
        if grad is not None:
            g = np.asarray(grad, dtype=float)
            want = (batch, n_out) if self.multi else (batch,)
            if g.shape != want:
                raise ValueError(
                    f"{self.name}: backward(grad) must have shape {want} "
                    f"(one upstream gradient per sample and output), "
                    f"got {g.shape}"
                )
            return g.T.reshape(n_out, batch)
        if reduction not in ("mean", "sum"):
            raise ValueError(f"backward(reduction): expected 'mean' or 'sum', got {reduction!r}")
        if output is None:
            if n_out != 1:
                raise ValueError(
                    f"{self.name} has {n_out} outputs: pass output=i to "
                    f"backpropagate the {reduction} of output i, or grad="
                )
            output = 0
        if isinstance(output, bool) or not isinstance(output, Integral):
            raise TypeError(
                f"backward(output): expected the number of an output "
                f"(an int, 0..{n_out - 1}), got {type(output).__name__} "
                f"{output!r}"
            )
        if not 0 <= int(output) < n_out:
            raise IndexError(f"backward(output={output}): {self.name} has {n_out} output(s)")
        seed = np.zeros((n_out, batch))
        seed[output] = 1.0 / batch if reduction == "mean" else 1.0
        return seed

    def vjp(
        self, grad: Any = None, *, output: Optional[int] = None, reduction: str = "mean"
    ) -> np.ndarray:
        """The gradient :meth:`backward` would add, as a flat array in ``tape.params``
        order; no Value is touched.

            >>> from autodiff import Value
            >>> w = Value(3.0)
            >>> t = compile(lambda x: w * x, 0.0)
            >>> _ = t([1.0, 2.0]); t.vjp()
            array([1.5])
        """
        return self._grads(self._seed(grad, output, reduction), False)[0]

    def backward(
        self,
        grad: Any = None,
        *,
        output: Optional[int] = None,
        reduction: str = "mean",
        inputs: bool = False,
    ) -> Optional[list]:
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
                res.append(igrad[r : r + shape[0]].T.copy())
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
        level = self.stack_inputs(*args)
        arrays, batch = self._as_batch(args)
        prev = self._fwd
        P = self.param_values()
        grads = [p.grad for p in self.params]
        try:
            for r in range(min(n, batch)):
                got = self.replay(level[:, r : r + 1], P, reuse=False)[:, 0]
                for j in range(len(self._outs)):
                    # a fresh eager graph per output: its backward gives the gradients
                    leaves: List[Value] = []
                    call_args: List[Any] = []
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
                    o = (list(res) if self.multi else [res])[j]
                    eager = o.data if isinstance(o, Value) else float(o)
                    self._compare(r, f"output {j}", eager, got[j], rtol, atol)
                    for p in self.params:
                        p.grad = 0.0
                    if isinstance(o, Value):
                        o.backward()
                    want_g = np.array(
                        [p.grad for p in self.params] + [v.grad for v in leaves], dtype=float
                    )
                    seed = np.zeros((len(self._outs), 1))
                    seed[j] = 1.0
                    pg, ig = self._grads(seed, True)
                    got_g = np.concatenate([pg, ig[:, 0]])
                    ok = np.isclose(got_g, want_g, rtol=rtol, atol=atol) | (
                        np.isnan(got_g) & np.isnan(want_g)
                    )
                    for k in np.flatnonzero(~ok)[:1].tolist():
                        if k < len(self.params):
                            p = self.params[k]
                            what = f"d output {j} / d parameter {k}" + (
                                f" ({p.label!r})" if p.label else ""
                            )
                        else:
                            what = f"d output {j} / d input {k - len(self.params)}"
                        self._compare(r, what, want_g[k], got_g[k], rtol, atol)
        finally:
            self._fwd = prev
            for p, g in zip(self.params, grads):
                p.grad = g

    def _compare(
        self, r: int, what: str, eager: float, replay: float, rtol: float, atol: float
    ) -> None:
        if np.isnan(eager) and np.isnan(replay):
            return
        if not np.isclose(replay, eager, rtol=rtol, atol=atol):
            raise TapeMismatchError(
                f"{self.name}: replay differs from the eager engine at sample {r}, {what}: "
                f"eager {eager!r}, replay {float(replay)!r}. The traced graph is not what "
                f"the function computes for this sample: it probably reads a Value's "
                f"number (.data, float()), builds Values under no_grad, or branches on "
                f"its inputs' numbers; run it eagerly instead."
            )

    # --- display ------------------------------------------------------------------------------
    def summary(self) -> str:
        """The schedule, one line per step: depth, what it computes, how many
        equations, and whether its rows are per sample or constant."""
        if not self._traced:
            return f"{self!r}"
        lines = [repr(self)]
        for st in self._steps:
            lines.append(
                f"  depth {st.depth:3d}  {st.describe():24s} x{len(st.eqns):<6d} "
                f"{'batch' if st.batch else 'constant'}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        if not self._traced:
            return f"Tape({self.name}, not traced yet)"
        return (
            f"Tape({self.name}: {self.n_inputs} inputs, {len(self.params)} parameters, "
            f"{self.n_nodes} nodes in {self.n_levels} levels, {self.n_outputs} "
            f"output{'s' if self.n_outputs != 1 else ''})"
        )
