"""An SMTP server that keeps every message it receives: aiosmtpd (from the
test requirements) with its Mailbox handler, which writes a Maildir."""

import mailbox
import re
import sys
from email.header import decode_header, make_header
from pathlib import Path

from .processes import Process, free_port, port_open, wait_until


class SmtpSink(Process):
    def __init__(self, base: Path, host: str = "127.0.0.1", port: int | None = None):
        self.base = base
        self.host = host
        self.port = port or free_port(host)
        self.maildir = base / "maildir"
        self.log = base / "smtp.log"

    def start(self) -> "SmtpSink":
        self.base.mkdir(parents=True, exist_ok=True)
        self.launch(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{self.host}:{self.port}"]
            + ["-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)],
            self.log,
            lambda: port_open(self.host, self.port),
            30,
            "SMTP sink",
        )
        return self

    def messages(self) -> list:
        """Every message received so far, oldest first."""
        if not (self.maildir / "new").exists():
            return []
        box = mailbox.Maildir(self.maildir, create=False)
        return [box[key] for key in sorted(box.keys(), key=arrival)]

    def wait_for(self, predicate, timeout: float = 30, what: str = "a message") -> list:
        """The messages that satisfy predicate, once there is at least one."""
        return wait_until(
            lambda: [message for message in self.messages() if predicate(message)],
            timeout,
            what,
            interval=0.2,
            process=self.process,
            log=self.log,
        )

    @property
    def settings(self) -> dict[str, str]:
        """The project's e-mail variables that send through this server."""
        return {"EMAIL_HOST": self.host, "EMAIL_PORT": str(self.port), "EMAIL_USE_TLS": "0"}


def arrival(key: str) -> tuple[int, int, int]:
    """When a message arrived, from its Maildir name SECONDS.M<MICROSECONDS>P<PID>Q<COUNT>.HOST."""
    seconds, microseconds, count = re.match(r"(\d+)\.M(\d+)P\d+Q(\d+)", key).groups()
    return int(seconds), int(microseconds), int(count)


def subject(message) -> str:
    """The Subject header, decoded and unfolded (long ones come in lines)."""
    return re.sub(r"\r?\n(?=[ \t])", "", str(make_header(decode_header(message["Subject"]))))


def body(message) -> str:
    """The text of a message (its first text/plain part)."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return ""
