"""The two log formats: JSON for a pipeline, one readable line for a person."""

from __future__ import annotations

import json
import logging

from chorus.kit.logs import ConsoleFormatter, JsonFormatter
from chorus.kit.settings import Environment, ServiceSettings


def record(message: str, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord(
        "chorus.kit.consumer", logging.WARNING, "f.py", 1, message, None, None
    )
    for name, value in extra.items():
        setattr(entry, name, value)
    return entry


def test_json_is_one_object_with_the_extra_fields() -> None:
    line = JsonFormatter("content").format(record("lag is high", group="content"))
    entry = json.loads(line)
    assert (entry["level"], entry["service"], entry["message"], entry["group"]) == (
        "warning",
        "content",
        "lag is high",
        "content",
    )


def test_console_is_one_readable_line_coloured_on_request() -> None:
    plain = ConsoleFormatter(colour=False).format(record("lag is high", group="content"))
    assert "\n" not in plain and "\x1b[" not in plain
    assert "WARNING" in plain and "chorus.kit.consumer" in plain
    assert plain.endswith("lag is high  group=content")
    coloured = ConsoleFormatter(colour=True).format(record("lag is high"))
    assert "\x1b[33mWARNING" in coloured


def test_development_reads_console_and_everything_else_json() -> None:
    assert ServiceSettings().resolved_log_format == "console"
    assert ServiceSettings(environment=Environment.TEST).resolved_log_format == "json"
    assert ServiceSettings(log_format="json").resolved_log_format == "json"
