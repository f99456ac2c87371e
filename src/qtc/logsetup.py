"""Where log records go: a queue in front of the file and console handlers, as text or JSON."""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import queue
from collections.abc import Sequence
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener, RotatingFileHandler
from pathlib import Path
from typing import Any

from qtc.log_context import current_minute

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s [%(levelname)s] %(name)s: %(message)s"
FIELDS = ("team", "order_id", "minute")  # JSON fields a record carries when it concerns them
ACCESS_LOGGER = "qtc.api.access"
_NOISY = ("uvicorn.error", "websockets", "asyncio")


def add_log_arguments(parser: argparse.ArgumentParser, *, quiet: bool = True) -> None:
    """--log-level, --log-format and (for a run with a status line) --quiet."""
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        help="lowest level logged (default INFO, or QTC_LOG_LEVEL)",
    )
    parser.add_argument(
        "--log-format",
        type=str.lower,
        choices=LOG_FORMATS,
        help="text (default) or json: one JSON object a line",
    )
    if quiet:
        parser.add_argument(
            "--quiet",
            action="store_true",
            help="the console shows only the status line, warnings and errors "
            "(the log file still gets every line)",
        )


class JsonFormatter(logging.Formatter):
    """One JSON object a line: timestamp (UTC ISO), level, logger, message, and the fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value.isoformat() if isinstance(value, datetime) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def make_formatter(log_format: str, text_format: str = TEXT_FORMAT) -> logging.Formatter:
    """The formatter of `log_format` ("text" keeps the lines word for word; "json")."""
    if log_format == "json":
        return JsonFormatter()
    if log_format != "text":
        raise ValueError(f"log format must be one of {LOG_FORMATS}, got {log_format!r}")
    return logging.Formatter(text_format)


def level_number(level: str | int) -> int:
    """`"INFO"` -> logging.INFO; refuses names outside LOG_LEVELS."""
    if isinstance(level, int):
        return level
    name = level.upper()
    if name not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    return int(logging.getLevelName(name))


class _MinuteField(logging.Filter):
    """Stamps a record with the minute being processed (unless the call site gave one).

    Runs in the logging thread, before the record is queued: the context is the caller's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "minute", None) is None:
            minute = current_minute.get()
            if minute is not None:
                record.minute = minute
        return True


class _OnlyAccess(logging.Filter):
    def __init__(self, wanted: bool) -> None:
        super().__init__()
        self.wanted = wanted

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith(ACCESS_LOGGER) == self.wanted


class LogPipeline:
    """The queue every record goes through, and the listener thread that writes it out.

    `stop()` drains the queue (no line is lost) and then attaches the handlers directly, so
    that whatever is logged after shutdown still lands."""

    def __init__(self, handlers: Sequence[logging.Handler], loggers: Sequence[logging.Logger]):
        self.handlers = list(handlers)
        self.loggers = list(loggers)
        self._queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._front = QueueHandler(self._queue)
        self._front.addFilter(_MinuteField())
        self._listener = QueueListener(self._queue, *self.handlers, respect_handler_level=True)
        self._running = False

    def start(self) -> LogPipeline:
        for logger in self.loggers:
            logger.addHandler(self._front)
        self._listener.start()
        self._running = True
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Write out every queued record, then log synchronously from here on (idempotent)."""
        if not self._running:
            return
        self._running = False
        atexit.unregister(self.stop)
        self._listener.stop()
        for logger in self.loggers:
            logger.removeHandler(self._front)
            for handler in self.handlers:
                logger.addHandler(handler)
        for handler in self.handlers:
            handler.flush()


def _clear(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def setup_logging(
    handlers: Sequence[logging.Handler],
    *,
    level: str | int = "INFO",
    access_handler: logging.Handler | None = None,
) -> LogPipeline:
    """Route the root logger (and the API's access log, to a file of its own) through a queue
    to `handlers`, at `level`. Returns the running pipeline; stop it at shutdown."""
    number = level_number(level)  # refused before anything changes
    root = logging.getLogger()
    _clear(root)
    root.setLevel(number)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    outputs = list(handlers)
    loggers = [root]
    if access_handler is not None:
        # one line per API request would drown the orchestrator's log: a file of its own
        access = logging.getLogger(ACCESS_LOGGER)
        access.propagate = False
        _clear(access)
        for handler in outputs:
            handler.addFilter(_OnlyAccess(False))
        access_handler.addFilter(_OnlyAccess(True))
        outputs.append(access_handler)
        loggers.append(access)
    return LogPipeline(outputs, loggers).start()


def rotating_file(path: Path, log_format: str, backups: int = 5) -> logging.Handler:
    """A size-rotated log file in `log_format` (its folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=20_000_000, backupCount=backups)
    handler.setFormatter(make_formatter(log_format))
    return handler
