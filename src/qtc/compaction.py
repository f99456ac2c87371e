"""`qtc compact`: rotate a stopped competition's closed months into segments."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from qtc.progress import DataDirLock, StartupError, read_progress
from qtc.store.compact import compact_team
from qtc.store.files import FileStore

log = logging.getLogger("qtc.compact")


def add_compact_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `qtc compact`."""
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="the competition's data directory"
    )


def compact_command(args: argparse.Namespace) -> int:
    """Own the data directory (refused while a run holds it), then rotate every team."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s: %(message)s")
    data_dir: Path = args.data_dir
    if not (data_dir / "team").is_dir():
        print(f"error: {data_dir} holds no team files", file=sys.stderr)
        return 2
    try:
        lock = DataDirLock.acquire(data_dir)
    except StartupError as e:
        print(
            f"error: {e}. A running competition rotates its own files at the first line of "
            "each new month; run qtc compact once it has stopped.",
            file=sys.stderr,
        )
        return 3
    try:
        month = current_month(data_dir)
        store = FileStore(data_dir)
        rotated = packed = 0
        for team_id in store.team_ids():
            done = compact_team(store.team_dir(team_id), month, store.fsyncs, log)
            for segment in done.segments:
                print(f"{team_id}: {segment.relative_to(store.team_dir(team_id))}")
            rotated += len(done.segments)
            packed += done.packed_days
        print(f"compacted months before {month}: {rotated} segments written, "
              f"{packed} daily snapshot files packed")  # fmt: skip
    finally:
        lock.release()
    return 0


def current_month(data_dir: Path) -> str:
    """The competition's month (its next minute, from run_state.json), else today's (UTC)."""
    next_minute, _ = read_progress(data_dir)
    return (next_minute or datetime.now(UTC)).strftime("%Y-%m")
