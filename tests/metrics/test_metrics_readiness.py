"""Readiness over what a run reported: the broker, the update stream or polling, the minutes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qtc.metrics.health import Readiness
from qtc.metrics.run_metrics import RunMetrics, broker_status


@dataclass
class Stream:
    stream_connected: bool = True
    stream_connects: int = 1


class Wall:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def readiness(
    recorder: RunMetrics, stream: Stream, *, market_open: bool = True, minute_s: float = 60.0
) -> Readiness:
    return Readiness(
        recorder.facts,
        stream,
        market_open=lambda: market_open,
        minute_seconds=minute_s,
        reconcile_seconds=lambda: 30.0,
        wall=recorder.wall,
    )


def failed(check: Readiness) -> tuple[list[str], dict[str, Any]]:
    ready, body = check()
    assert ready is (not body["failed"]) and body["ready"] is ready
    return body["failed"], body["checks"]


def test_a_healthy_run_is_ready_and_says_why() -> None:
    wall = Wall()
    recorder = RunMetrics(None, wall=wall)
    recorder.reconciled(complete=True, seconds=0.01)
    wall.now += 30
    recorder.minute_done(0.2)
    names, checks = failed(readiness(recorder, Stream()))
    assert names == []
    assert checks["broker"] == {
        "ok": True,
        "detail": "reachable: the last reconcile listed the open orders",
    }
    assert checks["stream"]["detail"] == "the update stream is connected"
    assert checks["minutes"]["detail"] == "the last minute finished 0.0s ago"


def test_the_broker_check_follows_the_last_answer() -> None:
    recorder = RunMetrics(None, wall=Wall())
    check = readiness(recorder, Stream())
    assert failed(check)[1]["broker"]["detail"] == "the broker has not been reached yet"
    recorder.broker_answered(429)  # rate limited is an answer: reachable
    assert "broker" not in failed(check)[0]
    recorder.broker_answered(None)
    names, checks = failed(check)
    assert names == ["broker"]
    assert checks["broker"]["detail"] == "unreachable: the last request got no answer"
    recorder.broker_answered(503)
    assert failed(check)[1]["broker"]["detail"] == "unreachable: the last request got HTTP 503"
    recorder.reconciled(complete=True, seconds=0.5)
    assert "broker" not in failed(check)[0]
    recorder.reconciled(complete=False, seconds=0.5)
    assert "broker" in failed(check)[0]


def test_a_dropped_stream_is_fine_while_polling_works() -> None:
    wall = Wall()
    recorder = RunMetrics(None, wall=wall)
    stream = Stream(stream_connected=False)
    check = readiness(recorder, stream)
    recorder.minute_done(0.1)
    names, checks = failed(check)
    assert names == ["broker", "stream"]
    assert checks["stream"]["detail"] == (
        "the update stream is down and no reconcile has completed"
    )
    recorder.reconciled(complete=True, seconds=0.1)
    wall.now += 60
    recorder.minute_done(0.1)
    assert failed(check)[1]["stream"] == {
        "ok": True,
        "detail": "the update stream is down; polling works (last 60.0s ago)",
    }
    wall.now += 31  # three reconcile intervals of 30 s have passed with none complete
    recorder.minute_done(0.1)
    names, checks = failed(check)
    assert names == ["stream"]
    assert checks["stream"]["detail"] == (
        "the update stream is down and the last complete reconcile was 91.0s ago (limit 90s)"
    )
    stream.stream_connected = True
    assert failed(check)[0] == []


def test_minutes_must_be_recent_while_the_market_is_open() -> None:
    wall = Wall()
    recorder = RunMetrics(None, wall=wall)
    recorder.reconciled(complete=True, seconds=0.1)
    recorder.run_started()
    check = readiness(recorder, Stream())
    wall.now += 100
    assert failed(check)[1]["minutes"] == {"ok": True, "detail": "the run started 100.0s ago"}
    wall.now += 81
    names, checks = failed(check)
    assert names == ["minutes"]
    assert checks["minutes"]["detail"] == (
        "no minute has finished; started 181.0s ago (limit 180s)"
    )
    recorder.minute_done(2.0)
    wall.now += 181  # a minute that took 2 s may end 2 s later than the limit
    assert failed(check)[0] == []
    wall.now += 2
    assert failed(check)[1]["minutes"]["detail"] == (
        "the last minute finished 183.0s ago (limit 182s)"
    )
    closed = readiness(recorder, Stream(), market_open=False)
    assert failed(closed)[1]["minutes"] == {
        "ok": True,
        "detail": "the market is closed: no minute is expected",
    }


def test_an_accelerated_minute_is_late_only_after_ten_seconds() -> None:
    wall = Wall()
    recorder = RunMetrics(None, wall=wall)
    recorder.reconciled(complete=True, seconds=0.1)
    recorder.minute_done(0.05)
    check = readiness(recorder, Stream(), minute_s=0.15)  # speed 400
    wall.now += 10
    assert failed(check)[0] == []
    wall.now += 0.1
    assert failed(check)[0] == ["minutes"]


def test_broker_answers_are_labelled_by_class() -> None:
    codes = [200, 204, 404, 422, 429, 500, 503, None]
    labels = ["2xx", "2xx", "4xx", "4xx", "429", "5xx", "5xx", "error"]
    assert [broker_status(code) for code in codes] == labels
