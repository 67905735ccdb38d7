"""The step explainer: the forward and backward pass of a graph, one readable step per gate.

:func:`forward_steps` lists each gate inputs-first with the value it computes
(``exp(-1.00) = 0.37``); the inputs hold their values from the start.
:func:`backward_steps` lists each gate outputs-first with its gradient (complete when its
step comes), and for each of its inputs the local derivative (read from the op table with
``op.local`` and ``op.rule``, never re-derived), the rule as text and the product sent
back: ``d(1/x)/dx = -1/x^2 = -0.53;  1.00 x -0.53 = -0.53``.  The factors are printed
with as many digits as it takes for the product shown to follow from them
(``0.1966 x 2.00 = 0.39``).  A node used by several gates gets its gradient as a running
sum, one share per step (``0.20 + 0.20 = 0.40`` when the second arrives).  The steps
visit the gates in the very order :meth:`Value.backward` does and add the same products in
the same order, so the gradients equal ``.grad`` bit for bit.  The stepper page and
``gradwire explain`` show exactly these steps.  :func:`chain_rule` expands one node's
gradient as the sum over all paths from the output of the products of local derivatives.
Graphs built from micrograd-style classes are read through
:func:`autodiff.micrograd_compat.as_graph`.

    >>> from autodiff import Value
    >>> x = Value(2.0, label="x")
    >>> y = 1 / x
    >>> print(backward_steps(y)[0].rule)
    d(1/x)/dx = -1/x^2 = -0.25;  1.00 x -0.25 = -0.25
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from . import ops
from .backward import input_names as _formula_inputs
from .backward import local_terms, schedule, topological_order
from .micrograd_compat import ForeignNode, as_graph
from .ops import Op
from .value import Value

__all__ = [
    "Step",
    "forward_steps",
    "backward_steps",
    "chain_rule",
    "ChainRule",
    "node_names",
    "fmt",
    "gradients_of",
    "graph_order",
    "input_names",
]

MAX_PRECISION = 12


def fmt(v: float, precision: int = 2) -> str:
    """A number as the diagrams and captions print it: ``fmt(-0.5342) -> '-0.53'``; from
    1e15 on in scientific notation (``fmt(1e300) -> '1.00e+300'``), not 300 digits."""
    if abs(v) >= 1e15:
        return f"{v:.{precision}e}"
    s = f"{v:.{precision}f}"
    if s.startswith("-") and float(s) == 0.0:
        s = s[1:]  # no '-0.00'
    return s


def _paren(v: float, precision: int) -> str:
    s = fmt(v, precision)
    return f"({s})" if s.startswith("-") else s


def check_precision(precision: Any, where: str) -> int:
    """``precision`` as an int from 0 to 12, or a ValueError naming ``where``."""
    if (
        isinstance(precision, bool)
        or not isinstance(precision, int)
        or not 0 <= precision <= MAX_PRECISION
    ):
        raise ValueError(
            f"{where}(precision={precision!r}): precision must be an int from "
            f"0 to {MAX_PRECISION} (the decimals shown)"
        )
    return precision


def factors_text(values: List[float], product: float, precision: int) -> List[str]:
    """``values`` as text with enough decimals that their product, rounded to
    ``precision`` decimals, is ``fmt(product, precision)``: a factor exact at
    ``precision`` decimals keeps them, the others get two more until it follows.

        >>> factors_text([0.19661193324148185, 2.0], 0.3932238664829637, 2)
        ['0.1966', '2.00']
    """
    want = fmt(product, precision)
    exact = [float(fmt(v, precision)) == v for v in values]
    for extra in range(0, 13, 2):
        shown = [fmt(v, precision if ok else precision + extra) for v, ok in zip(values, exact)]
        prod = 1.0
        for s in shown:
            prod *= float(s)
        if fmt(prod, precision) == want:
            return shown
    return [repr(float(v)) for v in values]


def formula(op: Op, const: Optional[float], x: str, y: str = "y") -> str:
    """The gate as a formula of its operand names: ``1/x``, ``x + 1``, ``exp(x)``, ``x * y``."""
    return op.text(x, y, const)


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


# --- the graph, whichever class its nodes are -------------------------------------------


def _root(root: Any, where: str) -> Any:
    return as_graph(root, f"{where}(root)")


def _op(v: Any) -> Optional[Op]:
    """The op table entry of a gate, None for a leaf (or an op gradwire does not know)."""
    if isinstance(v, ForeignNode):
        return v.op
    return None if v.op is None else ops.get(v.op)  # the public name: v._op is micrograd's


def _terms(v: Any) -> list:
    return v.terms() if isinstance(v, ForeignNode) else local_terms(v)


def graph_order(root: Any) -> list:
    """Every node below ``root``, inputs first (gradwire Values or ForeignNodes)."""
    if isinstance(root, Value):
        return topological_order(root)
    order, seen, stack = [], set(), [(root, False)]
    while stack:  # iterative depth-first post-order: a node after all its inputs
        v, done = stack.pop()
        if done:
            order.append(v)
            continue
        if id(v) in seen:
            continue
        seen.add(id(v))
        stack.append((v, True))
        for p in reversed(v.parents):
            if id(p) not in seen:
                stack.append((p, False))
    return order


def node_names(root: Any, output: Optional[str] = None) -> Dict[int, str]:
    """A name per node (keyed by ``id``): its label, else ``n<k>`` with k its place in
    topological order, so captions can say ``df/dn3``; an unlabelled output is called
    ``output`` (default ``L``)."""
    root = _root(root, "node_names")
    names = {}
    for k, v in enumerate(graph_order(root)):
        names[id(v)] = v.label or f"n{k}"
    if not root.label:
        names[id(root)] = output or "L"
    return names


def input_names(v: Any, names: Dict[int, str]) -> List[str]:
    """The names of ``v``'s inputs in its formula's order; a fused ``w·x+b`` node's
    number inputs are called by position, ``x0``, ``x1``... (they are not nodes)."""
    if isinstance(v, Value) and v.op == "affine":
        out = []
        for k, (p, q) in enumerate(zip(v._a, v._b)):
            out.append(names[id(p)])
            if k:
                out.append(names[id(q)] if isinstance(q, Value) else f"x{k - 1}")
        return out
    return [names[id(p)] for p in v.parents]


@dataclass
class Step:
    """One step of the forward or backward pass through one gate.

    ``kind`` is ``'forward'`` or ``'backward'``; ``node`` the gate's output, ``inputs``
    its inputs (the same Value twice for ``x * x``), ``name`` the output's name.  A
    backward step has ``upstream`` (the gate's gradient, complete when its step comes)
    and per input ``local`` (the local derivative), ``local_rules`` (its formula),
    ``products`` (``upstream * local``, the share sent back), ``receivers`` (the input's
    name), ``totals`` (the input's gradient so far, this share included) and ``sums``
    (``'dL/dx = 0.20 + 0.20 = 0.40'`` when the input has had earlier shares, else ''),
    ``running`` the same sum without its left side (``'0.20 + 0.20 = 0.40'``).
    ``lines`` explains each input's share, ``rule`` joins them; :meth:`text_lines` adds
    where each share goes.  For an op gradwire does not know (a micrograd-style graph)
    ``local`` holds None and the gradients are the graph's own ``.grad``.
    """

    kind: str
    index: int
    node: Any
    name: str
    inputs: Tuple[Any, ...] = ()
    value: float = 0.0
    rule: str = ""
    upstream: Optional[float] = None
    local: Tuple[Optional[float], ...] = ()
    local_rules: Tuple[str, ...] = ()
    products: Tuple[Optional[float], ...] = ()
    receivers: Tuple[str, ...] = ()
    totals: Tuple[Optional[float], ...] = ()
    sums: Tuple[str, ...] = ()
    lines: Tuple[str, ...] = field(default_factory=tuple)
    running: Tuple[str, ...] = ()

    @property
    def gate(self) -> str:
        """The gate's label (``'1/x'``)."""
        return self.node.gate

    @property
    def sum_text(self) -> str:
        """The running sums of this step's receivers, joined (``''`` if none)."""
        return ";  ".join(s for s in self.sums if s)

    def text_lines(self) -> List[str]:
        """One line per input: the share, where it goes and the running sum,
        ``'d(x * y)/dx = y = 3.00;  1.00 x 3.00 = 3.00  -> x;  dL/dx = 3.00 + 3.00 = 6.00'``."""
        if self.kind == "forward":
            return [self.rule]
        out = []
        for line, to, s in zip(self.lines, self.receivers, self.sums):
            out.append(f"{line}  -> {to}" + (f";  {s}" if s else ""))
        return out

    def __str__(self) -> str:
        return self.rule

    def __repr__(self) -> str:
        return f"Step({self.kind} #{self.index} {self.name} [{self.gate}]: {self.rule})"


def forward_steps(root: Any, precision: int = 2) -> List[Step]:
    """Every gate of ``root``'s graph inputs-first, with the value it computes (the
    inputs hold their values from the start).

        >>> from autodiff import Value
        >>> x = Value(-1.0, label="x")
        >>> [s.rule for s in forward_steps((x * -1).exp())]
        ['n1 = -1.00 * -1 = 1.00', 'L = exp(1.00) = 2.72']
    """
    root = _root(root, "forward_steps")
    check_precision(precision, "forward_steps")
    names = node_names(root)
    steps: List[Step] = []
    for v in graph_order(root):
        if v.is_leaf:
            continue
        name = names[id(v)]
        op = _op(v)
        if op is None:  # an op gradwire does not know
            args = ", ".join(fmt(p.data, precision) for p in v.parents)
            rule = f"{name} = {v.gate}({args}) = {fmt(v.data, precision)}"
        elif op.nary:  # n5 = b + w0*x0 + ... with the numbers
            terms = [fmt(v._a[0].data, precision)] + [
                f"{_paren(p.data, precision)}*"
                f"{_paren(q.data if isinstance(q, Value) else q, precision)}"
                for p, q in zip(v._a[1:], v._b[1:])
            ]
            rule = f"{name} = {' + '.join(terms)} = {fmt(v.data, precision)}"
        else:
            xs = [fmt(p.data, precision) for p in v.parents]
            if len(xs) == 2:
                xs[1] = _paren(v.parents[1].data, precision)
            rule = f"{name} = {formula(op, v.const, *xs)} = {fmt(v.data, precision)}"
        steps.append(Step("forward", len(steps), v, name, tuple(v.parents), v.data, rule))
    return steps


def _backward_order(root: Any) -> List[Any]:
    """The order ``Value.backward`` visits nodes in: the engine's schedule for a gradwire
    graph; for another micrograd-style graph, Kahn's algorithm on a stack."""
    if isinstance(root, Value):
        return schedule(root)
    pending: Dict[int, int] = {}
    stack, seen = [root], {id(root)}
    while stack:
        v = stack.pop()
        for p in v.parents:
            pending[id(p)] = pending.get(id(p), 0) + 1
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    order, ready = [], [root]
    while ready:
        v = ready.pop()
        order.append(v)
        for p in reversed(v.parents):
            pending[id(p)] -= 1
            if pending[id(p)] == 0:
                ready.append(p)
    return order


def _uses(order: List[Any]) -> Dict[int, int]:
    """How many shares each node will receive (one per use by a gate)."""
    uses: Dict[int, int] = {}
    for v in order:
        for p in v.parents:
            uses[id(p)] = uses.get(id(p), 0) + 1
    return uses


def backward_steps(
    root: Any, precision: int = 2, seed: float = 1.0, output: Optional[str] = None
) -> List[Step]:
    """Every gate outputs-first: its gradient and the share it sends to each input.

    The gradients are those ``root.backward(seed)`` gives (bit for bit, for leaves whose
    ``.grad`` started at 0); :func:`gradients_of` collects them.  ``output`` names the
    output in captions (default: the root's label, else ``L``).

        >>> from autodiff import Value
        >>> x = Value(3.0, label="x")
        >>> for line in backward_steps(x * x)[0].text_lines(): print(line)
        d(x * y)/dx = y = 3.00;  1.00 x 3.00 = 3.00  -> x;  dL/dx = 3.00 + 3.00 = 6.00
        d(x * y)/dy = x = 3.00;  1.00 x 3.00 = 3.00  -> x
    """
    root = _root(root, "backward_steps")
    check_precision(precision, "backward_steps")
    return _backward(root, precision, seed, output)[0]


def _backward(
    root: Any, precision: int, seed: float, output: Optional[str], text: bool = True
) -> Tuple[List[Step], Dict[int, Optional[float]]]:
    """The backward steps and every node's gradient (``{id(node): grad}``); with
    ``text=False`` only the gradients (no steps)."""
    names = node_names(root, output) if text else {}
    out = output or root.label or "L"
    order = _backward_order(root)
    uses = _uses(order)
    grads: Dict[int, Optional[float]] = {id(root): seed}
    got: Dict[int, int] = {}  # shares received so far
    unknown = set()  # ids of nodes that got a share gradwire cannot compute
    steps: List[Step] = []
    for v in order:
        if v.is_leaf:
            continue
        g = grads[id(v)]
        if g is None:  # a share came from an op gradwire does not know
            g = v.grad
            grads[id(v)] = g
        op = _op(v)
        terms = _terms(v)
        # the engine adds into a fresh 0.0 for every node and sends to a gate's inputs
        # last first: the same additions in the same order give the same sums bit for bit
        prods: List[Optional[float]] = [None] * len(terms)
        totals: List[Optional[float]] = [None] * len(terms)
        sums = [""] * len(terms)
        running = [""] * len(terms)
        for i in range(len(terms) - 1, -1, -1):
            p, local = terms[i][0], terms[i][1]
            prod = None if local is None or g is None else g * local
            prods[i] = prod
            n = got[id(p)] = got.get(id(p), 0) + 1
            before = grads.get(id(p))
            if prod is None or id(p) in unknown:  # the graph's own .grad, once every share is in
                unknown.add(id(p))
                total = p.grad if n == uses[id(p)] else None
            else:
                total = (0.0 if before is None else before) + prod
            grads[id(p)] = total
            totals[i] = total
            if n > 1 and text:  # what it had so far + this share = its gradient now
                terms_s = " + ".join(
                    "?" if a is None else _paren(a, precision) for a in (before, prod)
                )
                tot_s = "?" if total is None else fmt(total, precision)
                running[i] = f"{terms_s} = {tot_s}"
                sums[i] = f"d{out}/d{names[id(p)]} = {running[i]}"
        if not text:
            continue
        lines = []
        wrts = _formula_inputs(v) if isinstance(v, Value) else ["x", "y"]
        for i, (p, local, rtext) in enumerate(terms):
            wrt, prod = wrts[i], prods[i]
            if op is None or prod is None:  # (prod is None only for an op gradwire does not know)
                lines.append(f"d({v.gate})/d{names[id(p)]}: formula unknown to gradwire")
                continue
            gs, ls = factors_text([g, local], prod, precision)
            lhs = f"d({formula(op, v.const, 'x', 'y')})/d{wrt} = {rtext}"
            if not _is_number(rtext):
                lhs += f" = {ls}"
            lines.append(f"{lhs};  {gs} x {ls} = {fmt(prod, precision)}")
        steps.append(
            Step(
                "backward",
                len(steps),
                v,
                names[id(v)],
                tuple(v.parents),
                v.data,
                " | ".join(lines),
                g,
                tuple(t[1] for t in terms),
                tuple(t[2] for t in terms),
                tuple(prods),
                tuple(names[id(t[0])] for t in terms),
                tuple(totals),
                tuple(sums),
                tuple(lines),
                tuple(running),
            )
        )
    return steps, grads


def gradients_of(root: Any, precision: int = 2, seed: float = 1.0) -> Dict[int, float]:
    """``{id(node): gradient}`` for every node below ``root``, from the backward steps
    (what ``root.backward(seed)`` gives, without touching ``.grad``)."""
    root = _root(root, "gradients_of")
    grads = _backward(root, check_precision(precision, "gradients_of"), seed, None, text=False)[1]
    return {k: (0.0 if g is None else g) for k, g in grads.items()}


@dataclass
class ChainRule:
    """A node's gradient as the sum over paths from the output of products of local
    derivatives.  ``paths`` holds, per path, the ``(gate node, input index, local)`` hops
    from the output down; ``total`` is the node's gradient from the backward steps."""

    node: Any
    name: str
    paths: List[List[Tuple[Any, int, float]]]
    n_paths: int
    total: float
    text: str

    def __str__(self) -> str:
        return self.text


def chain_rule(
    root: Any, node: Any, precision: int = 2, max_paths: int = 20, output: Optional[str] = None
) -> ChainRule:
    """``d root / d node`` written out path by path (the multivariate chain rule).
    Takes time linear in the graph's size (and in the length of the paths shown).

        >>> from autodiff import Value
        >>> x = Value(2.0, label="x")
        >>> print(chain_rule((x * 3).exp() + x, x, precision=1))
        dL/dx = sum over 2 paths of the local derivatives along each:
          L <- [+] <- [exp] <- [*3] <- x:  1.0 x 1.0 x 403.429 x 3.0 = 1210.3
          L <- [+] <- x:  1.0 x 1.0 = 1.0
          = 1210.3 + 1.0 = 1211.3
    """
    root = _root(root, "chain_rule")
    check_precision(precision, "chain_rule")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 1:
        raise ValueError(
            f"chain_rule(max_paths={max_paths!r}): max_paths must be a "
            "positive int (how many paths to write out)"
        )
    names = node_names(root, output)
    if isinstance(root, ForeignNode) and not isinstance(node, ForeignNode):
        node = next((v for v in graph_order(root) if v.obj is node), node)
    if id(node) not in names:
        raise ValueError(f"chain_rule: node {node!r} is not in the graph of {root!r}")
    out = output or root.label or "L"
    name = names[id(node)]
    grads = _backward(root, precision, 1.0, output, text=False)[1]
    total = grads.get(id(node)) or 0.0
    order = graph_order(root)
    # count paths from each node down to `node` (dynamic programming, inputs first)
    count: Dict[int, int] = {}
    for v in order:
        count[id(v)] = 1 if v is node else sum(count[id(p)] for p in v.parents)
    n_paths = count[id(root)]
    # Depth-first on a stack; each entry points at the hop it came from, so a path is
    # read back once it reaches `node` (no list copied per hop: linear in the depth).
    paths: List[List[Tuple[Any, int, float]]] = []
    stack: List[Tuple[Any, Optional[tuple]]] = [(root, None)]
    while stack and len(paths) < max_paths:
        v, hop = stack.pop()
        if v is node:
            hops = []
            while hop is not None:
                hops.append(hop[0])
                hop = hop[1]
            hops.reverse()
            paths.append(hops)
            continue
        if v.is_leaf:
            continue
        terms = _terms(v)
        for i in reversed(range(len(terms))):
            p, local, _ = terms[i]
            if count[id(p)]:
                stack.append((p, ((v, i, local), hop)))
    if root is node:
        lines = [f"d{out}/d{name} = {fmt(total, precision)} (the output itself)"]
        return ChainRule(node, name, paths, n_paths, total, "\n".join(lines))
    lines = [
        f"d{out}/d{name} = sum over {n_paths} path{'s' * (n_paths != 1)} "
        f"of the local derivatives along each:"
    ]
    sums = []
    for hops in paths:
        chain = " <- ".join([out] + [f"[{g.gate}]" for g, _, _ in hops] + [name])
        locals_ = [1.0] + [local for _, _, local in hops]  # d out / d out first
        if any(x is None for x in locals_):
            lines.append(f"  {chain}:  a local derivative is unknown to gradwire")
            continue
        prod = 1.0
        for x in locals_[1:]:
            prod = prod * x
        shown = factors_text(locals_, prod, precision)
        lines.append(f"  {chain}:  " + " x ".join(shown) + f" = {fmt(prod, precision)}")
        sums.append(prod)
    if n_paths > len(paths):
        lines.append(f"  ... and {n_paths - len(paths)} more paths")
    if len(sums) > 1:
        lines.append(
            "  = "
            + " + ".join(_paren(s, precision) for s in sums)
            + ("" if n_paths > len(paths) else f" = {fmt(total, precision)}")
        )
    elif not paths:
        lines.append(f"  = {fmt(total, precision)} (no path: {name} does not affect {out})")
    return ChainRule(node, name, paths, n_paths, total, "\n".join(lines))
