"""`make bench`: run every benchmarks/bench_*.py and print our figures beside the peers'
(micrograd, PyTorch, numpy) measured in the same run, as ratios (peer / ours: above 1 means
gradwire is faster or smaller).  `--quick` runs fewer steps; `--only NAME` one module."""
from __future__ import annotations

import argparse
import importlib
import pathlib
import platform
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def _fmt(x: float, bench: str) -> str:
    if "(s/step)" in bench or bench.endswith("(s)"):
        return f"{x * 1e3:10.3f} ms"
    return f"{x:10.1f}   "


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer steps, rougher figures")
    ap.add_argument("--only", help="run one module, e.g. engine, nn, tape, compiled")
    args = ap.parse_args(argv)
    mods = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        mods = [m for m in mods if m == f"bench_{args.only}"]
        if not mods:
            ap.error(f"no benchmarks/bench_{args.only}.py")
    print(f"gradwire benchmarks  {time.strftime('%Y-%m-%d %H:%M')}  "
          f"Python {platform.python_version()}  {platform.machine()}")
    print(f"{'benchmark':48} {'gradwire':>13}  {'peer':>10} {'peer figure':>13} {'ratio':>8}")
    for name in mods:
        rows = importlib.import_module(name).run(quick=args.quick)
        for r in rows:
            if not r["peers"]:  # nothing to compare with: our figure alone
                print(f"{r['bench'][:48]:48} {_fmt(r['ours'], r['bench'])}")
            first = True
            for peer, val in r["peers"].items():
                ratio = val / r["ours"] if r["ours"] else float("inf")
                lead = f"{r['bench'][:48]:48} {_fmt(r['ours'], r['bench'])}" if first \
                    else " " * 62
                print(f"{lead}  {peer:>10} {_fmt(val, r['bench'])} {ratio:7.1f}x")
                first = False
            if r.get("note"):
                print(f"    {r['note']}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
