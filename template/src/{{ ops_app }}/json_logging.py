"""JSON log lines for log collectors (Loki, ELK, CloudWatch): LOG_FORMAT=json."""

import json
import logging
import os
import sys
from datetime import UTC, datetime

# gunicorn access log atoms worth keeping as fields (see gunicorn.conf.py).
ACCESS_FIELDS = {"r": "request", "s": "status", "b": "bytes", "M": "duration_ms", "a": "user_agent", "f": "referer"}


def entry(level: str, logger: str, message: str, created: float | None = None) -> dict:
    moment = datetime.fromtimestamp(created, UTC) if created else datetime.now(UTC)
    return {"time": moment.isoformat(timespec="milliseconds"), "level": level, "logger": logger, "message": message}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the traceback
    when there is one, and the request fields of gunicorn's access lines."""

    def format(self, record: logging.LogRecord) -> str:
        data = entry(record.levelname, record.name, record.getMessage(), record.created)
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            data["client"] = record.args.get("{x-forwarded-for}i") or record.args.get("h")
            data.update({field: record.args.get(atom) for atom, field in ACCESS_FIELDS.items()})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def say_as_json(message: str, stream=sys.__stdout__) -> None:
    """Celery writes a few shutdown notices straight to stdout from signal
    handlers (celery.apps.worker.safe_say); this writes them as JSON lines,
    with a bare os.write as Celery does (no logging locks in a signal handler)."""
    line = json.dumps(entry("WARNING", "celery.worker", message.strip())) + "\n"
    os.write(stream.fileno(), line.encode())
