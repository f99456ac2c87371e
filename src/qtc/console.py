"""What `qtc run` shows a person: logging setup, the live status line and the final summary."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from qtc.logsetup import TEXT_FORMAT, LogPipeline, level_number, make_formatter, rotating_file
from qtc.logsetup import setup_logging as setup_logging_to

LOG_FORMAT = TEXT_FORMAT


def setup_logging(
    log_file: Path,
    console: Console,
    level: str | int = "INFO",
    *,
    quiet: bool = False,
    log_format: str = "text",
) -> LogPipeline:
    """Log to a rotated file and to the terminal (above the live status line), through a queue
    so that no minute waits on log I/O. `quiet`: the terminal shows only warnings and errors
    (the file still gets every line at `level`). Stop the returned pipeline at shutdown."""
    file_handler = rotating_file(log_file, log_format)
    terminal: logging.Handler
    if log_format == "json":
        terminal = logging.StreamHandler(sys.stderr)
        terminal.setFormatter(make_formatter(log_format))
    else:
        terminal = RichHandler(console=console, show_path=False, rich_tracebacks=False)
    terminal.setLevel(max(level_number(level), logging.WARNING) if quiet else level_number(level))
    # lines the console already shows in their own words
    terminal.addFilter(lambda record: getattr(record, "terminal", True))
    access = rotating_file(log_file.with_name("qtc-api-access.log"), log_format, backups=3)
    return setup_logging_to([file_handler, terminal], level=level, access_handler=access)


def startup_error(console: Console, message: str) -> int:
    """Why the run cannot start: one `error: ...` line on the console and in the log; exit 2."""
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    if logging.getLogger().handlers:  # before setup_logging there is no log file yet
        logging.getLogger("qtc.run").error("error: %s", message, extra={"terminal": False})
    return 2


def make_console() -> Console:
    return Console(stderr=True)


class StatusLine:
    """One live-updating line: simulated time, orders, fills, open orders, leader, API address.

    On a terminal it redraws in place; otherwise it prints a line every `every` updates.
    """

    def __init__(self, console: Console, api_url: str | None, every: int = 30) -> None:
        self.console = console
        self.api_url = api_url
        self.every = every
        self._count = 0
        self._live: Live | None = None

    def __enter__(self) -> StatusLine:
        if self.console.is_terminal:
            self._live = Live(Text("starting..."), console=self.console, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def update(self, fields: dict[str, Any]) -> None:
        text = Text.assemble(
            ("sim ", "dim"),
            (str(fields["time"]), "bold"),
            ("  orders ", "dim"),
            str(fields["orders"]),
            ("  fills ", "dim"),
            str(fields["fills"]),
            ("  open ", "dim"),
            str(fields["open"]),
            ("  leader ", "dim"),
            (str(fields["leader"]), "bold green"),
            ("  API ", "dim"),
            self.api_url or "off",
        )
        self._count += 1
        if self._live is not None:
            self._live.update(text)
        elif self._count % self.every == 1:
            self.console.print(text)


def summary_table(rows: Sequence[dict[str, Any]]) -> Table:
    """Per team: orders, fills, open orders, cash, equity, return."""
    table = Table(title="QTC run summary")
    for name, justify in (
        ("rank", "right"),
        ("team", "left"),
        ("orders", "right"),
        ("fills", "right"),
        ("open", "right"),
        ("cash", "right"),
        ("equity", "right"),
        ("return %", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(
            str(row["rank"]),
            row["team_id"],
            str(row["orders"]),
            str(row["fills"]),
            str(row["open_orders"]),
            row["cash"],
            row["equity"],
            row["return_pct"],
        )
    return table


def print_summary(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    console.print(summary_table(rows))
    sys.stderr.flush()
