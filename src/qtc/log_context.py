"""The minute being processed, for log records: set by the orchestrator, read by the log setup."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime

# a context variable, not a global: each task sees the minute of the code that started it
current_minute: ContextVar[datetime | None] = ContextVar("qtc_current_minute", default=None)
