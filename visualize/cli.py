"""The ``gradwire`` command line: ``render``, ``explain``, ``train`` and ``demo``.

``gradwire render EXPR --set w0=2 ... -o out/f.svg`` builds a formula with the engine
(parsed safely by :mod:`visualize.expr`: nothing typed is ever executed), runs backward,
draws the graph and prints each input's gradient; ``explain`` prints the forward and
backward steps with their chain-rule products; ``train`` fits a small MLP on a toy
dataset with a progress bar; ``demo`` writes the lecture's pictures and a trained model
into one folder.  Every subcommand has ``--help``; every error is one line
``gradwire: error: ...`` on stderr with exit status 2, naming the option or the value
that was wrong -- also for an error raised inside the library (a backward pass that
fails, training that diverges, a file that cannot be written): never a traceback.
A non-finite result or gradient is an error, not a printed ``inf``.

``train`` refuses, before any work, what would not finish: more than
:data:`MAX_SAMPLES` points, more than :data:`MAX_STEPS` steps, a model with more than
:data:`MAX_PARAMETERS` parameters, or a step touching more than :data:`MAX_STEP_WORK`
(points in a batch x parameters); ``--noise`` is at most :data:`MAX_NOISE`.
A formula may start with ``-`` (``gradwire render "-x*2" --set x=1``) without ``--``.

    >>> main(["explain", "x*y", "--set", "x=2", "y=3"])  # doctest: +ELLIPSIS
    forward pass (inputs first):
    ...
    0
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys
import time
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    NoReturn,
    Optional,
    Sequence,
    Tuple,
)

from autodiff import Value
from autodiff.examples import sigmoid_circuit
from autodiff.files import atomic_write
from nn.datasets import DATASETS
from nn.modules import ACTIVATIONS

if TYPE_CHECKING:  # numpy and nn's models are loaded only by the train command
    import numpy as np

    from nn import MLP, History

__all__ = [
    "main",
    "sigmoid_circuit",
    "CLIError",
    "MAX_SAMPLES",
    "MAX_STEPS",
    "MAX_PARAMETERS",
    "MAX_STEP_WORK",
    "MAX_NOISE",
    "MAX_SEED",
]

SIGMOID_EXPR = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
SIGMOID_SET = ["w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]
DIAGRAM_FORMATS = ("svg", "png", "pdf")
#: Most points ``train --samples`` accepts.
MAX_SAMPLES = 10_000
#: Most optimizer steps ``train --steps`` / ``demo --steps`` accept.
MAX_STEPS = 100_000
#: Most parameters the model of ``train --hidden`` may have.
MAX_PARAMETERS = 100_000
#: Most (points in one batch) x (parameters) one training step may touch: each is a few
#: graph nodes, so this bounds a step's time (seconds, not hours) and memory.
MAX_STEP_WORK = 10_000_000
#: Largest ``train --noise``: the toy sets live in [-4, 4]^2, far less already buries them.
MAX_NOISE = 100.0
#: Largest ``--seed``.
MAX_SEED = 2**63 - 1
#: The pip command that brings each optional package.
EXTRAS = {
    "ipywidgets": "pip install 'gradwire[notebook]'",
    "tqdm": "pip install 'gradwire[progress]'",
    "jupyterlab": "pip install 'gradwire[lab]'",
    "matplotlib": "pip install matplotlib (a gradwire dependency: reinstall gradwire)",
    "graphviz": "pip install graphviz (a gradwire dependency: reinstall gradwire)",
    "numpy": "pip install numpy (a gradwire dependency: reinstall gradwire)",
}


class CLIError(Exception):
    """A user-facing error: printed as one line ``gradwire: error: ...``, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) that say where to get help.

    With ``formula=True`` (render, explain) an argument that starts with ``-`` but is no
    option (``-x*2``, ``-exp(x)``) is the formula, as a negative number would be."""

    def __init__(self, *args: Any, formula: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.formula = formula

    def error(self, message: str) -> NoReturn:
        if self.formula and "required: EXPR" in message:
            message += " (give the formula first: --set takes every word after it)"
        raise CLIError(f"{message} (see '{self.prog} --help')")

    def _parse_optional(self, arg: str) -> Any:  # its result's shape varies with Python
        found = super()._parse_optional(arg)
        if (
            self.formula
            and found is not None
            and arg[:1] == "-"
            and arg[1:2] != "-"
            and arg not in self._option_string_actions
        ):
            # argparse returns one (action, ...) tuple, or since 3.12 a list of them
            tuples = found if isinstance(found, list) else [found]
            unknown = all(t[0] is None for t in tuples)
            if unknown or any(c in arg for c in "*/+()"):  # -o(x)*2 is a formula too
                return None
        return found


# --- shared helpers ---------------------------------------------------------------------


def _one_line(text: Any) -> str:
    """``text`` on one line: whitespace runs become one space, other control characters
    and lone surrogates are shown escaped."""
    text = " ".join(str(text).split())
    return "".join(
        c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else repr(c)[1:-1] for c in text
    )


def _missing_module(e: ImportError) -> str:
    name = (getattr(e, "name", None) or "").split(".")[0]
    if name in EXTRAS:
        return f"needs {name}: {EXTRAS[name]}"
    return _one_line(e)


#: What the library raises for bad input or a failed computation (ModelFileError,
#: GraphTooLarge and ExprError are ValueErrors, GraphvizNotFound a RuntimeError,
#: GradcheckError and TapeMismatchError AssertionErrors; a Graphviz run that times out
#: may surface as a SubprocessError).
_LIBRARY_ERRORS = (
    ValueError,
    TypeError,
    ArithmeticError,
    RuntimeError,
    OSError,
    ImportError,
    MemoryError,
    AssertionError,
    LookupError,
    subprocess.SubprocessError,
)


def _describe(e: BaseException) -> str:
    """A library error as one line of text (without the file a temporary name held)."""
    if isinstance(e, ImportError):
        return _missing_module(e)
    if isinstance(e, MemoryError):
        return "out of memory"
    if isinstance(e, RecursionError):
        return "too deeply nested for Python's stack"
    if isinstance(e, OSError) and e.strerror:
        return f"cannot write: {e.strerror}" if e.filename else e.strerror
    return _one_line(e) or type(e).__name__


@contextlib.contextmanager
def _failing(what: str) -> Iterator[None]:
    """Turn a library error raised in the block into a CLIError ``what: message``."""
    try:
        yield
    except CLIError:
        raise
    except _LIBRARY_ERRORS as e:
        raise CLIError(f"{what}: {_describe(e)}") from None


def _num(x: float, sign: str = "") -> str:
    """A number for the tables: 4 decimals, or 4 significant digits in e-notation when
    fixed point would show a long row of digits or only zeros."""
    if x != 0 and not 1e-4 <= abs(x) < 1e9:
        return f"{x:{sign}.4e}"
    return f"{x:{sign}.4f}"


_LONG_NUMBER = re.compile(r"(?<![\w.])-?\d{16,}(?:\.\d+)?")


def _tame(line: str, precision: int) -> str:
    """A fixed-point number with 16 or more digits before the point, written in
    e-notation (the explainer prints fixed point; 1e300 would be 300 digits)."""
    return _LONG_NUMBER.sub(lambda m: f"{float(m.group()):.{max(precision, 1)}e}", line)


def _check_finite(f: Value, leaves: Dict[str, Value], expr: str) -> None:
    """Refuse a non-finite result or gradient, naming the first node where it appeared."""
    from autodiff import topological_order
    from autodiff.explain import node_names

    where = f"{expr!r:.80}"
    if not math.isfinite(f.data):
        names = node_names(f)
        bad = next(v for v in topological_order(f) if not math.isfinite(v.data))
        args = ", ".join(f"{names[id(p)]} = {p.data:.4g}" for p in bad.parents)
        raise CLIError(
            f"{where}: the value is not finite: gate {bad.gate or bad.op} "
            f"gives {names[id(bad)]} = {bad.data} from {args} (past a float's "
            f"range, about 1.8e308); use smaller --set values"
        )
    for name, v in leaves.items():
        if not math.isfinite(v.grad):
            raise CLIError(
                f"{where}: the gradient df/d{name} is {v.grad} at "
                f"{name} = {v.data:.4g} (past a float's range, or undefined "
                f"there); use other --set values"
            )


def _build(expr: str, assignments: Sequence[str]) -> Tuple[Value, Dict[str, Value]]:
    """Parse ``--set`` and the expression; every problem becomes a CLIError."""
    from .expr import ExprError, build, parse_assignments, variables

    try:
        values = parse_assignments(assignments)
    except ValueError as e:
        if "expected name=value" in str(e):
            e = ValueError(f"{e} (the formula goes before --set)")
        raise CLIError(str(e)) from None
    try:
        used = variables(expr)
        unused = [n for n in values if n not in used]
        if unused:
            raise CLIError(
                f"--set {unused[0]}=...: the expression does not use "
                f"'{unused[0]}' (it uses: {', '.join(sorted(used)) or 'no names'})"
            )
        return build(expr, values)
    except ExprError as e:
        raise CLIError(f"{e.msg} at column {e.col} of {expr!r:.80}") from None
    except (UnicodeError, ValueError) as e:  # e.g. a lone surrogate from undecodable argv
        raise CLIError(f"formula {expr!r:.80}: {_one_line(e)}") from None


def _backward(f: Value, leaves: Dict[str, Value], expr: str) -> None:
    """``f.backward()`` with its errors (a derivative undefined at the point) as one line."""
    _check_finite(f, {}, expr)
    with _failing(f"backward pass of {expr!r:.80}"):
        f.backward()
    _check_finite(f, leaves, expr)


def _gradient_table(f: Value, leaves: Dict[str, Value], expr: str) -> str:
    width = max([5] + [len(n) for n in leaves])
    lines = [f"f = {expr} = {_num(f.data)}"]
    if leaves:
        lines.append(f"  {'input':<{width}}  {'value':>9}  {'df/dinput':>10}")
        for name, v in leaves.items():
            lines.append(f"  {name:<{width}}  {_num(v.data):>9}  {_num(v.grad, '+'):>10}")
    else:
        lines.append("  (no inputs: the expression is a constant)")
    return "\n".join(lines)


def _path(option: str) -> Callable[[str], str]:
    """An argparse type for a file or folder name: not empty, no control characters."""

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError("expected a file name, got an empty one")
        bad = next((c for c in text if not c.isprintable() or 0xD800 <= ord(c) <= 0xDFFF), None)
        if bad is not None:
            raise argparse.ArgumentTypeError(
                f"{text!r}: a file name here may not hold control or undecodable "
                f"characters ({repr(bad)[1:-1]})"
            )
        return text

    parse.__name__ = option
    return parse


def _out_path(path: str, allowed: Sequence[str], what: str) -> str:
    """Check a file name before anything is written: its extension, that it is not a
    folder or a device, and that its folder is (or can be created) writable."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    use = ", ".join("." + a for a in allowed)
    if ext not in allowed:
        raise CLIError(
            f"{what} {path!r}: unknown extension '.{ext}' (use one of: {use})"
            if ext
            else f"{what} {path!r} has no extension (use one of: {use})"
        )
    if os.path.isdir(path):
        raise CLIError(f"{what} {path!r} is a folder; give a file name")
    if os.path.exists(path) and not os.path.isfile(path):
        raise CLIError(f"{what} {path!r} exists and is not a regular file")
    folder = os.path.dirname(os.path.abspath(path))
    probe = folder
    while not os.path.exists(probe):  # the nearest existing folder must take new files
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise CLIError(
            f"cannot create folder {os.path.dirname(path)!r} for {path!r}: "
            f"{probe!r} is not a folder"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CLIError(f"{what} {path!r}: cannot write in {probe!r}: permission denied")
    return path


def _need_dot(what: str) -> None:
    """Refuse up front (before any file is written) when Graphviz's ``dot`` is missing."""
    if shutil.which("dot") is None:
        from .diagram import INSTALL_HELP

        raise CLIError(f"{what} needs Graphviz: {_one_line(INSTALL_HELP)}")


def _need_module(name: str, what: str) -> None:
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise CLIError(f"{what} needs {name}: {EXTRAS.get(name, f'pip install {name}')}")


# --- render / explain ----------------------------------------------------------------------


def cmd_render(args: argparse.Namespace) -> int:
    if args.output:
        _out_path(args.output, DIAGRAM_FORMATS, "-o")
    if args.steps:
        _out_path(args.steps, ("html", "htm"), "--steps")
    if args.output or args.steps:
        _need_dot("-o" if args.output else "--steps")
    f, leaves = _build(args.expr, args.set)
    _backward(f, leaves, args.expr)
    diagram = page = None
    # Build the diagram and the page in memory first: a graph over either's node cap is
    # refused before any file is written.
    if args.output:
        from .diagram import draw

        with _failing(f"-o {args.output!r}"):
            diagram = draw(f, style=args.style)
    if args.steps:
        from . import stepper

        with _failing(f"--steps {args.steps!r}"):
            page = stepper(f, style=args.style)
    print(_gradient_table(f, leaves, args.expr))
    if diagram is not None:
        from .diagram import render

        with _failing(f"-o {args.output!r}"):
            render(diagram, args.output)
        print(f"wrote {args.output} ({args.style} style)")
    if page is not None:
        with _failing(f"--steps {args.steps!r}"):
            page.save(args.steps)
        print(f"wrote {args.steps} (step through forward and backward in a browser)")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from autodiff.explain import backward_steps, forward_steps

    f, leaves = _build(args.expr, args.set)
    _backward(f, leaves, args.expr)  # its errors name the op, the input and the domain
    p = args.precision
    lines = ["forward pass (inputs first):"]
    with _failing(f"explain {args.expr!r:.80}"):
        for s in forward_steps(f, precision=p):
            lines.append(f"  {s.rule}")
        lines.append("backward pass (output first; upstream gradient x local derivative -> input):")
        for s in backward_steps(f, precision=p, output="f"):
            head = f"  {s.name} [{s.gate}]"
            for line in s.text_lines():
                lines.append(f"{head}: {line}")
                head = " " * len(head)
    for line in lines:
        print(_tame(line, p))
    print(_gradient_table(f, leaves, args.expr))
    return 0


# --- train ---------------------------------------------------------------------------------


def _hidden(text: str) -> List[int]:
    """argparse type for ``--hidden``: layer sizes separated by commas."""
    try:
        sizes = [int(t) for t in text.split(",")] if text.strip() else []
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected layer sizes separated by commas, e.g. 16,16"
        ) from None
    if any(n < 1 for n in sizes) or any(n > 1024 for n in sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: each layer size must be between 1 and 1024")
    return sizes


_hidden.__name__ = "--hidden"


def _show(text: str) -> str:
    """A typed value for a message: quoted, at most 40 characters."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _int_in(lo: int, hi: int, what: str = "an integer") -> Callable[[str], int]:
    """argparse type: an int from ``lo`` to ``hi``."""

    def parse(text: str) -> int:
        try:
            x = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {what} from {lo:,} to {hi:,}, got {_show(text)}"
            ) from None
        if not lo <= x <= hi:
            raise argparse.ArgumentTypeError(
                f"must be {what} from {lo:,} to {hi:,}, got {_show(text)}"
            )
        return x

    return parse


def _float_in(lo: float, hi: float = math.inf, lo_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""

    def parse(text: str) -> float:
        rule = (f"a number > {lo:g}" if lo_open else f"a number >= {lo:g}") + (
            f" and <= {hi:g}" if hi < math.inf else ""
        )
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {_show(text)}") from None
        if not math.isfinite(x) or x < lo or (lo_open and x == lo) or x > hi:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {_show(text)}")
        return x + 0.0  # -0.0 is 0.0

    return parse


def _parameter_count(nin: int, sizes: Sequence[int]) -> int:
    total, n = 0, nin
    for m in sizes:
        total += (n + 1) * m
        n = m
    return total


def cmd_train(args: argparse.Namespace) -> int:
    if args.save:
        _out_path(args.save, ("json",), "--save")
    if args.plot:
        _out_path(args.plot, ("png", "svg", "pdf"), "--plot")
        _need_module("matplotlib", "--plot")
    if not args.no_progress and importlib.util.find_spec("tqdm") is None:
        print(f"gradwire: no progress bar without tqdm: {EXTRAS['tqdm']}", file=sys.stderr)
    result = _train(
        args.dataset,
        args.hidden,
        steps=args.steps,
        optimizer=args.optimizer,
        lr=args.lr,
        batch_size=args.batch_size,
        loss=args.loss,
        seed=args.seed,
        samples=args.samples,
        noise=args.noise,
        activation=args.activation,
        l2=args.l2,
        progress=not args.no_progress,
        compile=args.compile,
    )
    model, X, y, history, seconds = result
    print(
        f"trained {_describe_model(model)} on {args.dataset} ({len(X)} points) "
        f"for {len(history)} steps in {seconds:.1f} s"
    )
    print(
        f"loss {_num(history.loss[0])} -> {_num(history.loss[-1])}, "
        f"final accuracy {history.accuracy[-1]:.1%}"
    )
    if args.save:
        with _failing(f"--save {args.save!r}"):
            model.save(args.save)
        print(f"wrote {args.save}")
    if args.plot:
        with _failing(f"--plot {args.plot!r}"):
            _plot_boundary(
                model,
                X,
                y,
                history,
                args.plot,
                title=f"{args.dataset}: accuracy {history.accuracy[-1]:.0%}",
            )
        print(f"wrote {args.plot}")
    return 0


def _train(
    dataset: str,
    hidden: List[int],
    *,
    steps: int,
    optimizer: str,
    lr: float,
    batch_size: Optional[int],
    loss: Optional[str],
    seed: int,
    samples: int,
    noise: Optional[float],
    activation: str,
    l2: float,
    progress: bool,
    compile: bool,
) -> Tuple[MLP, np.ndarray, np.ndarray, History, float]:
    import numpy as np

    import nn
    from nn import datasets

    n_classes = 3 if dataset in ("spiral", "blobs") else 2
    if samples < n_classes:
        raise CLIError(
            f"--samples {samples}: {dataset} needs at least {n_classes} points (one per class)"
        )
    kwargs: Dict[str, Any] = {"seed": seed}
    kwargs["n"] = samples
    if noise is not None:
        kwargs["std" if dataset == "blobs" else "noise"] = noise
    loss = loss or ("ce" if n_classes > 2 else "hinge")
    if loss == "hinge":
        kwargs["labels"] = "pm1"
    try:
        X, y = datasets.load(dataset, **kwargs)
    except ValueError as e:
        if "pm1" in str(e):
            raise CLIError(
                f"--loss {loss} is for two classes; {dataset} has more (use --loss ce)"
            ) from None
        raise CLIError(f"--dataset {dataset}: {_one_line(e)}") from None
    classes = len(np.unique(y))
    if classes < 2:
        raise CLIError(
            f"--samples {samples}: the {len(X)} {dataset} points drawn hold "
            f"only one class; use more points"
        )
    if loss == "bce" and classes > 2:
        raise CLIError(f"--loss bce is for two classes; {dataset} has {classes} (use --loss ce)")
    nout = classes if loss == "ce" else 1
    sizes = [*hidden, nout]
    nparams = _parameter_count(X.shape[1], sizes)
    if nparams > MAX_PARAMETERS:
        raise CLIError(
            f"--hidden {','.join(map(str, hidden))}: the model would have "
            f"{nparams:,} parameters (at most {MAX_PARAMETERS:,})"
        )
    rows = min(batch_size or len(X), len(X))
    if rows * nparams > MAX_STEP_WORK:
        raise CLIError(
            f"one step would run {rows:,} points through {nparams:,} parameters "
            f"({rows * nparams:,}, at most {MAX_STEP_WORK:,}); use fewer "
            f"--samples, a smaller --batch-size or a smaller --hidden"
        )
    with _failing("train"):
        model = nn.MLP(X.shape[1], sizes, activation=activation, seed=seed)
        opt = {"sgd": nn.optim.SGD, "adam": nn.optim.Adam}[optimizer](model.parameters(), lr=lr)
    loss = {"hinge": "hinge", "bce": "bce_with_logits", "ce": "cross_entropy"}[loss]
    hint = f"try a smaller --lr than {lr:g}" + (f" or --l2 than {l2:g}" if l2 >= 1 else "")
    t0 = time.perf_counter()
    try:
        history = nn.fit(
            model,
            X,
            y,
            loss=loss,
            optimizer=opt,
            batch_size=batch_size,
            l2=l2,
            seed=seed,
            steps=steps,
            progress=progress,
            compile=compile,
        )
    except _LIBRARY_ERRORS as e:
        text = _describe(e)
        # a float overflowed, or fit stopped on a NaN or infinite loss: the run diverged
        if isinstance(e, ArithmeticError) or re.search(
            r"\b(nan|inf|infinity|non-finite|not finite|diverged?)\b", text, re.I
        ):
            raise CLIError(f"training diverged: {text}; {hint}") from None
        raise CLIError(f"training failed: {text}") from None
    bad = next((i for i, x in enumerate(history.loss) if not math.isfinite(x)), None)
    if bad is not None or not all(math.isfinite(p.data) for p in model.parameters()):
        where = (
            f"at step {history.step[bad]} (loss {history.loss[bad]})"
            if bad is not None
            else "(a parameter is not finite)"
        )
        raise CLIError(f"training diverged {where}; {hint}")
    return model, X, y, history, time.perf_counter() - t0


def _describe_model(model: MLP) -> str:
    sizes = [model.nin] + [len(layer.neurons) for layer in model.layers]
    return "MLP " + "-".join(str(s) for s in sizes)


def _plot_boundary(
    model: MLP, X: np.ndarray, y: np.ndarray, history: History, path: str, title: str = ""
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plot_decision_boundary, plot_history

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    try:
        plot_decision_boundary(model, X, y, ax=ax1)
        ax1.set_title(title)
        plot_history(history, ax=ax2)
        fig.tight_layout()
        fmt = os.path.splitext(path)[1].lstrip(".").lower()
        atomic_write(path, lambda f: fig.savefig(f, format=fmt), binary=True)
    finally:
        plt.close(fig)


# --- demo ----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    out = args.out
    # Everything the demo needs is checked before the first file (or folder) is written.
    _need_dot("demo")
    _need_module("matplotlib", "demo")
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError(f"--out {out!r} exists and is not a folder")
    probe = os.path.abspath(out)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
        raise CLIError(
            f"--out {out!r}: cannot create or write the folder ({probe!r} is not a writable folder)"
        )
    f, inputs = sigmoid_circuit()
    f.backward()
    print(f"f(w, x) = {SIGMOID_EXPR} = {f.data:.4f}")
    for v in inputs:
        print(f"  {v.label:>3} = {v.data:5.2f}   df/d{v.label} = {v.grad:+.4f}")
    written: List[Tuple[str, str]] = []
    with _failing(f"demo --out {out!r}"):
        from .demo import write_demo

        files = write_demo(out)
    for path in files.values():
        written.append((str(path), _DEMO_CAPTIONS.get(os.path.basename(str(path)), "")))
    model, X, y, history, seconds = _train(
        "moons",
        [8, 8],
        steps=args.steps,
        optimizer="adam",
        lr=0.05,
        batch_size=None,
        loss="hinge",
        seed=1,
        samples=100,
        noise=None,
        activation="relu",
        l2=1e-4,
        progress=False,
        compile=False,
    )
    print(
        f"trained {_describe_model(model)} on moons for {len(history)} steps "
        f"in {seconds:.1f} s: loss {_num(history.loss[-1])}, "
        f"accuracy {history.accuracy[-1]:.0%}"
    )
    model_path = os.path.join(out, "moons-model.json")
    plot_path = os.path.join(out, "moons-boundary.png")
    with _failing(f"demo --out {out!r}"):
        model.save(model_path)
        written.append((model_path, "the trained model (load with nn.MLP.load)"))
        _plot_boundary(
            model, X, y, history, plot_path, title=f"moons: accuracy {history.accuracy[-1]:.0%}"
        )
        written.append((plot_path, "its decision boundary and loss curve"))
    print(f"files in {out}/:")
    for path, caption in written:
        print(f"  {path}" + (f"  -- {caption}" if caption else ""))
    return 0


_DEMO_CAPTIONS = {
    "sigmoid.svg": "the sigmoid circuit, values above and gradients below each wire",
    "sigmoid-record.svg": "the same graph, one record per node (data | grad)",
    "steps.html": "step through forward and backward, one gate at a time",
    "network.svg": "a 2-16-16-1 MLP drawn neuron by neuron, after one backward",
}


# --- the parser ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gradwire",
        description=(
            "See backpropagation: draw a formula's graph with its gradients, explain each "
            "chain-rule step, train a tiny MLP."
        ),
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    from autodiff import ops

    def formula_args(p: argparse.ArgumentParser) -> None:
        """The formula and its --set values, shared by render and explain."""
        p.add_argument(
            "expr",
            metavar="EXPR",
            help=(
                "formula using numbers, names, + - * / **, parentheses and "
                f'{" ".join(op.name for op in ops.UNARY)}, e.g. "{SIGMOID_EXPR}"; '
                "it may start with '-' (\"-x*2\")"
            ),
        )
        p.add_argument(
            "--set",
            nargs="+",
            action="extend",
            default=[],
            metavar="NAME=VALUE",
            help="give each variable its value: --set w0=2 x0=-1 (every name "
            "the expression uses needs one; setting a name it does not "
            "use is an error)",
        )

    p = sub.add_parser(
        "render",
        help="draw a formula's graph with values and gradients",
        description="Evaluate a formula, run backward, print each input's "
        "gradient and draw the graph.",
        formula=True,
    )
    formula_args(p)
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=_path("-o"),
        help=f"diagram file ({', '.join('.' + f for f in DIAGRAM_FORMATS)}); "
        f"parent folders are created",
    )
    p.add_argument(
        "--style",
        choices=("circuit", "record"),
        default="circuit",
        help="circuit: gates on wires as in the lecture (default); "
        "record: one box per node with data | grad",
    )
    p.add_argument(
        "--steps",
        metavar="FILE.html",
        type=_path("--steps"),
        help="also write a page that steps through forward and backward",
    )
    p.set_defaults(func=cmd_render)

    p = sub.add_parser(
        "explain",
        help="print the forward and backward steps",
        description="Print each forward step and each backward step with "
        "its local derivative and chain-rule product.",
        formula=True,
    )
    formula_args(p)
    p.add_argument(
        "--precision",
        type=int,
        choices=range(0, 9),
        default=2,
        metavar="N",
        help="digits after the point (0-8, default 2, as in the lecture)",
    )
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser(
        "train",
        help="train a small MLP on a toy dataset",
        description="Train an MLP on a 2-D toy dataset with a progress bar; "
        "print the final loss and accuracy.  Limits: "
        f"--samples {MAX_SAMPLES:,}, --steps {MAX_STEPS:,}, "
        f"{MAX_PARAMETERS:,} parameters, {MAX_STEP_WORK:,} "
        "points x parameters per step.",
    )
    p.add_argument("--dataset", choices=DATASETS, default="moons", help="(default: moons)")
    p.add_argument(
        "--samples",
        type=_int_in(1, MAX_SAMPLES),
        default=100,
        metavar="N",
        help=f"number of points (default 100, at most {MAX_SAMPLES:,})",
    )
    p.add_argument(
        "--noise",
        type=_float_in(0.0, MAX_NOISE),
        default=None,
        help=f"dataset noise (default: the dataset's own; at most {MAX_NOISE:g})",
    )
    p.add_argument(
        "--hidden",
        type=_hidden,
        default=[16, 16],
        metavar="N,N,...",
        help=f"hidden layer sizes, each 1-1024 (default 16,16; '' for a linear "
        f"model); the model may have at most {MAX_PARAMETERS:,} parameters",
    )
    p.add_argument(
        "--activation",
        choices=[a for a in ACTIVATIONS if a != "linear"],  # a hidden layer is non-linear
        default="relu",
        help="hidden activation (default relu)",
    )
    p.add_argument(
        "--steps",
        type=_int_in(1, MAX_STEPS),
        default=100,
        help=f"optimizer steps (default 100, at most {MAX_STEPS:,})",
    )
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd", help="(default sgd)")
    p.add_argument(
        "--lr",
        type=_float_in(0.0, lo_open=True),
        default=None,
        help="learning rate (default 0.1 for sgd, 0.01 for adam)",
    )
    p.add_argument(
        "--batch-size",
        type=_int_in(1, MAX_SAMPLES),
        default=None,
        metavar="N",
        help="mini-batch size (default: the whole dataset)",
    )
    p.add_argument(
        "--loss",
        choices=("hinge", "bce", "ce"),
        default=None,
        help="hinge or bce for two classes, ce (softmax cross-entropy) for any; "
        "default hinge, or ce when there are more than two classes",
    )
    p.add_argument(
        "--l2", type=_float_in(0.0), default=1e-4, help="L2 regularization strength (default 1e-4)"
    )
    p.add_argument("--seed", type=_int_in(0, MAX_SEED), default=1, help="random seed (default 1)")
    p.add_argument(
        "--compile",
        action="store_true",
        help="use the compiled (vectorized) objective: same gradients, faster",
    )
    p.add_argument(
        "--save", metavar="FILE.json", type=_path("--save"), help="save the trained model as JSON"
    )
    p.add_argument(
        "--plot",
        metavar="FILE",
        type=_path("--plot"),
        help="save the decision boundary and loss curve (.png, .svg, .pdf)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "demo",
        help="write the lecture's pictures and a trained model",
        description="Render the sigmoid circuit (circuit and record style), "
        "the step-by-step page and the network view, train a "
        "tiny MLP on moons, and print where every file is.",
    )
    p.add_argument(
        "--out", default="out", type=_path("--out"), help="folder for the files (default: out)"
    )
    p.add_argument(
        "--steps",
        type=_int_in(1, MAX_STEPS),
        default=50,
        help="training steps for the moons model (default 50)",
    )
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (0, or 2 after a one-line error)."""
    command = "gradwire"
    try:
        args = _parser().parse_args(argv)
        command = args.command
        if command == "train" and args.lr is None:
            args.lr = 0.1 if args.optimizer == "sgd" else 0.01
        return args.func(args)
    except SystemExit as e:  # --help (0) or argparse giving up
        return e.code if isinstance(e.code, int) else 2
    except CLIError as e:
        _error(str(e))
        return 2
    except KeyboardInterrupt:
        print("gradwire: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``gradwire explain ... | head``)
        _silence_stdout()
        return 141
    except OSError as e:
        where = f" {e.filename!r}" if getattr(e, "filename", None) else ""
        _error(f"{command}: cannot write{where}: {e.strerror or e}")
        return 2
    except _LIBRARY_ERRORS as e:
        _error(f"{command}: {_describe(e)}")
        return 2
    except Exception as e:  # a bug in gradwire: still one line, naming the error
        _error(f"{command}: internal error {type(e).__name__}: {_describe(e)} (please report it)")
        return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. captured)
        pass


def _error(message: str) -> None:
    line = f"gradwire: error: {_one_line(message)}"
    try:
        print(line, file=sys.stderr)
    except UnicodeEncodeError:
        print(line.encode("ascii", "backslashreplace").decode("ascii"), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
