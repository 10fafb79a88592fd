"""Error e-mail to ADMINS: without secrets, and never a flood.

Django's AdminEmailHandler mails every error it is given, from the thread
that hit it: when the database goes away, each failed request would send a
message and wait for the SMTP server. This handler mails the first error of
each kind (exception type and the line that raised it) at once, then at most
one per ERROR_MAIL_INTERVAL seconds in this process, and says in the next
subject how many it held back. Secrets are cut out of subject and text
(scrubbing.py), such as a password in an exception's message.
"""

import copy
import logging
import time

from django.conf import settings
from django.utils.log import AdminEmailHandler

from .scrubbing import known_secrets, scrub

# Kinds remembered at most; past that the memory starts again.
MAX_KINDS = 1000


def error_kind(record: logging.LogRecord) -> tuple:
    """What makes two errors "the same": the exception's type and the line
    that raised it, or the logger and message template without one."""
    error = record.exc_info[1] if record.exc_info else None
    if error is None:
        return (record.name, str(record.msg))
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = (frame.tb_frame.f_code.co_filename, frame.tb_lineno) if frame else ()
    return (type(error).__module__, type(error).__qualname__, *where)


class ThrottledAdminEmailHandler(AdminEmailHandler):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.last_sent: dict[tuple, float] = {}
        self.held_back: dict[tuple, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        # logging.Handler.handle() holds the handler's lock around emit():
        # one thread at a time gets here.
        kind = error_kind(record)
        now = time.monotonic()
        last = self.last_sent.get(kind)
        if last is not None and now - last < getattr(settings, "ERROR_MAIL_INTERVAL", 600):
            self.held_back[kind] = self.held_back.get(kind, 0) + 1
            return
        if len(self.last_sent) >= MAX_KINDS:
            self.last_sent.clear()
            self.held_back.clear()
        self.last_sent[kind] = now
        held = self.held_back.pop(kind, 0)
        if held:
            record = copy.copy(record)
            record.msg = f"{record.getMessage()} (and {held} more like it, not mailed)"
            record.args = None
        super().emit(record)

    def send_mail(self, subject, message, *args, **kwargs) -> None:
        secrets = known_secrets()
        if kwargs.get("html_message"):
            kwargs["html_message"] = scrub(kwargs["html_message"], secrets)
        super().send_mail(scrub(subject, secrets), scrub(message, secrets), *args, **kwargs)
