"""Keep the API token out of every log line, whoever logs it (httpx, Twisted, us)."""

from __future__ import annotations

import logging

MASK = "***"


class RedactingFilter(logging.Filter):
    """Replaces the secret in a record's formatted message."""

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        if self.secret in message:
            record.msg = message.replace(self.secret, MASK)
            record.args = None
        if record.exc_text and self.secret in record.exc_text:
            record.exc_text = record.exc_text.replace(self.secret, MASK)
        return True


def install_redaction(secret: str) -> None:
    """Attach the filter to every handler of the root logger (handlers see all records)."""
    if len(secret) < 4:
        return
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) and f.secret == secret for f in handler.filters):
            handler.addFilter(RedactingFilter(secret))
