"""A safe parser for the formulas typed at the ``gradwire`` command line.

``build("1/(1+exp(-(w0*x0+w1*x1+w2)))", {"w0": 2, "x0": -1, ...})`` parses the text
with :func:`ast.parse` and walks the tree against a whitelist: numbers, variable names
(each given a value), ``+ - * / **``, unary ``-``/``+``, parentheses, and calls of the
engine's unary ops (``exp log sqrt tanh sigmoid relu abs sin cos``) with one argument.
Everything else -- attributes, subscripts, strings, lambdas, comparisons, keyword
arguments, unknown functions, ``2**2**100``-style blow-ups -- raises :class:`ExprError`
naming the problem and its 1-based column.  A flat chain (``x+x+...+x``, any length up to
:data:`MAX_LENGTH`) is walked in a loop; real nesting (parentheses, calls, unary minus,
``a**b**c``) deeper than :data:`MAX_DEPTH` levels is refused as nested too deeply.
Nothing is evaluated by Python: no
``eval``, ``exec`` or ``compile`` of the text; the walker builds the graph with
:class:`autodiff.Value` arithmetic, so the picture shows the same gates as the lecture
(``1 + v`` is one ``+1`` gate).  Constant sub-expressions (``2*3``, ``exp(0)``) are
folded to plain numbers.  ``e`` and ``pi`` are constants unless a value is set for them.

    >>> f, leaves = build("x*y + 1", {"x": 2, "y": -3})
    >>> f.data, sorted(leaves)
    (-5.0, ['x', 'y'])
    >>> build("__import__('os')", {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    visualize.expr.ExprError: unknown function '__import__' (known: exp, log, ...) at column 1
"""

from __future__ import annotations

import ast
import keyword
import math
import unicodedata
from typing import Dict, Iterable, Mapping, Tuple, Union

from autodiff import Value, ops

__all__ = [
    "ExprError",
    "build",
    "parse_assignments",
    "variables",
    "FUNCTIONS",
    "CONSTANTS",
    "MAX_LENGTH",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_CONSTANT",
]

#: Functions an expression may call: the engine's unary ops, by name.
FUNCTIONS: Dict[str, ops.Op] = {op.name: op for op in ops.UNARY}
#: Named constants, used when no value is set for the name.
CONSTANTS: Dict[str, float] = {"e": math.e, "pi": math.pi}
#: Longest expression accepted, in characters.
MAX_LENGTH = 1000
#: Deepest nesting accepted (parentheses around a sum, calls, unary minus, ``a**b**c``);
#: a flat chain such as ``x+x+...+x`` counts as one level however long it is.
MAX_DEPTH = 100
#: Largest |exponent| accepted when an exponent is a constant (``x**2000`` is refused).
MAX_EXPONENT = 1024.0
#: Largest |constant| a literal or a folded constant may have.
MAX_CONSTANT = 1e300

Number = Union[int, float]
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_OTHER_BINOPS = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
}
# Names for node types a user might try, for a message that says what was refused.
_WHAT = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Lambda: "lambda",
    ast.Compare: "comparison",
    ast.BoolOp: "and/or",
    ast.IfExp: "if/else expression",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Dict: "dict",
    ast.Set: "set",
    ast.JoinedStr: "f-string",
    ast.NamedExpr: "assignment (:=)",
    ast.Starred: "starred expression",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.FormattedValue: "f-string",
    ast.Slice: "slice",
}


class ExprError(ValueError):
    """A refused or failing expression: ``msg`` says what, ``col`` where (1-based).

    >>> err = ExprError("unknown name 'q'", 5)
    >>> str(err), err.col
    ("unknown name 'q' at column 5", 5)
    """

    def __init__(self, msg: str, col: int) -> None:
        super().__init__(f"{msg} at column {col}")
        self.msg = msg
        self.col = col

    def __repr__(self) -> str:
        return f"ExprError({self.msg!r}, col={self.col})"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


class _Builder:
    """Walks one parsed expression; ``text`` is the source for byte->char columns."""

    def __init__(self, text: str, shift: int, values: Mapping[str, float]) -> None:
        self.raw = text.encode("utf-8")
        self.shift = shift  # leading whitespace stripped before parsing
        self.values = values
        self.leaves: Dict[str, Value] = {}
        self.depth = 0

    def col(self, node: Union[ast.expr, ast.keyword]) -> int:
        """1-based character column of ``node`` (ast gives a 0-based UTF-8 offset)."""
        prefix = self.raw[: node.col_offset].decode("utf-8", errors="ignore")
        return self.shift + len(prefix) + 1

    def fail(self, node: Union[ast.expr, ast.keyword], msg: str) -> ExprError:
        return ExprError(msg, self.col(node))

    def walk(self, node: ast.expr) -> Union[float, Value]:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.fail(
                    node, f"expression is nested too deeply (more than {MAX_DEPTH} levels)"
                )
            return self.walk_node(node)
        finally:
            self.depth -= 1

    def walk_node(self, node: ast.expr) -> Union[float, Value]:
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        what = _WHAT.get(type(node), type(node).__name__)
        raise self.fail(
            node,
            f"{what} is not allowed; use numbers, names, + - * / **, "
            f"parentheses and calls like exp(x)",
        )

    def number(self, node: ast.Constant) -> float:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):  # bool is an int: refuse it
            kind = {str: "string", bytes: "bytes", bool: "boolean", complex: "complex number"}.get(
                type(v)
            )
            what = f"{kind} {v!r:.30}" if kind else repr(v)
            raise self.fail(node, f"{what} is not allowed; only real numbers")
        try:
            x = float(v)
        except OverflowError:
            x = math.inf
        if not abs(x) <= MAX_CONSTANT:
            raise self.fail(node, f"number is too large (at most {MAX_CONSTANT:g})")
        return x

    def name(self, node: ast.Name) -> Union[float, Value]:
        n = node.id
        if n in self.values:
            if n not in self.leaves:
                v = self.values[n]
                self.leaves[n] = v if isinstance(v, Value) else Value(float(v), n)
            return self.leaves[n]
        if n in CONSTANTS:
            return CONSTANTS[n]
        if n in FUNCTIONS:
            raise self.fail(node, f"'{n}' is a function; call it as {n}(...)")
        raise self.fail(node, f"name '{n}' has no value; give it one with --set {n}=...")

    def binop(self, node: ast.BinOp) -> Union[float, Value]:
        """A left-associative chain ``a + b - c * d ...`` in a loop, leftmost first."""
        chain = [node]
        while isinstance(chain[-1].left, ast.BinOp):
            chain.append(chain[-1].left)
        for n in chain:  # refuse a bad operator before building anything
            if type(n.op) not in _BINOPS:
                other = _OTHER_BINOPS.get(type(n.op), type(n.op).__name__)
                raise ExprError(f"operator {other} is not allowed; use + - * / **", self.op_col(n))
        acc = self.walk(chain[-1].left)
        for n in reversed(chain):
            sym = _BINOPS[type(n.op)]
            b = self.walk(n.right)
            if sym == "**" and not isinstance(b, Value) and not abs(b) <= MAX_EXPONENT:
                raise self.fail(
                    n.right, f"exponent {_fmt(b)} is too large (at most {MAX_EXPONENT:g} in size)"
                )
            acc = self.apply(n, sym, acc, b)
        return acc

    def op_col(self, node: ast.BinOp) -> int:
        """1-based column of a binary operator: after its left operand and any ')'."""
        end = node.left.end_col_offset or node.left.col_offset
        while end < len(self.raw) and self.raw[end : end + 1] in (b" ", b"\t", b")"):
            end += 1
        return self.shift + len(self.raw[:end].decode("utf-8", errors="ignore")) + 1

    def apply(self, node: ast.BinOp, sym: str, a, b) -> Union[float, Value]:
        """``a sym b`` with the engine (any Value) or as a checked constant."""
        const = not isinstance(a, Value) and not isinstance(b, Value)
        col = self.op_col(node)
        try:
            if sym == "+":
                r = a + b
            elif sym == "-":
                r = a - b
            elif sym == "*":
                r = a * b
            elif sym == "/":
                r = a / b
            else:
                r = a**b
        except ZeroDivisionError as e:
            msg = "division by zero" if const else _engine_msg(e, "division by zero")
            raise ExprError(msg, col) from None
        except OverflowError as e:
            msg = "constant result is too large" if const else _engine_msg(e, f"'{sym}' overflowed")
            raise ExprError(msg, col) from None
        except (ArithmeticError, ValueError, TypeError) as e:
            raise ExprError(_engine_msg(e, f"'{sym}' failed"), col) from None
        if const:
            return self.constant(node, r, col)
        return r

    def constant(self, node: ast.expr, r, col: int = 0) -> float:
        col = col or self.col(node)
        if isinstance(r, complex):
            raise ExprError("a negative number to a fractional power has no real value", col)
        if not abs(r) <= MAX_CONSTANT:
            raise ExprError(f"constant result is too large (at most {MAX_CONSTANT:g})", col)
        return float(r)

    def unary(self, node: ast.UnaryOp) -> Union[float, Value]:
        if isinstance(node.op, ast.USub):
            x = self.walk(node.operand)
            return -x if isinstance(x, Value) else self.constant(node, -x)
        if isinstance(node.op, ast.UAdd):
            return self.walk(node.operand)
        what = "not" if isinstance(node.op, ast.Not) else "~"
        raise self.fail(node, f"operator {what} is not allowed; use + - * / **")

    def call(self, node: ast.Call) -> Union[float, Value]:
        f = node.func
        if not isinstance(f, ast.Name):
            what = _WHAT.get(type(f), "a computed function")
            raise self.fail(node, f"only calls of a plain function name are allowed, not {what}")
        op = FUNCTIONS.get(f.id)
        if op is None:
            raise self.fail(node, f"unknown function '{f.id}' (known: {', '.join(FUNCTIONS)})")
        if node.keywords:
            kw = node.keywords[0]
            name = f"'{kw.arg}=' " if kw.arg else "'**' "
            raise self.fail(kw, f"keyword argument {name}is not allowed in {f.id}(...)")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail(arg, f"starred argument is not allowed in {f.id}(...)")
        if len(node.args) != 1:
            raise self.fail(node, f"{f.id}() takes exactly one argument, got {len(node.args)}")
        x = self.walk(node.args[0])
        if not isinstance(x, Value):  # a constant argument: fold, with plain messages
            try:
                return self.constant(node, op.forward(x))
            except OverflowError:
                raise self.fail(
                    node, f"constant result of {op.name}({_fmt(x)}) is too large"
                ) from None
            except (ArithmeticError, ValueError):
                domain = f"; defined for {op.domain}" if op.domain else ""
                raise self.fail(node, f"{op.name}({_fmt(x)}) is undefined{domain}") from None
        try:
            return getattr(x, op.name)()
        except (ArithmeticError, ValueError) as e:
            raise self.fail(node, _engine_msg(e, f"{op.name} failed")) from None


def _engine_msg(e: Exception, fallback: str) -> str:
    """The engine's message (it names op, inputs and domain) on one line."""
    text = " ".join(str(e).split())
    if not text or text.startswith("("):
        return fallback
    return text


def variables(expr: str) -> set:
    """Names an expression uses (parsing only), for checking ``--set``.

    >>> sorted(variables("w*x + b + exp(w)"))
    ['b', 'w', 'x']
    """
    tree, _ = _parse(expr)
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in funcs}


def _parse(expr: str) -> Tuple[ast.Expression, int]:
    if not isinstance(expr, str):
        raise TypeError(f"expression must be a string, got {type(expr).__name__}")
    if len(expr) > MAX_LENGTH:
        raise ExprError(
            f"expression is too long ({len(expr)} characters, at most {MAX_LENGTH})", MAX_LENGTH + 1
        )
    for i, ch in enumerate(expr):
        if ch in "\r\n" or (ord(ch) < 32 and ch != "\t"):
            raise ExprError("expression must be on one line, without control characters", i + 1)
        if 0xD800 <= ord(ch) <= 0xDFFF:  # from bytes that were not UTF-8
            raise ExprError(
                f"expression holds a character that is not text "
                f"({ch!r}, from bytes that are not UTF-8)",
                i + 1,
            )
    body = expr.lstrip(" \t")
    shift = len(expr) - len(body)
    if not body.strip():
        raise ExprError("empty expression", 1)
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as e:
        off = e.offset or 0
        if (e.lineno and e.lineno > 1) or off < 1 or off > len(body):
            raise ExprError(f"incomplete expression ({e.msg})", len(expr) + 1) from None
        raise ExprError(f"syntax error: {e.msg}", shift + off) from None
    except (RecursionError, MemoryError):
        raise ExprError("expression is nested too deeply", 1) from None
    return tree, shift


def build(expr: str, values: Mapping[str, Number]) -> Tuple[Value, Dict[str, Value]]:
    """Parse ``expr`` and build it with the engine; return ``(output, leaves)``.

    ``values`` maps each variable to its number (or to a :class:`Value`, used as is, so
    ``build`` can sit inside ``gradcheck``); ``leaves`` maps the used names to the input
    Values (new leaves are labelled with their names), in order of first use.
    The output is labelled ``f``; a constant expression gives a lone ``Value``.

        >>> f, leaves = build("1/(1+exp(-(w*x)))", {"w": 2, "x": -1})
        >>> f.backward(); round(f.data, 4), round(leaves["w"].grad, 4)
        (0.1192, -0.105)
    """
    tree, shift = _parse(expr)
    b = _Builder(expr.lstrip(" \t"), shift, values)
    try:
        out = b.walk(tree.body)
    except RecursionError:
        raise ExprError(
            f"expression is nested too deeply (more than {MAX_DEPTH} levels)", 1
        ) from None
    if not isinstance(out, Value):
        out = Value(out)
    if not out.is_leaf:  # a bare variable stays its own labelled leaf
        out.label = "f"
    return out, b.leaves


def parse_assignments(items: Iterable[str]) -> Dict[str, float]:
    """``["w0=2", "x0=-1"]`` -> ``{"w0": 2.0, "x0": -1.0}``, with a clear error for each
    malformed item (raised as ``ValueError``): a missing ``=``, an invalid name (or a
    Python keyword), a value that is not a finite number of at most :data:`MAX_CONSTANT`
    in size, or a name set twice.  Names are NFKC-normalized as Python normalizes the
    names in the expression (``ℌ`` is ``H``).

        >>> parse_assignments(["w0=2", "x0=-1.5"])
        {'w0': 2.0, 'x0': -1.5}
    """
    out: Dict[str, float] = {}
    for item in items:
        name, eq, text = item.partition("=")
        name, text = unicodedata.normalize("NFKC", name.strip()), text.strip()
        if not eq:
            raise ValueError(f"--set {item!r}: expected name=value, e.g. x0=-1")
        if not name.isidentifier() or name.startswith("__"):
            raise ValueError(f"--set {item!r}: {name!r} is not a valid variable name")
        if keyword.iskeyword(name):
            raise ValueError(f"--set {item!r}: {name!r} is a Python keyword, not a variable name")
        if name in FUNCTIONS:
            raise ValueError(f"--set {item!r}: {name!r} is a function name")
        try:
            x = float(text)
        except ValueError:
            raise ValueError(f"--set {item!r}: {text!r} is not a number") from None
        if not math.isfinite(x):
            raise ValueError(f"--set {item!r}: the value must be finite")
        if abs(x) > MAX_CONSTANT:
            raise ValueError(
                f"--set {item!r}: the value is too large (at most {MAX_CONSTANT:g} in size)"
            )
        if name in out:
            raise ValueError(f"--set {item!r}: {name!r} is set twice")
        out[name] = x
    return out
