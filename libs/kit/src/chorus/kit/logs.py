"""Logs carrying the current trace and span ids: JSON, one object per line
(production), or one readable, coloured line (development)."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from chorus.kit.tracing import current_trace_ids

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ids = current_trace_ids()
        if ids:
            entry["trace_id"], entry["span_id"] = ids
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


_COLOURS = {"DEBUG": "\x1b[2m", "INFO": "\x1b[32m", "WARNING": "\x1b[33m", "ERROR": "\x1b[31m"}
_RESET = "\x1b[0m"


class ConsoleFormatter(logging.Formatter):
    """`12:01:02.345 INFO  chorus.kit.consumer  message  key=value  trace=…`."""

    def __init__(self, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        level = record.levelname
        if self.colour:
            level = f"{_COLOURS.get(level, _COLOURS['ERROR'])}{level:<7}{_RESET}"
        else:
            level = f"{level:<7}"
        fields = [
            f"{name}={value}"
            for name, value in vars(record).items()
            if name not in _STANDARD_ATTRS and not name.startswith("_")
        ]
        ids = current_trace_ids()
        if ids:
            fields.append(f"trace={ids[0]}")
        line = "  ".join(
            [
                f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d} {level}",
                record.name,
                record.getMessage(),
                *fields,
            ]
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(service: str, level: str = "INFO", log_format: str = "json") -> None:
    """`log_format`: "json", or "console" (coloured unless NO_COLOR is set)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "console":
        handler.setFormatter(ConsoleFormatter(colour="NO_COLOR" not in os.environ))
    else:
        handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka and uvicorn are chatty at INFO, httpx logs every request there;
    # their warnings still show.
    for noisy in ("aiokafka", "uvicorn.access", "kafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
