"""gunicorn boot time and memory (PSS) with and without preload_app and
gc.freeze()."""

import time

from ..page import gunicorn_conf
from ..report import Report
from ..servers import Stack
from ..stats import median, median_ratio, spread
from ..wrk import wrk

MEMORY_VARIANTS = {
    "preload+freeze": ("preload_app, gc.freeze() (rendered)", ""),
    "preload": ("preload_app, no gc.freeze()", "def when_ready(server):\n    pass"),
    "no-preload": ("no preload_app", "preload_app = False"),
}


def group_memory(stack: Stack, report: Report, args) -> None:
    """Boot to the first 200, and PSS once the workers served the database
    page (no worker recycling, so every worker has served)."""
    project, venv = stack.project("default", {})
    boots: dict[str, list[float]] = {name: [] for name in MEMORY_VARIANTS}
    memory: dict[str, list[int]] = {name: [] for name in MEMORY_VARIANTS}
    names = list(MEMORY_VARIANTS)
    for number in range(max(args.rounds, 3)):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            conf = gunicorn_conf(project, name, MEMORY_VARIANTS[name][1])
            server = stack.gunicorn(
                f"memory-{name}", project, venv, "/bench/items/", conf=conf, GUNICORN_MAX_REQUESTS="0"
            ).start()
            wrk(server, 16, min(3, args.seconds))
            time.sleep(0.5)
            boots[name].append(server.boot_seconds)
            memory[name].append(server.pss_kib())
            stack.stop_servers()
            print(
                f"  round {number + 1} {name:<16} boot {server.boot_seconds:.2f} s"
                f"  PSS {memory[name][-1] / 1024:.0f} MiB",
                flush=True,
            )
    report.add(
        "", "#### gunicorn boot and memory (rendered settings; PSS after 3 s of the database page, no recycling)", ""
    )
    report.add(
        "| variant | boot to first 200, s | ratio | PSS master + workers, MiB | ratio | spread (PSS) |",
        "|---|---:|---:|---:|---:|---:|",
    )
    base = names[0]
    for name in names:
        boot_ratio = median_ratio(boots[name], boots[base])
        pss_ratio = median_ratio(memory[name], memory[base])
        report.add(
            f"| {MEMORY_VARIANTS[name][0]} | {median(boots[name]):.2f} | {boot_ratio:.2f} |"
            f" {median(memory[name]) / 1024:.0f} | {pss_ratio:.2f} | {spread(memory[name]):.0%} |"
        )
