"""The machine a run measured on, for the head of the report: CPU, memory,
kernel, and the versions of what was loaded."""

import os
import platform
import re
import subprocess
from pathlib import Path

from support.binaries import postgres_bin, require

from .servers import Stack


def machine(stack: Stack) -> list[str]:
    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    _, venv = stack.project("default", {})
    versions = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sys, importlib.metadata as m; print(sys.version.split()[0], *(m.version(p) for p in "
            "('django', 'gunicorn', 'psycopg', 'whitenoise', 'brotli')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    def first_line(*argv: str) -> str:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        return (result.stdout or result.stderr).strip().splitlines()[0].split(" Copyright")[0]

    memory_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return [
        f"- CPU: {cpu.group(1) if cpu else platform.processor()}, {os.cpu_count()} cores "
        f"({len(os.sched_getaffinity(0))} usable); memory {memory_gib:.0f} GiB",
        f"- kernel {platform.release()}; {platform.platform(terse=True)}",
        f"- project Python {versions[0]}; Django {versions[1]}, gunicorn {versions[2]}, psycopg {versions[3]}, "
        f"whitenoise {versions[4]}, brotli {versions[5]}",
        f"- {first_line(postgres_bin('postgres'), '--version')}; "
        f"{' '.join(first_line(require('redis-server'), '--version').split()[:3])}",
        f"- {first_line(require('nginx'), '-v')}; {first_line(require('wrk'), '-v')}; "
        f"{first_line(require('pgbouncer'), '--version')}",
        f"- load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]
