"""Named crash points: every durable step can be made the instant a test kills the process.

A test arms one point through the environment, `QTC_CRASH_AT=<name>` or `<name>:<n>` (die on
the n-th hit, default the first); the process then ends there with `os._exit(CRASH_EXIT)`, as
abruptly as SIGKILL (no flush, no cleanup, no atexit). `QTC_CRASH_TRACE=<file>` appends the
name of every point hit to that file, so a harness can list which points a scenario reaches.
Unarmed, a point costs one attribute read.
"""

from __future__ import annotations

import os
import threading

CRASH_EXIT = 86

# Every point. A harness walks them all; `crash_point` refuses
# names not declared here so that a new write point cannot be forgotten by the harness.
POINTS: tuple[str, ...] = (
    # whole-line appends: before the bytes, after the write, after the fsync (before the ack)
    *(
        f"{file}.{step}"
        for file in ("intents", "trades", "history", "errors", "journal", "requests_log")
        for step in ("before_append", "written", "synced")
    ),
    # atomic rewrites: temp file written and fsynced, then renamed into place
    *(
        f"{file}.{step}"
        for file in ("pending", "run_state", "keys", "active")
        for step in ("tmp_written", "renamed")
    ),
    # a strategy version: its temporary folder written and fsynced, then renamed into place
    "strategy_version.tmp_written",
    "strategy_version.renamed",
    # broker calls: just before the request, just after its answer
    "broker.submit.before",
    "broker.submit.after",
    "broker.cancel.before",
    "broker.cancel.after",
)
_DECLARED = frozenset(POINTS)


class _Armed:
    """The armed point, read once from the environment."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.nth = 1
        self.hits = 0
        self.trace: str | None = os.environ.get("QTC_CRASH_TRACE") or None
        self.lock = threading.Lock()
        raw = os.environ.get("QTC_CRASH_AT")
        if raw:
            name, _, nth = raw.partition(":")
            if name not in _DECLARED:
                raise ValueError(f"QTC_CRASH_AT names an unknown crash point {name!r}")
            self.name = name
            self.nth = int(nth) if nth else 1

    @property
    def active(self) -> bool:
        return self.name is not None or self.trace is not None


_armed = _Armed()


def crash_point(name: str) -> None:
    """Die here if a test armed `name` (and this is its n-th hit); trace it if asked."""
    if not _armed.active:
        return
    if name not in _DECLARED:
        raise ValueError(f"undeclared crash point {name!r}")
    with _armed.lock:
        if _armed.trace is not None:
            with open(_armed.trace, "a", encoding="utf-8") as f:
                f.write(name + "\n")
        if name == _armed.name:
            _armed.hits += 1
            if _armed.hits >= _armed.nth:
                os._exit(CRASH_EXIT)


def rearm() -> None:
    """Read the environment again (for tests that set it in-process)."""
    global _armed
    _armed = _Armed()
