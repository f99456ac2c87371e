"""Errors of the store: a durable file that cannot be read."""

from __future__ import annotations

from pathlib import Path


class CorruptFile(Exception):
    """A line of a file QTC must read whole (the ledger) cannot be read: the start stops here,
    naming the file and the line, rather than silently moving money."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path} line {line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason
