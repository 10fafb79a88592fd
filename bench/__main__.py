"""The command line: bench/run [--rounds N] [--seconds N] [--only GROUPS] [--keep]."""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

from . import __doc__ as ABOUT
from .groups import GROUPS
from .machine import machine
from .measure import CONNECTIONS
from .report import Report
from .servers import Stack
from .stats import median


def main() -> int:
    warnings.simplefilter("ignore")  # copier warns that the working tree is dirty
    parser = argparse.ArgumentParser(
        prog="bench/run", description=ABOUT, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every cell (default 5)")
    parser.add_argument("--seconds", type=int, default=6, help="seconds of load per cell (default 6)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"groups to run, of {','.join(GROUPS)}")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (renders, logs)")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(GROUPS)
    if unknown or not 1 <= args.rounds <= 20 or not 1 <= args.seconds <= 120:
        parser.error(f"unknown groups {sorted(unknown)}, or rounds not in 1..20, or seconds not in 1..120")

    workdir = Path(tempfile.mkdtemp(prefix="obcms-bench-"))
    os.chmod(workdir, 0o755)  # PostgreSQL runs as its own user under it
    stack = Stack(workdir)
    report = Report()
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        report.add("### Machine", "", *machine(stack))
        report.add(
            "",
            f"wrk: 2 threads, {args.seconds:g} s per cell, {args.rounds} rounds, connections "
            f"{' and '.join(map(str, CONNECTIONS))}; keep-alive as each server allows.",
        )
        for name in chosen:
            print(f"\n== {name}", flush=True)
            GROUPS[name](stack, report, args)
        report.add(
            "",
            "### Noise",
            "",
            f"- req/s spread across rounds per cell (max-min over median): "
            f"{min(report.spreads, default=0):.0%} to {max(report.spreads, default=0):.0%}, "
            f"median {median(report.spreads or [0]):.0%}",
            f"- load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            f"- whole run: {(time.monotonic() - started) / 60:.1f} min",
        )
        if report.targets:
            report.add("", "### Targets", "", *(f"- {line}" for line in report.targets))
    finally:
        signal.signal(signal.SIGTERM, previous)
        stack.close()
        if args.keep:
            print(f"\nwork directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
