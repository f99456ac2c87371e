"""Subprocesses a test starts, ended by their pid when it is done."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import TracebackType


class Processes:
    """Every subprocess the test started; `close()` kills, by pid, those still running."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], out: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with out.open("ab") as sink:
            process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL
            )
        self.started.append(process)
        return process

    def close(self) -> None:
        for process in reversed(self.started):  # the runs before the exchange they use
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
