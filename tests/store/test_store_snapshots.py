"""Reading a team's portfolio snapshots by time range, across day files and month segments."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qtc.store import compact
from qtc.store.files import FileStore
from qtc.store.jsonl import FsyncCounter

T0 = datetime(2026, 10, 30, 19, 0, tzinfo=UTC)  # two October days, then November
PAD = "x" * 300
DAYS = (T0, T0 + timedelta(days=1), T0 + timedelta(days=3))


def _write(store: FileStore, minutes: int = 400) -> list[datetime]:
    """`minutes` snapshots on each of three days (day files larger than a read block, so
    a range is entered by bisecting); the equity counts them."""
    times = []
    for day in DAYS:
        for i in range(minutes):
            at = day + timedelta(minutes=i)
            store.append_snapshot(
                "alpha", at, {"timestamp": at.isoformat(), "equity": str(i), "pad": PAD}
            )
            times.append(at)
    return times


def _times(store: FileStore, start: datetime | None, end: datetime | None) -> list[datetime]:
    return [
        datetime.fromisoformat(s["timestamp"]) for s in store.iter_snapshots("alpha", start, end)
    ]


@pytest.mark.parametrize("packed", [False, True], ids=["day files", "month segment"])
def test_snapshots_in_a_range_in_time_order(tmp_path: Path, packed: bool) -> None:
    store = FileStore(tmp_path)
    times = _write(store)
    if packed:  # October's day files become segments/portfolio/2026-10.jsonl
        compact.compact_team(store.team_dir("alpha"), "2026-11", FsyncCounter(), store.log)
        assert not (store.team_dir("alpha") / "portfolio" / "2026-10-30.jsonl").exists()
    reader = FileStore(tmp_path, read_only=True)
    assert _times(reader, None, None) == times
    for start, end in [
        (T0 + timedelta(minutes=17), T0 + timedelta(minutes=333)),
        (T0 + timedelta(hours=5, seconds=30), DAYS[2] + timedelta(minutes=2)),
        (DAYS[2], None),
        (None, DAYS[1]),
        (DAYS[2] + timedelta(days=1), None),
    ]:
        expected = [t for t in times if (start is None or t >= start) and (end is None or t < end)]
        assert _times(reader, start, end) == expected, (start, end)


def test_a_torn_last_line_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileStore(tmp_path)
    times = _write(store, minutes=3)
    last_day = store.team_dir("alpha") / "portfolio" / "2026-11-02.jsonl"
    with last_day.open("ab") as f:
        f.write(b'{"timestamp": "2026-11-02T19:0')
    with caplog.at_level(logging.WARNING):
        assert _times(FileStore(tmp_path, read_only=True), None, None) == times
    assert "torn last line" in caplog.text


def test_a_team_without_snapshots_has_none(tmp_path: Path) -> None:
    assert list(FileStore(tmp_path).iter_snapshots("nobody")) == []


def test_reading_on_as_the_day_file_grows(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    reader = FileStore(tmp_path, read_only=True)
    times = _write(store, minutes=300)
    last = times[-1]
    assert _times(reader, last, None) == [last]
    # two more snapshots at the same time as the last (after fills), then the next minutes
    later = [last, last, *(last + timedelta(minutes=i) for i in (1, 2, 3))]
    for at in later:
        store.append_snapshot("alpha", at, {"timestamp": at.isoformat(), "pad": PAD})
    assert _times(reader, last, None) == [last, *later]
    assert _times(reader, later[-1], None) == [later[-1]]
    # an earlier start than the last read is answered whole
    start = times[-40]
    assert _times(reader, start, None) == [*times[-40:], *later]
