"""How long rendering takes: the default profile, and the render matrix
the tests render."""

import shutil
import time

from support.matrix import all_pairs, answers, question_values
from support.render import render

from ..report import Report
from ..servers import Stack
from ..stats import median


def group_render(stack: Stack, report: Report, args) -> None:
    out = stack.workdir / "render-timing"
    times = []
    for number in range(max(args.rounds, 3)):
        started = time.perf_counter()
        render(out / f"default-{number}", {})
        times.append(time.perf_counter() - started)
    rows = all_pairs(question_values())
    matrix = []
    for number in range(max(1, args.rounds // 2)):
        started = time.perf_counter()
        for index, row in enumerate(rows):
            render(out / f"matrix-{number}-{index}", answers(row))
        matrix.append(time.perf_counter() - started)
    shutil.rmtree(out, ignore_errors=True)
    report.add("", "#### Rendering (copier copy in-process, as the tests render)", "")
    report.add("| what | median, s | min–max, s | ratio to one default render |", "|---|---:|---:|---:|")
    report.add(f"| default profile | {median(times):.2f} | {min(times):.2f}–{max(times):.2f} | 1.00 |")
    report.add(
        f"| render matrix, {len(rows)} profiles, render only | {median(matrix):.1f} |"
        f" {min(matrix):.1f}–{max(matrix):.1f} | {median(matrix) / median(times):.1f} |"
    )
