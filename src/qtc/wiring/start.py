"""Where a run starts: the first minute from flags, recorded progress and the ledgers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from qtc.domain.times import MINUTE
from qtc.market.calendar import MarketCalendar
from qtc.progress import (
    StartupError,
    minute_after,
    read_progress,
    recorded_in_ledgers,
)
from qtc.settings import Settings

log = logging.getLogger("qtc.run")
DEMO_LEAD_MINUTES = 150
EARLIEST_START = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_START_AHEAD = timedelta(days=366)
T = TypeVar("T")


def _default_start(calendar: MarketCalendar, now: datetime) -> datetime:
    """A little before the close of the last complete session, so a newcomer sees the close."""
    session = calendar.last_session_before(now)
    if session is None:
        return now.replace(second=0, microsecond=0)
    return session.close - timedelta(minutes=DEMO_LEAD_MINUTES)


def readable(path: Path, load: Callable[[], T]) -> T:
    """`load()`, with a file it cannot read turned into one clear StartupError."""
    try:
        return load()
    except Exception as e:
        raise _unreadable(path, e) from e


async def loaded(path: Path, load: Callable[[], Awaitable[object]]) -> None:
    """`await load()`, with a file it cannot read turned into one clear StartupError."""
    try:
        await load()
    except Exception as e:
        raise _unreadable(path, e) from e


def _unreadable(path: Path, error: Exception) -> Exception:
    if isinstance(error, StartupError) or not isinstance(error, (*_CORRUPT, ValueError, OSError)):
        return error
    where = "" if str(path) in str(error) else f"{path}: "
    return StartupError(f"cannot read {where}{error}")


def _corrupt_errors() -> tuple[type[Exception], ...]:
    """The store's and the journal's unreadable-file errors (as they land)."""
    from qtc.exchange.engine import journal as journal_module
    from qtc.store import jsonl

    found = (getattr(jsonl, "CorruptFile", None), getattr(journal_module, "JournalCorrupt", None))
    return tuple(e for e in found if isinstance(e, type) and issubclass(e, Exception))


_CORRUPT = _corrupt_errors()


@dataclass(frozen=True)
class StartPlan:
    """The first minute to run, and the passed minutes a live run skips (first, last)."""

    first: datetime
    skipped: tuple[datetime, datetime] | None = None


def plan_start(
    settings: Settings,
    calendar: MarketCalendar,
    *,
    start: datetime | None,
    live: bool,
    exchanged: datetime | None,
) -> StartPlan:
    """Where this run starts: never a minute already run, and, live, never a past one."""
    data_dir = settings.data_dir
    recorded, problem = read_progress(data_dir)
    after_exchange = exchanged + MINUTE if exchanged is not None else None
    progress = _later(recorded, after_exchange)
    if recorded is None:
        ledgers = recorded_in_ledgers(data_dir)
        evidence = _later(after_exchange, minute_after(ledgers) if ledgers else None)
        why = problem or f"{data_dir / 'run_state.json'} is missing"
        if evidence is not None:
            log.warning(
                "%s; progress recovered from the exchange journal and the ledgers: "
                "the next minute is %s",
                why,
                evidence.isoformat(),
            )
            progress = evidence
        elif problem is not None:
            log.warning("%s; nothing else records progress: starting afresh", problem)
    elif after_exchange is not None and after_exchange > recorded:
        log.warning(
            "Minute %s was interrupted after the exchange matched it: it is not run again",
            exchanged.isoformat() if exchanged else "?",
        )
    now = datetime.now(UTC)
    if start is not None:
        if live:
            raise StartupError(
                "--start is for simulated runs: a live run always starts at the present minute"
            )
        if not EARLIEST_START <= start <= now + LATEST_START_AHEAD:
            raise StartupError(
                f"--start {start.isoformat()} is out of range "
                f"({EARLIEST_START.year} to a year from now)"
            )
        if progress is not None and start < progress:
            raise StartupError(
                f"--start {start.isoformat()} is before the recorded progress of {data_dir} "
                f"(next minute {progress.isoformat()}): a restart never runs a minute twice; "
                "start at or after it, or use a new --data-dir"
            )
        return StartPlan(start)
    if live:
        present = now.replace(second=0, microsecond=0)
        if progress is not None and progress < present:
            return StartPlan(present, (progress, present - MINUTE))
        return StartPlan(present)
    if progress is not None:
        return StartPlan(progress)
    return StartPlan(_default_start(calendar, now))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)
