"""The rendered monitoring files (deploy/monitoring/, use_monitoring: true)
checked with the field's own tools, and run for real: Prometheus,
Alertmanager and the exporters from Debian's packages.

The rendered files are written for the compose network: services by name
(web, nginx, alertmanager, ...) on fixed ports, the metrics token in
/run/secrets. Tests give every service its own loopback address and run
the programs that look names up (Prometheus, blackbox-exporter) in a mount
namespace of their own, whose /etc/hosts names those addresses and whose
/etc/prometheus and /run/secrets hold the test's files: the rendered files
run unchanged."""

import json
import random
import re
import shlex
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from .binaries import require  # noqa: F401 - tests call monitoring.require

MONITORING_DIR = Path("deploy/monitoring")
# The programs of Debian's packages (bin/setup installs them).
PROMETHEUS = "prometheus"
PROMTOOL = "promtool"
ALERTMANAGER = "prometheus-alertmanager"
AMTOOL = "amtool"
NODE_EXPORTER = "prometheus-node-exporter"
POSTGRES_EXPORTER = "prometheus-postgres-exporter"
BLACKBOX_EXPORTER = "prometheus-blackbox-exporter"


def run(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120, **kwargs)


def alert_names(rules_file: Path) -> list[str]:
    groups = yaml.safe_load(rules_file.read_text())["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule]


def in_mount_namespace(command: list[str], *, hosts: Path | None = None, run_secrets: Path | None = None) -> list[str]:
    """command, run in a mount namespace of its own whose /etc/hosts is
    `hosts` and whose /run/secrets is `run_secrets` (on an empty /run, so
    that the host needs no mount point). unshare execs: the pid stays."""
    steps = []
    if run_secrets is not None:
        steps += [
            "mount -t tmpfs tmpfs /run",
            "mkdir /run/secrets",
            f"mount --bind {shlex.quote(str(run_secrets))} /run/secrets",
        ]
    if hosts is not None:
        steps.append(f"mount --bind {shlex.quote(str(hosts))} /etc/hosts")
    script = " && ".join([*steps, 'exec "$@"'])
    return [require("unshare"), "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command]


def secrets_dir(base: Path, metrics_token: str) -> Path:
    """What docker-compose.prod.yml gives Prometheus in /run/secrets."""
    secrets = base / "run-secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "metrics_token").write_text(metrics_token)
    return secrets


def problems(project: Path, alertmanager_config: Path, workdir: Path) -> list[str]:
    """promtool, amtool and blackbox-exporter on the rendered files; every
    alert has a unit test and a runbook entry. alertmanager_config: the file
    `manage.py alertmanager_config` wrote for this render."""
    directory = project / MONITORING_DIR
    found = []
    checks = [
        [require(PROMTOOL), "check", "rules", str(directory / "alerts.yml")],
        [require(PROMTOOL), "test", "rules", str(directory / "alerts.test.yml")],
        in_mount_namespace(
            [require(PROMTOOL), "check", "config", str(directory / "prometheus.yml")],
            run_secrets=secrets_dir(workdir, "token"),
        ),
        [require(AMTOOL), "check-config", str(alertmanager_config)],
        [require(BLACKBOX_EXPORTER), "--config.check", f"--config.file={directory / 'blackbox.yml'}"],
    ]
    for command in checks:
        result = run(command)
        if result.returncode != 0:
            found.append(f"{' '.join(command[-3:])}: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    names = alert_names(directory / "alerts.yml")
    tested = alert_names_tested(directory / "alerts.test.yml")
    found += [f"alerts.test.yml has no test that {name} fires" for name in names if name not in tested]
    runbook = (project / "docs" / "deployment.md").read_text()
    found += [f"docs/deployment.md does not explain {name}" for name in names if f"`{name}`" not in runbook]
    return found


def alert_names_tested(test_file: Path) -> set[str]:
    """Alerts that some unit test expects to fire."""
    tests = yaml.safe_load(test_file.read_text())["tests"]
    return {case["alertname"] for test in tests for case in test["alert_rule_test"] if case.get("exp_alerts")}


def loopback_block() -> str:
    """A random 127.x.y. prefix whose addresses have the rendered ports free:
    servers of other tests on this host bind 127.0.0.1 and free ports."""
    for _ in range(20):
        prefix = f"127.{random.randint(64, 250)}.{random.randint(1, 250)}."
        try:
            with socket.socket() as sock:
                sock.bind((prefix + "1", 9090))
            return prefix
        except OSError:
            continue
    raise RuntimeError("no free 127.x.y.0/24 block found")


def hosts_file(path: Path, addresses: dict[str, str]) -> Path:
    path.write_text("".join(f"{address} {name}\n" for name, address in addresses.items()))
    return path


def query(prometheus: str, promql: str) -> list[dict]:
    """The result of an instant query to Prometheus's HTTP API."""
    url = f"http://{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        data = json.load(response)
    assert data["status"] == "success", data
    return data["data"]["result"]


def firing_alerts(alertmanager: str) -> list[dict]:
    with urllib.request.urlopen(f"http://{alertmanager}/api/v2/alerts?active=true", timeout=5) as response:
        return [alert for alert in json.load(response) if alert["status"]["state"] == "active"]


def shortened(text: str, seconds: int) -> str:
    """A rules or Alertmanager file whose waiting times (for:, group_wait...)
    are cut to `seconds`: tests may not wait minutes. Nothing else changes."""
    return re.sub(
        r"^(\s*(?:for|group_wait|group_interval|repeat_interval): )\S+$", rf"\g<1>{seconds}s", text, flags=re.M
    )


def runbook_queries(project: Path) -> list[str]:
    """The queries of the runbook's table "Queries to paste into Prometheus"."""
    runbook = (project / "docs" / "deployment.md").read_text()
    table = runbook[runbook.index("### Queries to paste into Prometheus") :].split("\n\n")[1]
    return [re.search(r"\| `(.+)` \|$", line).group(1).replace("\\|", "|") for line in table.splitlines()[2:]]
