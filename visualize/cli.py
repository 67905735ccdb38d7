"""The ``gradwire`` command line: ``gradwire demo`` (more subcommands to come)."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from autodiff import Value


def sigmoid_circuit():
    """The lecture's circuit f(w, x) = 1/(1+exp(-(w0*x0 + w1*x1 + w2))), values from the slides."""
    w0, x0 = Value(2.0, "w0"), Value(-1.0, "x0")
    w1, x1 = Value(-3.0, "w1"), Value(-2.0, "x1")
    w2 = Value(-3.0, "w2")
    f = 1 / (1 + (-(w0 * x0 + w1 * x1 + w2)).exp())
    f.label = "f"
    return f, [w0, x0, w1, x1, w2]


def cmd_demo(args: argparse.Namespace) -> int:
    f, inputs = sigmoid_circuit()
    f.backward()
    print(f"f(w, x) = 1/(1+exp(-(w0*x0+w1*x1+w2))) = {f.data:.4f}")
    for v in inputs:
        print(f"  {v.label:>3} = {v.data:5.2f}   df/d{v.label} = {v.grad:+.4f}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="gradwire", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="the lecture's sigmoid circuit, its values and gradients")
    p.add_argument("--out", default="out", help="folder for the files (default: out)")
    p.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
