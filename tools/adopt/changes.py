"""What changes for the owner, said before anything else: major versions of
Django and pytest, what the Content Security Policy would block in their
templates, requirements re-pinned or dropped, tests that a newer pytest
refuses."""

import ast
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .owner import python_nodes
from .requirements import Requirements, normalized

WATCHED = {"django": "Django", "pytest": "pytest", "celery": "Celery", "djangorestframework": "Django REST framework"}
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)
EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//([^/\"' >]+)", re.IGNORECASE)
EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//([^/\"' >]+)", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=\s*[\"']", re.IGNORECASE)
SCRIPT_TYPES_NOT_RUN = re.compile(r"type\s*=\s*[\"']?(text/template|text/x-template|application/(ld\+)?json)", re.I)


@dataclass
class Csp:
    files: int = 0
    inline_scripts: int = 0
    event_handlers: int = 0
    inline_styles: int = 0
    script_hosts: dict[str, int] = field(default_factory=dict)
    style_hosts: dict[str, int] = field(default_factory=dict)
    affected: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return bool(
            self.inline_scripts or self.event_handlers or self.inline_styles or self.script_hosts or self.style_hosts
        )


def scan_templates(src: Path) -> Csp:
    csp = Csp()
    for path in sorted(src.rglob("templates/**/*.html")):
        text = path.read_text(errors="replace")
        scripts = [tag for tag in INLINE_SCRIPT.findall(text) if not SCRIPT_TYPES_NOT_RUN.search(tag)]
        hosts = EXTERNAL_SCRIPT.findall(text)
        links = EXTERNAL_LINK.findall(text)
        handlers = EVENT_HANDLER.findall(text)
        styles = INLINE_STYLE.findall(text)
        csp.files += 1
        if scripts or hosts or links or handlers or styles:
            csp.affected.append(path.relative_to(src.parent).as_posix())
        csp.inline_scripts += len(scripts)
        csp.event_handlers += len(handlers)
        csp.inline_styles += len(styles)
        for host in hosts:
            csp.script_hosts[host] = csp.script_hosts.get(host, 0) + 1
        for host in links:
            csp.style_hosts[host] = csp.style_hosts.get(host, 0) + 1
    return csp


def installed(python: Path) -> dict[str, str]:
    result = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return {}
    return {normalized(item["name"]): item["version"] for item in json.loads(result.stdout)}


def major(version: str) -> str:
    return version.split(".")[0]


def version_changes(before: dict[str, str], pins: dict[str, str]) -> list[str]:
    lines = []
    for name, label in WATCHED.items():
        old, pin = before.get(name), pins.get(name, "")
        new = pin.split("==", 1)[1] if "==" in pin else None
        if old and new and major(old) != major(new):
            lines.append(f"{label} {old} -> {new}: a major version; read its release notes before deploying")
        elif old and new and old.split(".")[:2] != new.split(".")[:2]:
            lines.append(f"{label} {old} -> {new}")
    return lines


def marked_fixtures(src: Path) -> list[str]:
    """Fixtures that carry marks, which pytest 9 refuses to collect."""
    found = []
    for path, node in python_nodes(src, lambda path: "test" in path.name or path.name == "conftest.py"):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            decorators = [ast.unparse(decorator) for decorator in node.decorator_list]
            if any("fixture" in text for text in decorators) and any(".mark." in text for text in decorators):
                found.append(f"{path.relative_to(src.parent).as_posix()}::{node.name}")
    return found


def up_front(
    before_versions: dict[str, str], pins: dict[str, str], requirements: Requirements, src: Path, locks: bool = False
) -> list[str]:
    lines = version_changes(before_versions, pins)
    if "pytest" in before_versions and major(before_versions["pytest"]) < "9":
        for fixture in marked_fixtures(src):
            lines.append(f"{fixture}: a fixture with a mark; pytest 9 refuses it (move the mark to the tests)")
    csp = scan_templates(src)
    if csp.blocked:
        hosts = ", ".join(f"{host} ({count})" for host, count in sorted(csp.script_hosts.items())) or "none"
        lines.append(
            f"Content Security Policy: {len(csp.affected)} of your {csp.files} templates use what it blocks: "
            f"{csp.inline_scripts} inline scripts, {csp.event_handlers} inline event handlers, "
            f"{csp.inline_styles} inline styles; external script hosts: {hosts}"
            + (f"; external stylesheet hosts: {', '.join(sorted(csp.style_hosts))}" if csp.style_hosts else "")
            + ". Deploy with CSP_REPORT_ONLY=1 first, then allow those hosts in CONTENT_SECURITY_POLICY "
            "(settings/overrides.py) and move inline code into static files"
        )
    for _, line, pin in requirements.repinned:
        lines.append(f"requirement {line} -> {pin} (the template's pin)")
    for line in requirements.dropped:
        lines.append(f"requirement dropped: {line}")
    for line in requirements.unpinned:
        lines.append(f"requirement {line} is not pinned: pin it to the version you test with")
    if requirements.carried and locks:
        lines.append(
            "your requirements are not in requirements/*.lock yet, which the image installs from: "
            "run scripts/lock-requirements.sh and commit the lock files (the image build stops until you do)"
        )
    return lines
