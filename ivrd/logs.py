"""Structured logging: every line a call writes carries its uuid, as text or JSON.

The call's uuid lives in a context variable set once when a call starts; anyio copies the
context into the tasks a call spawns, so hooks and helpers log with the uuid too without
passing it around. `configure_logging` installs one handler on the `ivrd` logger; a file
handler can be reopened (SIGHUP, for logrotate).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any, Literal, TextIO

call_uuid: ContextVar[str | None] = ContextVar("ivrd_call_uuid", default=None)
call_flow: ContextVar[str | None] = ContextVar("ivrd_call_flow", default=None)

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; anything else on a record came from `extra=` and is data.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class CallContextFilter(logging.Filter):
    """Adds `call_uuid` and `flow` from the context to records that do not carry them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "call_uuid", None) is None:
            record.call_uuid = call_uuid.get()
        if getattr(record, "flow", None) is None:
            record.flow = call_flow.get()
        return True


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD_ATTRS and key not in ("call_uuid", "flow") and value is not None
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, call_uuid, flow, and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("call_uuid", "flow"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        entry.update(_extra_fields(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`2026-11-26T06:46:15.123Z info [uuid] ivrd.engine: message key=value ...`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        uuid = getattr(record, "call_uuid", None)
        where = f" [{uuid}]" if uuid else ""
        extras = " ".join(f"{key}={value}" for key, value in _extra_fields(record).items())
        line = (
            f"{stamp}.{int(record.msecs):03d}Z {record.levelname.lower()}{where} "
            f"{record.name}: {record.getMessage()}"
        )
        if extras:
            line += f" {extras}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class ReopenableFileHandler(logging.StreamHandler[TextIO]):
    """A file handler whose file can be reopened after logrotate moved it away."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(self._open())

    def _open(self) -> TextIO:
        return open(self.path, "a", encoding="utf-8", buffering=1)

    def reopen(self) -> None:
        self.acquire()
        try:
            old = self.stream
            self.stream = self._open()
            old.close()
        finally:
            self.release()

    def close(self) -> None:
        self.acquire()
        try:
            self.stream.close()
        finally:
            self.release()
        super().close()


class LoggingSetup:
    """What `configure_logging` installed, so it can be reopened or removed."""

    def __init__(self, handler: logging.Handler, logger: logging.Logger) -> None:
        self.handler = handler
        self.logger = logger

    def reopen(self) -> None:
        if isinstance(self.handler, ReopenableFileHandler):
            self.handler.reopen()

    def remove(self) -> None:
        self.logger.removeHandler(self.handler)
        self.handler.close()


def configure_logging(
    level: str = "info",
    format: LogFormat = "text",
    file: str | None = None,
    *,
    stream: TextIO | None = None,
) -> LoggingSetup:
    """Send the `ivrd` loggers to a file or stderr, as text or JSON lines."""
    handler: logging.Handler
    handler = ReopenableFileHandler(file) if file else logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if format == "json" else TextFormatter())
    handler.addFilter(CallContextFilter())
    logger = logging.getLogger("ivrd")
    logger.setLevel(level.upper())
    logger.addHandler(handler)
    logger.propagate = False
    return LoggingSetup(handler, logger)
