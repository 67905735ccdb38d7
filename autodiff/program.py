"""Programs: what tracing a function records, as equations over variables.

Tracing runs a function once on Values and reads back the graph it recorded as a
:class:`Program` -- a straight-line list of equations (:class:`Eqn`), each computing one
variable (:class:`Var`) from others, in the spirit of JAX's jaxprs.  A program is
per-sample and scalar: its *inputs* are the numbers of one sample, its *params* the
Values it read from outside (model parameters: their numbers are bound at run time),
its *outputs* the Values it returned.  Every equation names an entry of the op table
(:mod:`autodiff.ops`), which alone knows forwards and derivatives, or one of two
structural primitives the rewrites below introduce:

- ``sum``: ``t1 + t2 + ... + c``, a chain of ``+`` flattened (``ops.ADD``'s derivative,
  1, for every term);
- ``dot``: ``w1*x1 + ... + wk*xk + b``, a sum of products of a sample-independent
  weight and a per-sample input (a neuron's ``w·x + b``; ``ops.AFFINE``'s derivatives).

A neuron made with :func:`autodiff.affine` is recorded as one ``dot``; one written
with ``*`` and ``+`` becomes one through the rewrites.  A program prints as text and
checks itself; :func:`optimize` applies the rewrites (:func:`simplify`,
:func:`expand_dots`, :func:`flatten_sums`, :func:`find_dots`), each a program to
program function.  The compiled tape (:mod:`autodiff.tape`) schedules and replays programs.

    >>> from autodiff import Value
    >>> w = Value(0.5, label="w")
    >>> prog = trace(lambda x: (w * x[0] + w * x[1] + 1.0).tanh(), [[0.0, 0.0]])
    >>> print(optimize(prog))
    program <lambda>(x[0], x[1]) params(w):
      v8 = dot [w w] [x[0] x[1]]
      v6 = sum v8 +1
      v7 = tanh v6
      return v7
"""

from __future__ import annotations

import gc
import inspect
from numbers import Real
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import ops
from .backward import topological_order
from .tracing import end_trace, trace_inputs
from .value import STATE, Value, _affine_gates, enable_grad

__all__ = [
    "Var",
    "Eqn",
    "Program",
    "trace",
    "optimize",
    "simplify",
    "expand_dots",
    "flatten_sums",
    "find_dots",
    "ProgramError",
]

SUM, DOT = "sum", "dot"

# The rewrites read their derivatives from the table: a flattened sum's terms each get
# d(x + y)/dx, and a dot's products d(w*x)/dw = x, d(w*x)/dx = w (mul's and affine's
# "other operand" rule).  If an entry ever said otherwise, the rewrite is skipped.
_ADD_D = ops.ADD.derivs[0]
_SUMMABLE = (
    (ops.ADD, ops.ADD_C)
    if (
        type(_ADD_D) is float
        and _ADD_D == 1.0
        and ops.ADD.derivs == (1.0, 1.0)
        and ops.ADD_C.derivs == (1.0,)
    )
    else ()
)
_AFFINE = ops.AFFINE
_DOTTABLE = (
    ops.MUL.derivs[0] is ops.OTHER_OPERAND
    and ops.AFFINE.derivs[0] == 1.0
    and ops.AFFINE.derivs[1] is ops.OTHER_OPERAND
    and bool(_SUMMABLE)
)


class ProgramError(ValueError):
    """A program is malformed (raised by :meth:`Program.check`)."""


class Var:
    """One variable of a program: an input, a parameter, or an equation's result.

    ``kind`` is ``"input"``, ``"param"`` or ``"eqn"``; ``name`` is how it prints
    (``x[0]``, a parameter's label, ``v12``).  A parameter's ``value`` is the Value whose
    number it stands for."""

    __slots__ = ("id", "kind", "_name", "value")

    def __init__(
        self, id: int, kind: str, name: Optional[str], value: Optional[Value] = None
    ) -> None:
        self.id = id
        self.kind = kind
        self._name = name
        self.value = value

    @property
    def name(self) -> str:
        return self._name if self._name is not None else f"v{self.id}"

    def __repr__(self) -> str:
        return f"Var({self.name}, {self.kind})"


class Eqn:
    """``out = prim(ins)``: ``op`` is the op-table entry (``ops.ADD`` for ``sum``,
    ``ops.AFFINE`` for ``dot``), ``const`` the number folded into a gate or a sum's
    offset, ``k`` a dot's number of products: its ins are ``w1..wk, x1..xk`` and then
    the bias, if any."""

    __slots__ = ("prim", "op", "ins", "out", "const", "k")

    def __init__(
        self, prim: str, op: ops.Op, ins: tuple, out: Var, const: Optional[float] = None, k: int = 0
    ) -> None:
        self.prim = prim
        self.op = op
        self.ins = ins
        self.out = out
        self.const = const
        self.k = k

    def __str__(self) -> str:
        names = [v.name for v in self.ins]
        if self.prim == DOT:
            k = self.k
            text = f"dot [{' '.join(names[:k])}] [{' '.join(names[k : 2 * k])}]"
            if len(names) > 2 * k:
                text += f" + {names[2 * k]}"
        else:
            text = f"{self.prim} {' '.join(names)}"
            if self.prim == SUM and self.const:
                text += f" {'+' if self.const >= 0 else '-'}{ops.fmt_number(abs(self.const))}"
            elif self.op.kind == "folded" and self.const is not None:
                text = f"{self.prim}[{ops.fmt_number(self.const)}] {' '.join(names)}"
        return f"{self.out.name} = {text}"

    __repr__ = __str__


class Program:
    """A traced function as equations over variables (see the module docstring).

    ``inputs`` (one Var per number of a sample, in argument order), ``params``,
    ``eqns`` (topologically ordered), ``outputs``; ``arg_names`` and ``arg_shapes``
    (``()`` for a number argument, ``(k,)`` for a list of k) describe the arguments.
    ``n_nodes`` is the size of the graph it was traced from; ``multi`` says whether the
    function returned a list.

        >>> trace(lambda x: x.exp() + x, [0.0])
        Program(<lambda>: 1 inputs, 0 params, 2 equations, 1 outputs)
    """

    def __init__(
        self,
        name: str,
        inputs: List[Var],
        params: List[Var],
        eqns: List[Eqn],
        outputs: List[Var],
        arg_names: List[str],
        arg_shapes: List[tuple],
        n_vars: int,
        n_nodes: int = 0,
        multi: bool = False,
    ) -> None:
        self.name = name
        self.inputs = inputs
        self.params = params
        self.eqns = eqns
        self.outputs = outputs
        self.arg_names = arg_names
        self.arg_shapes = arg_shapes
        self.n_vars = n_vars
        self.n_nodes = n_nodes
        self.multi = multi  # the function returned a list (else one Value)

    def new_var(self) -> Var:
        v = Var(self.n_vars, "eqn", None)
        self.n_vars += 1
        return v

    def replace(self, eqns: List[Eqn], outputs: Optional[List[Var]] = None) -> Program:
        """The same program with other equations (and outputs)."""
        return Program(
            self.name,
            self.inputs,
            self.params,
            eqns,
            self.outputs if outputs is None else outputs,
            self.arg_names,
            self.arg_shapes,
            self.n_vars,
            self.n_nodes,
            self.multi,
        )

    def uses(self) -> List[int]:
        """How many times each variable is read (an output counts once)."""
        n = [0] * self.n_vars
        for e in self.eqns:
            for v in e.ins:
                n[v.id] += 1
        for v in self.outputs:
            n[v.id] += 1
        return n

    def producers(self) -> Dict[int, Eqn]:
        return {e.out.id: e for e in self.eqns}

    def check(self) -> Program:
        """Raise :class:`ProgramError` unless every variable is defined once, before
        it is read, and every equation has the inputs its primitive takes."""
        defined = set()
        for v in self.inputs + self.params:
            if v.id in defined:
                raise ProgramError(f"{self.name}: variable {v.name} is declared twice")
            defined.add(v.id)
        for i, e in enumerate(self.eqns):
            for v in e.ins:
                if v.id not in defined:
                    raise ProgramError(
                        f"{self.name}: equation {i} ({e}) reads {v.name} before it is defined"
                    )
            n = len(e.ins)
            if e.prim == DOT:
                ok = e.op is ops.AFFINE and e.k >= 1 and n in (2 * e.k, 2 * e.k + 1)
            elif e.prim == SUM:
                ok = e.op is ops.ADD and n >= 1 and isinstance(e.const, float)
            else:
                want = {"binary": 2, "folded": 1, "unary": 1}.get(e.op.kind)
                ok = (
                    e.prim == e.op.name
                    and n == want
                    and ((e.const is not None) == (e.op.kind == "folded"))
                )
            if not ok:
                raise ProgramError(
                    f"{self.name}: equation {i} ({e}) is malformed: {n} inputs for {e.prim}"
                )
            if e.out.id in defined:
                raise ProgramError(f"{self.name}: equation {i} ({e}) redefines {e.out.name}")
            defined.add(e.out.id)
        for v in self.outputs:
            if v.id not in defined:
                raise ProgramError(f"{self.name}: output {v.name} is never defined")
        return self

    def __str__(self) -> str:
        ins = ", ".join(v.name for v in self.inputs)
        head = f"program {self.name}({ins})"
        if self.params:
            shown = [v.name for v in self.params[:8]]
            more = f", ... {len(self.params)} in all" if len(self.params) > 8 else ""
            head += f" params({', '.join(shown)}{more})"
        lines = [head + ":"]
        lines += [f"  {e}" for e in self.eqns]
        lines.append(f"  return {', '.join(v.name for v in self.outputs)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Program({self.name}: {len(self.inputs)} inputs, {len(self.params)} "
            f"params, {len(self.eqns)} equations, {len(self.outputs)} outputs)"
        )


# --- tracing ------------------------------------------------------------------------------


def _arg_names(fn: Callable, n: int) -> List[str]:
    try:
        names = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        names = []
    return [names[i] if i < len(names) else f"arg{i}" for i in range(n)]


def _parts(v: Value) -> Any:
    """``(op, parents, const)`` of a recorded node, None for a leaf; for a fused
    ``w·x+b`` node ``(ops.AFFINE, (w1..wk, x1..xk, b), k)``.  The one place that reads
    a node's internals (its op, operands, and a fused node's two tuples); a fused node
    with numbers among its x's is read as the same sum recorded gate by gate."""
    op = v._fn
    if op is None:
        return None
    kind = op.kind
    if kind == "binary":
        return op, (v._a, v._b), None
    if kind == "unary":
        return op, (v._a,), None
    if kind == "folded":
        return op, (v._a,), v._b
    ws, xs = v._a, v._b  # (b, w1, ..., wk) and (1, x1, ..., xk)
    if all(type(x) is Value for x in xs[1:]):
        return op, ws[1:] + xs[1:] + ws[:1], len(ws) - 1
    with enable_grad():
        return None, _affine_gates(ws[1:], xs[1:], ws[0]), None


def trace(fn: Callable[..., Any], example: Sequence[Any], name: Optional[str] = None) -> Program:
    """Run ``fn`` once on Values made from ``example`` (one number, or one flat list
    of numbers, per argument of ``fn``) and return the :class:`Program` it recorded.

    Python control flow over Values (``if v > 0``) is refused while tracing: it
    could not be replayed for other samples.

        >>> print(trace(lambda x, y: (x * y).exp(), [1.0, 2.0]))
        program <lambda>(x, y):
          v2 = mul x y
          v3 = exp v2
          return v3
    """
    name = name or getattr(fn, "__name__", None) or repr(fn)
    names = _arg_names(fn, len(example))
    shapes: List[tuple] = []
    leaves: List[Value] = []
    inputs: List[Var] = []
    call_args: List[Any] = []
    for arg, ex in zip(names, example):
        if isinstance(ex, Value):
            ex = ex.data
        if isinstance(ex, Real):
            v = Value(float(ex), label=arg)
            leaves.append(v)
            call_args.append(v)
            shapes.append(())
            inputs.append(Var(len(inputs), "input", arg))
            continue
        if isinstance(ex, (str, bytes)) or not hasattr(ex, "__len__"):
            raise TypeError(
                f"compile({name}): argument {arg!r} of the example must be a "
                f"number or a flat list of numbers, got {type(ex).__name__}"
            )
        vals = []
        for k, e in enumerate(list(ex)):
            e = e.data if isinstance(e, Value) else e
            if not isinstance(e, Real):
                shape = f" of shape {getattr(ex, 'shape', '')}" if hasattr(ex, "shape") else ""
                what = (
                    "a list (nested lists are not arguments)"
                    if hasattr(e, "__len__") and not isinstance(e, (str, bytes))
                    else type(e).__name__
                )
                raise TypeError(
                    f"compile({name}): argument {arg!r}[{k}] of the example is "
                    f"{what}{shape}, not a number"
                )
            vals.append(Value(float(e), label=f"{arg}[{k}]"))
            inputs.append(Var(len(inputs), "input", f"{arg}[{k}]"))
        leaves.extend(vals)
        call_args.append(vals)
        shapes.append((len(vals),))
    prev = STATE.tracing, STATE.grad_enabled
    gc_was = gc.isenabled()
    # Tracing makes many objects and frees none: the cyclic collector would walk the
    # whole growing graph again and again (half the time of a deep trace).
    gc.disable()
    trace_inputs(leaves)  # they and the nodes made from them refuse `.data` reads
    STATE.tracing = True
    STATE.grad_enabled = True
    try:
        result = fn(*call_args)
    except TypeError as e:
        if "while tracing" in str(e):
            raise TypeError(f"compile({name}): {e}") from None
        raise
    finally:
        STATE.tracing, STATE.grad_enabled = prev
        end_trace()
        if gc_was:
            gc.enable()
    multi = isinstance(result, (list, tuple))
    outs = list(result) if multi else [result]
    for j, o in enumerate(outs):
        if isinstance(o, Real) and not isinstance(o, Value):
            outs[j] = Value(float(o))
        elif not isinstance(o, Value):
            raise TypeError(
                f"compile({name}): the function must return a Value or a "
                f"list of Values; output {j} is {type(o).__name__}"
            )
    if not outs:
        raise ValueError(f"compile({name}): the function returned no outputs")
    if gc_was:
        gc.disable()
    try:
        prog = _record(name, leaves, inputs, outs, names, shapes)
    finally:
        if gc_was:
            gc.enable()
    prog.multi = multi
    return prog


def _record(
    name: str,
    leaves: List[Value],
    inputs: List[Var],
    outs: List[Value],
    arg_names: List[str],
    shapes: List[tuple],
) -> Program:
    """The equations of the graph below ``outs``, in the engine's topological order
    (:func:`autodiff.backward.topological_order`, the one visit order)."""
    var: Dict[int, Var] = {id(v): x for v, x in zip(leaves, inputs)}
    keep: List[Any] = []  # gates made for fused nodes, alive while we hold ids
    params: List[Var] = []
    eqns: List[Eqn] = []
    n = len(inputs)

    def record(root: Value) -> None:
        nonlocal n
        for v in topological_order(root):
            if id(v) in var:
                continue
            parts = _parts(v)
            if parts is None:  # a leaf that is not an input: a parameter
                var[id(v)] = p = Var(n, "param", v.label or f"p{len(params)}", v)
                params.append(p)
            elif parts[0] is None:  # a fused node with numbers among its x's: its gates
                g = parts[1]
                keep.append(g)
                record(g)
                var[id(v)] = var[id(g)]
                continue
            else:
                op, parents, const = parts
                out = Var(n, "eqn", None)
                ins = tuple([var[id(p)] for p in parents])
                eqns.append(
                    Eqn(DOT, op, ins, out, None, const)
                    if op is _AFFINE
                    else Eqn(op.name, op, ins, out, const)
                )
                var[id(v)] = out
            n += 1

    for root in outs:
        record(root)
    return Program(name, inputs, params, eqns, [var[id(o)] for o in outs], arg_names, shapes, n, n)


def simplify(prog: Program) -> Program:
    """Drop gates that change nothing: ``x + 0`` and ``x * 1`` (a loss's mean over one
    sample is ``(0 + t) * 1.0``).  Their derivative is 1, so gradients are unchanged."""
    alias: Dict[int, Var] = {}
    eqns = []
    for e in prog.eqns:
        if alias and any(v.id in alias for v in e.ins):
            e = Eqn(e.prim, e.op, tuple([alias.get(v.id, v) for v in e.ins]), e.out, e.const, e.k)
        if (e.op is ops.ADD_C and e.const == 0.0) or (e.op is ops.MUL_C and e.const == 1.0):
            alias[e.out.id] = e.ins[0]
            continue
        eqns.append(e)
    return prog.replace(eqns, [alias.get(v.id, v) for v in prog.outputs])


def flatten_sums(prog: Program) -> Program:
    """Chains of ``+`` into ``sum`` equations: ``((a + b) + c) + 1`` -> ``sum a b c +1``.
    A partial sum read elsewhere, or returned, stays a term of its own."""
    if not _SUMMABLE:
        return prog
    uses = prog.uses()
    outs = {v.id for v in prog.outputs}
    open_sums: Dict[int, list] = {}  # var id -> [terms, offset] of its sum so far
    eqns: List[Any] = []
    for e in prog.eqns:
        if e.op not in _SUMMABLE and e.prim != SUM:
            eqns.append(e)
            continue
        terms: Optional[list] = None
        offset = e.const if e.const is not None else 0.0
        for p in e.ins:
            s = open_sums.get(p.id)
            if s is not None and uses[p.id] == 1 and p.id not in outs:
                del open_sums[p.id]  # absorbed: its list is ours now
                offset += s[1]
                if terms is None:
                    terms = s[0]  # steal it: long chains stay linear
                else:
                    terms.extend(s[0])
            elif terms is None:
                terms = [p]
            else:
                terms.append(p)
        open_sums[e.out.id] = [terms, offset]
        eqns.append(e.out)  # its place in the order
    return prog.replace(
        [
            Eqn(SUM, ops.ADD, tuple(open_sums[e.id][0]), e, open_sums[e.id][1])
            if type(e) is Var
            else e
            for e in eqns
            if type(e) is not Var or e.id in open_sums
        ]
    )


def _batch_vars(prog: Program) -> bytearray:
    """1 for each variable that depends on the inputs (differs between samples)."""
    batch = bytearray(prog.n_vars)
    for v in prog.inputs:
        batch[v.id] = 1
    for e in prog.eqns:
        for v in e.ins:
            if batch[v.id]:
                batch[e.out.id] = 1
                break
    return batch


def find_dots(prog: Program) -> Program:
    """Sums of products ``w*x`` -- ``w`` the same for every sample, ``x`` not -- into
    ``dot`` equations: ``sum b (w1*x1) (w2*x2)`` -> ``dot [w1 w2] [x1 x2] + b``.  Dots
    reading the same inputs are one matrix product when replayed (a layer)."""
    if not _DOTTABLE:
        return prog
    uses = prog.uses()
    outs = {v.id for v in prog.outputs}
    batch = _batch_vars(prog)
    made = prog.producers()
    absorbed = set()
    eqns: List[Eqn] = []
    for e in prog.eqns:
        if e.prim != SUM or not batch[e.out.id]:
            eqns.append(e)
            continue
        ws: List[Var] = []
        xs: List[Var] = []
        fixed: List[Var] = []  # terms the same for every sample: the bias
        rest: List[Var] = []  # other per-sample terms
        for t in e.ins:
            m = made.get(t.id)
            if m is not None and m.op is ops.MUL and uses[t.id] == 1 and t.id not in outs:
                a, b = m.ins
                if batch[b.id] and not batch[a.id]:
                    ws.append(a)
                    xs.append(b)
                    absorbed.add(id(m))
                    continue
                if batch[a.id] and not batch[b.id]:
                    ws.append(b)
                    xs.append(a)
                    absorbed.add(id(m))
                    continue
            (rest if batch[t.id] else fixed).append(t)
        if not ws:
            eqns.append(e)
            continue
        bias: List[Var] = []
        offset = e.const
        if len(fixed) == 1 and offset == 0.0:
            bias = fixed
        elif fixed:
            b = prog.new_var()
            eqns.append(Eqn(SUM, ops.ADD, tuple(fixed), b, offset))
            bias, offset = [b], 0.0
        tail = bool(rest) or offset != 0.0
        dot_out = prog.new_var() if tail else e.out
        eqns.append(
            Eqn(DOT, ops.AFFINE, tuple(ws) + tuple(xs) + tuple(bias), dot_out, None, len(ws))
        )
        if tail:
            eqns.append(Eqn(SUM, ops.ADD, (dot_out, *rest), e.out, offset))
    return prog.replace([e for e in eqns if id(e) not in absorbed])


def expand_dots(prog: Program) -> Program:
    """A dot whose weights differ between samples (a fused node whose w's are computed
    from the inputs) cannot be a matrix product: its products and sum instead."""
    batch = _batch_vars(prog)
    if not any(e.prim == DOT and any(batch[w.id] for w in e.ins[: e.k]) for e in prog.eqns):
        return prog
    eqns: List[Eqn] = []
    for e in prog.eqns:
        if e.prim != DOT or not any(batch[w.id] for w in e.ins[: e.k]):
            eqns.append(e)
            continue
        k = e.k
        terms = list(e.ins[2 * k :])  # the bias first, as the fused node adds
        for w, x in zip(e.ins[:k], e.ins[k : 2 * k]):
            m = prog.new_var()
            eqns.append(Eqn(ops.MUL.name, ops.MUL, (w, x), m))
            terms.append(m)
        eqns.append(Eqn(SUM, ops.ADD, tuple(terms), e.out, 0.0))
    return prog.replace(eqns)


def optimize(prog: Program) -> Program:
    """The rewrites the compiled tape applies: simplify, flatten sums, find dots."""
    return find_dots(flatten_sums(expand_dots(simplify(prog)))).check()
