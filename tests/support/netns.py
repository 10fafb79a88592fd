"""A network namespace of the test's own: only its loopback, so servers in it
may take the ports a scanner expects (80, 443), and a private /etc/hosts that
sends the site's names there. A sleeping process holds the namespaces;
commands enter them with nsenter and are stopped by their own pid."""

import subprocess
from pathlib import Path

from .binaries import require
from .processes import Process


class NetworkNamespace(Process):
    def __init__(self, base: Path, names: list[str], lifetime_seconds: int = 1800):
        self.base = base
        self.names = names
        self.lifetime_seconds = lifetime_seconds
        self.log = base / "holder.log"

    def start(self) -> "NetworkNamespace":
        self.base.mkdir(parents=True, exist_ok=True)
        hosts = self.base / "hosts"
        hosts.write_text(f"127.0.0.1 localhost {' '.join(self.names)}\n::1 localhost\n")
        ready = self.base / "ready"
        script = (
            f"{require('ip')} link set lo up && mount --bind {hosts} /etc/hosts && touch {ready} "
            f"&& exec sleep {self.lifetime_seconds}"
        )
        command = [require("unshare"), "--net", "--mount", "--propagation", "private", "sh", "-c", script]
        self.launch(command, self.log, ready.exists, 10, "network namespace")
        return self

    def command(self, args: list[str]) -> list[str]:
        """args, run inside the namespaces (nsenter execs them: same pid)."""
        return [require("nsenter"), "--target", str(self.process.pid), "--net", "--mount", "--", *args]

    def run(self, args: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(args), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
