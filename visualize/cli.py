"""The ``gradwire`` command line: ``render``, ``explain``, ``train`` and ``demo``.

``gradwire render EXPR --set w0=2 ... -o out/f.svg`` builds a formula with the engine
(parsed safely by :mod:`visualize.expr`: nothing typed is ever executed), runs backward,
draws the graph and prints each input's gradient; ``explain`` prints the forward and
backward steps with their chain-rule products; ``train`` fits a small MLP on a toy
dataset with a progress bar; ``demo`` writes the lecture's pictures and a trained model
into one folder.  Every subcommand has ``--help``; every error is one line
``gradwire: error: ...`` on stderr with exit status 2.

    >>> main(["explain", "x*y", "--set", "x=2", "y=3"])  # doctest: +ELLIPSIS
    forward pass (inputs first):
    ...
    0
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from autodiff import Value
from autodiff.files import atomic_write
from autodiff.examples import sigmoid_circuit

__all__ = ["main", "sigmoid_circuit", "CLIError"]

SIGMOID_EXPR = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
SIGMOID_SET = ["w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]
DIAGRAM_FORMATS = ("svg", "png", "pdf")
DATASETS = ("moons", "circles", "spiral", "xor", "blobs")


class CLIError(Exception):
    """A user-facing error: printed as one line ``gradwire: error: ...``, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) that say where to get help."""

    def error(self, message: str):  # type: ignore[override]
        raise CLIError(f"{message} (see '{self.prog} --help')")




# --- shared helpers ---------------------------------------------------------------------

def _build(expr: str, assignments: Sequence[str]) -> Tuple[Value, Dict[str, Value]]:
    """Parse ``--set`` and the expression; every problem becomes a CLIError."""
    from .expr import ExprError, build, parse_assignments, variables
    try:
        values = parse_assignments(assignments)
    except ValueError as e:
        raise CLIError(str(e)) from None
    try:
        used = variables(expr)
        unused = [n for n in values if n not in used]
        if unused:
            raise CLIError(f"--set {unused[0]}=...: the expression does not use "
                           f"'{unused[0]}' (it uses: {', '.join(sorted(used)) or 'no names'})")
        return build(expr, values)
    except ExprError as e:
        raise CLIError(f"{e.msg} at column {e.col} of {expr!r:.80}") from None


def _gradient_table(f: Value, leaves: Dict[str, Value], expr: str) -> str:
    width = max([5] + [len(n) for n in leaves])
    lines = [f"f = {expr} = {f.data:.4f}"]
    if leaves:
        lines.append(f"  {'input':<{width}}  {'value':>9}  {'df/dinput':>10}")
        for name, v in leaves.items():
            lines.append(f"  {name:<{width}}  {v.data:>9.4f}  {v.grad:>+10.4f}")
    else:
        lines.append("  (no inputs: the expression is a constant)")
    return "\n".join(lines)


def _out_path(path: str, allowed: Sequence[str], what: str) -> str:
    """Check a file name's extension and create its parent folders."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in allowed:
        raise CLIError(f"{what} {path!r}: unknown extension '.{ext}' "
                       f"(use one of: {', '.join('.' + a for a in allowed)})" if ext else
                       f"{what} {path!r} has no extension "
                       f"(use one of: {', '.join('.' + a for a in allowed)})")
    parent = os.path.dirname(path)
    if parent:
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as e:
            raise CLIError(f"cannot create folder {parent!r} for {path!r}: "
                           f"{e.strerror or e}") from None
    return path


# --- render / explain ----------------------------------------------------------------------

def cmd_render(args: argparse.Namespace) -> int:
    if args.output:
        _out_path(args.output, DIAGRAM_FORMATS, "-o")
    if args.steps:
        _out_path(args.steps, ("html", "htm"), "--steps")
    f, leaves = _build(args.expr, args.set)
    f.backward()
    print(_gradient_table(f, leaves, args.expr))
    if args.output:
        from .diagram import GraphTooLarge, GraphvizNotFound, render
        try:
            render(f, args.output, style=args.style)
        except (GraphvizNotFound, GraphTooLarge) as e:
            raise CLIError(" ".join(str(e).split())) from None
        print(f"wrote {args.output} ({args.style} style)")
    if args.steps:
        from . import stepper
        stepper(f, style=args.style).save(args.steps)
        print(f"wrote {args.steps} (step through forward and backward in a browser)")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from autodiff.explain import backward_steps, forward_steps
    f, leaves = _build(args.expr, args.set)
    p = args.precision
    print("forward pass (inputs first):")
    for s in forward_steps(f, precision=p):
        print(f"  {s.rule}")
    print("backward pass (output first; upstream gradient x local derivative -> input):")
    for s in backward_steps(f, precision=p, output="f"):
        head = f"  {s.name} [{s.gate}]"
        for line in s.text_lines():
            print(f"{head}: {line}")
            head = " " * len(head)
    f.backward()
    print(_gradient_table(f, leaves, args.expr))
    return 0


# --- train ---------------------------------------------------------------------------------

def _hidden(text: str) -> List[int]:
    try:
        sizes = [int(t) for t in text.split(",")] if text.strip() else []
    except ValueError:
        raise CLIError(f"--hidden {text!r}: expected layer sizes separated by commas, "
                       f"e.g. 16,16") from None
    if any(n < 1 for n in sizes) or any(n > 1024 for n in sizes):
        raise CLIError(f"--hidden {text!r}: each layer size must be between 1 and 1024")
    return sizes


def _positive(kind, what: str):
    def parse(text: str):
        try:
            x = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a {kind.__name__}, "
                                             f"got {text!r}") from None
        if not (x > 0 and math.isfinite(x)):
            raise argparse.ArgumentTypeError(f"{what} must be positive, got {text!r}")
        return x
    return parse


def _nonneg_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (x >= 0 and math.isfinite(x)):
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return x


def cmd_train(args: argparse.Namespace) -> int:
    hidden = _hidden(args.hidden)
    if args.save:
        _out_path(args.save, ("json",), "--save")
    if args.plot:
        _out_path(args.plot, ("png", "svg", "pdf"), "--plot")
    result = _train(args.dataset, hidden, steps=args.steps, optimizer=args.optimizer,
                    lr=args.lr, batch_size=args.batch_size, loss=args.loss,
                    seed=args.seed, samples=args.samples, noise=args.noise,
                    activation=args.activation, l2=args.l2,
                    progress=not args.no_progress, compile=args.compile)
    model, X, y, history, seconds = result
    print(f"trained {_describe_model(model)} on {args.dataset} ({len(X)} points) "
          f"for {len(history)} steps in {seconds:.1f} s")
    print(f"loss {history.loss[0]:.4f} -> {history.loss[-1]:.4f}, "
          f"final accuracy {history.accuracy[-1]:.1%}")
    if args.save:
        model.save(args.save)
        print(f"wrote {args.save}")
    if args.plot:
        _plot_boundary(model, X, y, history, args.plot,
                       title=f"{args.dataset}: accuracy {history.accuracy[-1]:.0%}")
        print(f"wrote {args.plot}")
    return 0


def _train(dataset: str, hidden: List[int], *, steps: int, optimizer: str, lr: float,
           batch_size: Optional[int], loss: Optional[str], seed: int, samples: int,
           noise: Optional[float], activation: str, l2: float, progress: bool,
           compile: bool):
    import numpy as np
    import nn
    from nn import datasets
    kwargs = {"seed": seed}
    if dataset == "spiral":
        kwargs["n_per_class"] = max(2, samples // 3)
    else:
        kwargs["n"] = samples
    if noise is not None:
        kwargs["std" if dataset == "blobs" else "noise"] = noise
    loss = loss or ("ce" if dataset in ("spiral", "blobs") else "hinge")
    if loss == "hinge":
        kwargs["labels"] = "pm1"
    try:
        X, y = datasets.load(dataset, **kwargs)
    except ValueError as e:
        if "pm1" in str(e):
            raise CLIError(f"--loss {loss} is for two classes; {dataset} has more "
                           f"(use --loss ce)") from None
        raise CLIError(f"--dataset {dataset}: {e}") from None
    classes = len(np.unique(y))
    if loss == "bce" and classes > 2:
        raise CLIError(f"--loss bce is for two classes; {dataset} has {classes} "
                       f"(use --loss ce)")
    nout = classes if loss == "ce" else 1
    model = nn.MLP(X.shape[1], hidden + [nout], activation=activation, seed=seed)
    opt = {"sgd": nn.optim.SGD, "adam": nn.optim.Adam}[optimizer](model.parameters(), lr=lr)
    loss = {"hinge": "hinge", "bce": "bce_with_logits", "ce": "cross_entropy"}[loss]
    t0 = time.perf_counter()
    try:
        history = nn.fit(model, X, y, loss=loss, optimizer=opt, batch_size=batch_size,
                         l2=l2, seed=seed, steps=steps, progress=progress, compile=compile)
    except RuntimeError as e:  # e.g. --compile without the compiled tape
        raise CLIError(" ".join(str(e).split())) from None
    return model, X, y, history, time.perf_counter() - t0


def _describe_model(model) -> str:
    sizes = [model.nin] + [len(layer.neurons) for layer in model.layers]
    return "MLP " + "-".join(str(s) for s in sizes)


def _plot_boundary(model, X, y, history, path: str, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from . import plot_decision_boundary, plot_history
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    plot_decision_boundary(model, X, y, ax=ax1)
    ax1.set_title(title)
    plot_history(history, ax=ax2)
    fig.tight_layout()
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    try:
        atomic_write(path, lambda f: fig.savefig(f, format=fmt), binary=True)
    finally:
        plt.close(fig)


# --- demo ----------------------------------------------------------------------------------

def cmd_demo(args: argparse.Namespace) -> int:
    out = args.out
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise CLIError(f"--out {out!r}: cannot create the folder: {e.strerror or e}") from None
    f, inputs = sigmoid_circuit()
    f.backward()
    print(f"f(w, x) = {SIGMOID_EXPR} = {f.data:.4f}")
    for v in inputs:
        print(f"  {v.label:>3} = {v.data:5.2f}   df/d{v.label} = {v.grad:+.4f}")
    written: List[Tuple[str, str]] = []
    try:
        from .demo import write_demo
    except ImportError:
        write_demo = None
    if write_demo is not None:
        files = write_demo(out)
        for path in (files.values() if isinstance(files, dict) else files or []):
            written.append((str(path), _DEMO_CAPTIONS.get(os.path.basename(str(path)), "")))
    try:
        import nn  # noqa: F401
        have_nn = hasattr(nn, "fit")
    except ImportError:
        have_nn = False
    if have_nn:
        model, X, y, history, seconds = _train(
            "moons", [8, 8], steps=args.steps, optimizer="adam", lr=0.05, batch_size=None,
            loss="hinge", seed=1, samples=100, noise=None, activation="relu", l2=1e-4,
            progress=False, compile=False)
        print(f"trained {_describe_model(model)} on moons for {len(history)} steps "
              f"in {seconds:.1f} s: loss {history.loss[-1]:.4f}, "
              f"accuracy {history.accuracy[-1]:.0%}")
        model_path = os.path.join(out, "moons-model.json")
        model.save(model_path)
        written.append((model_path, "the trained model (load with nn.MLP.load)"))
        plot_path = os.path.join(out, "moons-boundary.png")
        _plot_boundary(model, X, y, history, plot_path,
                       title=f"moons: accuracy {history.accuracy[-1]:.0%}")
        written.append((plot_path, "its decision boundary and loss curve"))
    if written:
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
    parser = _Parser(prog="gradwire", description=(
        "See backpropagation: draw a formula's graph with its gradients, explain each "
        "chain-rule step, train a tiny MLP."))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    from autodiff import ops

    def formula_args(p: argparse.ArgumentParser) -> None:
        """The formula and its --set values, shared by render and explain."""
        p.add_argument("expr", metavar="EXPR", help=(
            "formula using numbers, names, + - * / **, parentheses and "
            f"{' '.join(op.name for op in ops.UNARY)}, e.g. \"{SIGMOID_EXPR}\""))
        p.add_argument("--set", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                       help="give each variable its value: --set w0=2 x0=-1 (every name "
                            "the expression uses needs one; setting a name it does not "
                            "use is an error)")

    p = sub.add_parser("render", help="draw a formula's graph with values and gradients",
                       description="Evaluate a formula, run backward, print each input's "
                                   "gradient and draw the graph.")
    formula_args(p)
    p.add_argument("-o", "--output", metavar="FILE",
                   help=f"diagram file ({', '.join('.' + f for f in DIAGRAM_FORMATS)}); "
                        f"parent folders are created")
    p.add_argument("--style", choices=("circuit", "record"), default="circuit",
                   help="circuit: gates on wires as in the lecture (default); "
                        "record: one box per node with data | grad")
    p.add_argument("--steps", metavar="FILE.html",
                   help="also write a page that steps through forward and backward")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("explain", help="print the forward and backward steps",
                       description="Print each forward step and each backward step with "
                                   "its local derivative and chain-rule product.")
    formula_args(p)
    p.add_argument("--precision", type=int, choices=range(0, 9), default=2, metavar="N",
                   help="digits after the point (0-8, default 2, as in the lecture)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("train", help="train a small MLP on a toy dataset",
                       description="Train an MLP on a 2-D toy dataset with a progress bar; "
                                   "print the final loss and accuracy.")
    p.add_argument("--dataset", choices=DATASETS, default="moons", help="(default: moons)")
    p.add_argument("--samples", type=_positive(int, "--samples"), default=100, metavar="N",
                   help="number of points (default 100)")
    p.add_argument("--noise", type=_nonneg_float, default=None,
                   help="dataset noise (default: the dataset's own)")
    p.add_argument("--hidden", default="16,16", metavar="N,N,...",
                   help="hidden layer sizes (default 16,16; '' for a linear model)")
    p.add_argument("--activation", choices=("relu", "tanh", "sigmoid"), default="relu",
                   help="hidden activation (default relu)")
    p.add_argument("--steps", type=_positive(int, "--steps"), default=100,
                   help="optimizer steps (default 100)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd",
                   help="(default sgd)")
    p.add_argument("--lr", type=_positive(float, "--lr"), default=None,
                   help="learning rate (default 0.1 for sgd, 0.01 for adam)")
    p.add_argument("--batch-size", type=_positive(int, "--batch-size"), default=None,
                   metavar="N", help="mini-batch size (default: the whole dataset; 1 for SGD)")
    p.add_argument("--loss", choices=("hinge", "bce", "ce"), default=None,
                   help="hinge or bce for two classes, ce (softmax cross-entropy) for any; "
                        "default hinge, or ce when there are more than two classes")
    p.add_argument("--l2", type=_nonneg_float, default=1e-4,
                   help="L2 regularization strength (default 1e-4)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--compile", action="store_true",
                   help="use the compiled (vectorized) objective: same gradients, faster")
    p.add_argument("--save", metavar="FILE.json", help="save the trained model as JSON")
    p.add_argument("--plot", metavar="FILE",
                   help="save the decision boundary and loss curve (.png, .svg, .pdf)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("demo", help="write the lecture's pictures and a trained model",
                       description="Render the sigmoid circuit (circuit and record style), "
                                   "the step-by-step page and the network view, train a "
                                   "tiny MLP on moons, and print where every file is.")
    p.add_argument("--out", default="out", help="folder for the files (default: out)")
    p.add_argument("--steps", type=_positive(int, "--steps"), default=50,
                   help="training steps for the moons model (default 50)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (0, or 2 after a one-line error)."""
    try:
        args = _parser().parse_args(argv)
        if getattr(args, "command", None) == "train" and args.lr is None:
            args.lr = 0.1 if args.optimizer == "sgd" else 0.01
        return args.func(args)
    except SystemExit as e:  # --help (0) or argparse giving up
        return e.code if isinstance(e.code, int) else 2
    except CLIError as e:
        print(f"gradwire: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradwire: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        where = f" {e.filename!r}" if getattr(e, "filename", None) else ""
        print(f"gradwire: error: cannot write{where}: {e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
