"""The step explainer: the forward and backward pass of a graph, one readable step per node.

:func:`forward_steps` lists each node inputs-first with the value it computes
(``exp(-1.00) = 0.37``); :func:`backward_steps` lists each node outputs-first with its
upstream gradient, and for each of its inputs the local derivative (read from the op table
with ``op.local`` and ``op.rule``, never re-derived), the rule as text and the product sent
back: ``d(1/x)/dx = -1/x^2 = -0.53;  1.00 x -0.53 = -0.53``.  A node used by several gates
gets its gradient as the explicit sum of what each use sends back
(``df/dx = 0.20 + (-0.39) = -0.19``).  The backward steps visit the nodes in the very
order :meth:`Value.backward` does and add the same products in the same order, so their
gradients equal ``.grad`` bit for bit.  :func:`chain_rule` expands one node's gradient as
the sum over all paths from the output of the products of local derivatives.

    >>> from autodiff import Value
    >>> x = Value(2.0, label="x")
    >>> y = 1 / x
    >>> print(backward_steps(y)[0].rule)
    d(1/x)/dx = -1/x^2 = -0.25;  1.00 x -0.25 = -0.25
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .ops import Op
from .backward import input_names, local_terms, schedule, topological_order
from .value import Value

__all__ = ["Step", "forward_steps", "backward_steps", "chain_rule", "ChainRule",
           "node_names", "fmt"]

def fmt(v: float, precision: int = 2) -> str:
    """A number as the diagrams and captions print it: ``fmt(-0.5342) -> '-0.53'``."""
    s = f"{v:.{precision}f}"
    if s.startswith("-") and float(s) == 0.0:
        s = s[1:]  # no '-0.00'
    return s


def _paren(v: float, precision: int) -> str:
    s = fmt(v, precision)
    return f"({s})" if s.startswith("-") else s


def formula(op: Op, const: Optional[float], x: str, y: str = "y") -> str:
    """The gate as a formula of its operand names: ``1/x``, ``x + 1``, ``exp(x)``, ``x * y``."""
    return op.text(x, y, const)


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def node_names(root: Value) -> Dict[int, str]:
    """A name per node (keyed by ``id``): its label, else ``n<k>`` with k its place in
    topological order, so captions can say ``df/dn3``."""
    names = {}
    for k, v in enumerate(topological_order(root)):
        names[id(v)] = v.label or f"n{k}"
    return names


@dataclass
class Step:
    """One step of the forward or backward pass through one node.

    ``kind`` is ``'forward'`` or ``'backward'``; ``node`` the Value, ``inputs`` its inputs
    (the same Value twice for ``x * x``).  A backward step has ``upstream`` (the node's
    gradient, complete when its step comes), ``contributions`` (``(consumer, amount)``
    pairs whose sum that gradient is), and per input ``local`` (the local derivative),
    ``local_rules`` (its formula) and ``products`` (``upstream * local``, the amount sent
    back).  ``rule`` is the one-line explanation, ``lines`` one line per input.
    """
    kind: str
    index: int
    node: Value
    name: str
    inputs: Tuple[Value, ...] = ()
    value: float = 0.0
    rule: str = ""
    upstream: Optional[float] = None
    local: Tuple[float, ...] = ()
    local_rules: Tuple[str, ...] = ()
    products: Tuple[float, ...] = ()
    contributions: Tuple[Tuple[Optional[Value], float], ...] = ()
    sum_text: str = ""
    lines: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def gate(self) -> str:
        """The node's gate label (``'1/x'``), '' for an input."""
        return self.node.gate

    def __str__(self) -> str:
        return self.rule

    def __repr__(self) -> str:
        gate = f" [{self.gate}]" if self.gate else ""
        return f"Step({self.kind} #{self.index} {self.name}{gate}: {self.rule})"


def forward_steps(root: Value, precision: int = 2) -> List[Step]:
    """Every node of ``root``'s graph inputs-first, with the value it computes.

        >>> from autodiff import Value
        >>> x = Value(-1.0, label="x")
        >>> [s.rule for s in forward_steps((x * -1).exp())]
        ['x = -1.00', 'n1 = -1.00 * -1 = 1.00', 'n2 = exp(1.00) = 2.72']
    """
    if not isinstance(root, Value):
        raise TypeError(f"forward_steps(root): expected a Value, got {type(root).__name__}")
    names = node_names(root)
    steps = []
    for k, v in enumerate(topological_order(root)):
        name = names[id(v)]
        op = v._fn
        if op is None:
            rule = f"{name} = {fmt(v.data, precision)}"
        elif op.kind == "nary":  # n5 = b + w0*x0 + ... with the numbers
            terms = [fmt(v._a[0].data, precision)] + [
                f"{_paren(p.data, precision)}*"
                f"{_paren(q.data if isinstance(q, Value) else q, precision)}"
                for p, q in zip(v._a[1:], v._b[1:])]
            rule = f"{name} = {' + '.join(terms)} = {fmt(v.data, precision)}"
        else:
            xs = [fmt(p.data, precision) for p in v.parents]
            if len(xs) == 2:
                xs[1] = _paren(v._b.data, precision)
            rule = (f"{name} = {formula(op, v.const, *xs)} = {fmt(v.data, precision)}")
        steps.append(Step("forward", k, v, name, v.parents, v.data, rule))
    return steps


def backward_steps(root: Value, precision: int = 2, seed: float = 1.0,
                   output: Optional[str] = None) -> List[Step]:
    """Every node outputs-first: its gradient and what it sends back to each input.

    The gradients are those ``root.backward(seed)`` gives (bit for bit, for leaves whose
    ``.grad`` started at 0).  ``output`` names the output in captions (default: the
    root's label, else ``L``).

        >>> from autodiff import Value
        >>> x = Value(3.0, label="x")
        >>> for s in backward_steps(x * x): print(s.rule)
        d(x * y)/dx = y = 3.00;  1.00 x 3.00 = 3.00 | d(x * y)/dy = x = 3.00;  1.00 x 3.00 = 3.00
        dL/dx = 3.00 + 3.00 = 6.00
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps(root): expected a Value, got {type(root).__name__}")
    names = node_names(root)
    out = output or root.label or "L"
    grads: Dict[int, float] = {id(root): seed}
    contrib: Dict[int, list] = {id(root): [(None, seed)]}
    steps = []
    for k, v in enumerate(schedule(root)):
        name = names[id(v)]
        g = grads[id(v)]
        parts = contrib[id(v)]
        sum_text = ""
        if len(parts) > 1:
            terms = " + ".join(_paren(a, precision) for _, a in parts)
            sum_text = f"d{out}/d{name} = {terms} = {fmt(g, precision)}"
        op = v._fn
        if op is None:
            rule = sum_text or f"d{out}/d{name} = {fmt(g, precision)}"
            steps.append(Step("backward", k, v, name, (), v.data, rule, g,
                              contributions=tuple(parts), sum_text=sum_text))
            continue
        inputs = v.parents
        terms = local_terms(v)
        locals_, rules, prods, lines = [], [], [], []
        for (p, local, rtext), name_in in zip(terms, input_names(v)):
            prod = g * local
            wrt = name_in
            lhs = f"d({formula(op, v.const, 'x', 'y')})/d{wrt} = {rtext}"
            if not _is_number(rtext):
                lhs += f" = {fmt(local, precision)}"
            lines.append(f"{lhs};  {fmt(g, precision)} x {fmt(local, precision)} = "
                         f"{fmt(prod, precision)}")
            locals_.append(local)
            rules.append(rtext)
            prods.append(prod)
        # the engine adds into a fresh 0.0 for every node: same additions, same order
        for (p, _, _), prod in reversed(list(zip(terms, prods))):
            grads[id(p)] = grads.get(id(p), 0.0) + prod
            contrib.setdefault(id(p), []).append((v, prod))
        rule = " | ".join(lines)
        if sum_text:
            rule = f"{sum_text};  {rule}"
        steps.append(Step("backward", k, v, name, inputs, v.data, rule, g,
                          tuple(locals_), tuple(rules), tuple(prods), tuple(parts),
                          sum_text, tuple(lines)))
    return steps


@dataclass
class ChainRule:
    """A node's gradient as the sum over paths from the output of products of local
    derivatives.  ``paths`` holds, per path, the ``(gate node, input index, local)`` hops
    from the output down; ``total`` is the node's gradient from the backward steps."""
    node: Value
    name: str
    paths: List[List[Tuple[Value, int, float]]]
    n_paths: int
    total: float
    text: str

    def __str__(self) -> str:
        return self.text


def chain_rule(root: Value, node: Value, precision: int = 2, max_paths: int = 20,
               output: Optional[str] = None) -> ChainRule:
    """``d root / d node`` written out path by path (the multivariate chain rule).

        >>> from autodiff import Value
        >>> x = Value(2.0, label="x")
        >>> print(chain_rule((x * 3).exp() + x, x, precision=1))
        dL/dx = sum over 2 paths of the local derivatives along each:
          L <- [+] <- [exp] <- [*3] <- x:  1.0 x 1.0 x 403.4 x 3.0 = 1210.3
          L <- [+] <- x:  1.0 x 1.0 = 1.0
          = 1210.3 + 1.0 = 1211.3
    """
    names = node_names(root)
    if id(node) not in names:
        raise ValueError(f"chain_rule: node {node!r} is not in the graph of {root!r}")
    out = output or root.label or "L"
    name = names[id(node)]
    total = {id(s.node): s.upstream for s in backward_steps(root, precision)}[id(node)]
    # count paths from each node down to `node` (dynamic programming, inputs first)
    count: Dict[int, int] = {}
    for v in topological_order(root):
        count[id(v)] = 1 if v is node else sum(count[id(p)] for p in v.parents)
    n_paths = count[id(root)]
    paths: List[List[Tuple[Value, int, float]]] = []

    def walk(v: Value, hops: list) -> None:  # depth-first on a stack; stops at max_paths
        stack = [(v, hops)]
        while stack and len(paths) < max_paths:
            v, hops = stack.pop()
            if v is node:
                paths.append(hops)
                continue
            if v.is_leaf:
                continue
            terms = local_terms(v)
            for i in reversed(range(len(terms))):
                p, local, _ = terms[i]
                if count[id(p)]:
                    stack.append((p, hops + [(v, i, local)]))

    walk(root, [])
    lines = [f"d{out}/d{name} = sum over {n_paths} path{'s' * (n_paths != 1)} "
             f"of the local derivatives along each:"]
    if root is node:
        lines = [f"d{out}/d{name} = {fmt(total, precision)} (the output itself)"]
    sums = []
    for hops in paths if root is not node else []:
        chain = " <- ".join([out] + [f"[{g.gate}]" for g, _, _ in hops] + [name])
        prod = 1.0  # d out / d out
        factors = [fmt(1.0, precision)]
        for _, _, local in hops:
            factors.append(fmt(local, precision))
            prod = prod * local
        lines.append(f"  {chain}:  " + " x ".join(factors) + f" = {fmt(prod, precision)}")
        sums.append(prod)
    if root is not node:
        if n_paths > len(paths):
            lines.append(f"  ... and {n_paths - len(paths)} more paths")
        if len(sums) > 1:
            lines.append("  = " + " + ".join(_paren(s, precision) for s in sums)
                         + ("" if n_paths > len(paths) else f" = {fmt(total, precision)}"))
        elif not sums:
            lines.append(f"  = {fmt(total, precision)} (no path: {name} does not affect "
                         f"{out})")
    return ChainRule(node, name, paths, n_paths, total, "\n".join(lines))
