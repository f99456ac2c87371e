"""When the US equity market is open (NYSE sessions, holidays, half days); crypto always is."""

from __future__ import annotations

import bisect
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from qtc.domain.market import is_crypto

DEFAULT_START = date(2015, 1, 1)
DEFAULT_END = date(2035, 12, 31)


@dataclass(frozen=True, slots=True)
class Session:
    """One regular trading session: its exchange date and its UTC open and close."""

    day: date
    open: datetime
    close: datetime

    @property
    def minutes(self) -> int:
        return int((self.close - self.open).total_seconds()) // 60

    def contains(self, moment: datetime) -> bool:
        return self.open <= moment < self.close


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: QTC times are timezone-aware UTC")
    return moment.astimezone(UTC)


class MarketCalendar:
    """NYSE regular sessions read once from exchange_calendars' XNYS, then answered from memory.

    Every NYSE session lies inside one UTC date, so lookups are a dict hit by UTC date.
    """

    def __init__(self, start: date = DEFAULT_START, end: date = DEFAULT_END) -> None:
        # imported here: exchange_calendars is slow to import and only this class needs it
        import exchange_calendars

        if end < start:
            raise ValueError(f"calendar end {end} is before its start {start}")
        with warnings.catch_warnings():
            # exchange_calendars trips pandas deprecation warnings that are not ours to fix
            warnings.simplefilter("ignore")
            xnys = exchange_calendars.get_calendar(
                "XNYS", start=start.isoformat(), end=end.isoformat()
            )
            schedule = xnys.schedule
        self.start = start
        self.end = end
        self._sessions: list[Session] = [
            Session(
                day=label.date(),
                open=row_open.to_pydatetime().astimezone(UTC),
                close=row_close.to_pydatetime().astimezone(UTC),
            )
            for label, row_open, row_close in zip(
                schedule.index, schedule["open"], schedule["close"], strict=True
            )
        ]
        self._by_day: dict[date, Session] = {s.day: s for s in self._sessions}
        self._opens: list[datetime] = [s.open for s in self._sessions]

    def _check_range(self, day: date) -> None:
        if not self.start <= day <= self.end:
            raise ValueError(f"{day} is outside the market calendar ({self.start} to {self.end})")

    def session_on(self, day: date) -> Session | None:
        """The regular session on exchange date `day`, or None (weekend, holiday)."""
        self._check_range(day)
        return self._by_day.get(day)

    def session_at(self, minute: datetime) -> Session | None:
        """The session whose regular hours contain `minute`, or None when the market is closed."""
        moment = _utc(minute)
        session = self.session_on(moment.date())
        if session is not None and session.contains(moment):
            return session
        return None

    def is_open(self, symbol: str, minute: datetime) -> bool:
        """True if `symbol` trades at `minute`: crypto always, equities in the regular session."""
        if is_crypto(symbol):
            return True
        return self.session_at(minute) is not None

    def session_close(self, minute: datetime) -> datetime | None:
        """Close of the equity session containing `minute`, None outside regular hours."""
        session = self.session_at(minute)
        return session.close if session is not None else None

    def next_open(self, after: datetime) -> datetime:
        """The first regular session open strictly after `after`."""
        moment = _utc(after)
        self._check_range(moment.date())
        i = bisect.bisect_right(self._opens, moment)
        if i >= len(self._opens):
            raise ValueError(f"no session after {moment} within the calendar (ends {self.end})")
        return self._opens[i]

    def last_session_before(self, moment: datetime) -> Session | None:
        """The latest session that opened strictly before `moment` (it may still be open)."""
        at = _utc(moment)
        self._check_range(at.date())
        i = bisect.bisect_left(self._opens, at)
        return self._sessions[i - 1] if i > 0 else None

    def sessions_between(self, start: date | datetime, end: date | datetime) -> list[Session]:
        """Sessions whose exchange date lies in [start, end], both inclusive, oldest first."""
        first = _utc(start).date() if isinstance(start, datetime) else start
        last = _utc(end).date() if isinstance(end, datetime) else end
        self._check_range(first)
        self._check_range(last)
        lo = bisect.bisect_left(self._opens, datetime.combine(first, datetime.min.time(), UTC))
        hi = bisect.bisect_left(
            self._opens, datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
        )
        return self._sessions[lo:hi]
