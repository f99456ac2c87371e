"""A simulated exchange that survives restarts: every command is journaled, then replayed.

The engine is deterministic for a seed and a sequence of commands, so replaying the journal
into a fresh engine rebuilds exactly the book, fills and account it had. Each command is
appended (one whole line, fsynced) before the engine runs it, so the exchange is never behind
the ledger the tracker writes from its events; a torn last line is moved aside (`.torn`).
"""

from __future__ import annotations

import builtins
import json
import logging
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from qtc.domain.decimals import dec_str
from qtc.domain.enums import OrderClass, OrderType, Side, TimeInForce
from qtc.domain.errors import QTCError
from qtc.domain.market import Bar
from qtc.domain.orders import BrokerOrder, OrderRequest, ReplaceRequest
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.store.jsonl import FsyncCounter, append_line, make_private_dir, repair_tail

log = logging.getLogger("qtc.exchange.engine.journal")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


_PRICES = (
    "limit_price",
    "stop_price",
    "trail_price",
    "trail_percent",
    "take_profit_limit_price",
    "stop_loss_stop_price",
    "stop_loss_limit_price",
    "notional",
)


def _dec(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _request_json(request: OrderRequest) -> dict[str, Any]:
    record: dict[str, Any] = {
        "client_order_id": request.client_order_id,
        "symbol": request.symbol,
        "side": request.side.value,
        "qty": dec_str(request.qty),
        "order_type": request.order_type.value,
        "time_in_force": request.time_in_force.value,
        "limit_price": dec_str(request.limit_price),
    }
    if request.order_class is not OrderClass.SIMPLE:
        record["order_class"] = request.order_class.value
    for name in _PRICES[1:]:  # absent when unset, so older journals read the same
        value = getattr(request, name)
        if value is not None:
            record[name] = dec_str(value)
    return record


def _request_from(data: Mapping[str, Any]) -> OrderRequest:
    return OrderRequest(
        client_order_id=data["client_order_id"],
        symbol=data["symbol"],
        side=Side(data["side"]),
        qty=Decimal(data["qty"]),
        order_type=OrderType(data["order_type"]),
        time_in_force=TimeInForce(data["time_in_force"]),
        order_class=OrderClass(data.get("order_class", "simple")),
        **{name: _dec(data.get(name)) for name in _PRICES},
    )


def _replace_json(request: ReplaceRequest) -> dict[str, Any]:
    return {
        "qty": dec_str(request.qty),
        "time_in_force": request.time_in_force.value if request.time_in_force else None,
        "limit_price": dec_str(request.limit_price),
        "stop_price": dec_str(request.stop_price),
        "trail": dec_str(request.trail),
        "client_order_id": request.client_order_id,
    }


def _replace_from(data: Mapping[str, Any]) -> ReplaceRequest:
    tif = data.get("time_in_force")
    return ReplaceRequest(
        qty=_dec(data.get("qty")),
        time_in_force=TimeInForce(tif) if tif is not None else None,
        limit_price=_dec(data.get("limit_price")),
        stop_price=_dec(data.get("stop_price")),
        trail=_dec(data.get("trail")),
        client_order_id=data.get("client_order_id"),
    )


def _bars_json(bars: Mapping[str, Bar]) -> dict[str, list[str]]:
    return {
        s: [b.timestamp.isoformat(), *(str(v) for v in (b.open, b.high, b.low, b.close, b.volume))]
        for s, b in bars.items()
    }


def _bars_from(data: Mapping[str, list[str]]) -> dict[str, Bar]:
    bars = {}
    for symbol, (ts, o, h, low, c, v) in data.items():
        bars[symbol] = Bar(
            symbol,
            datetime.fromisoformat(ts),
            Decimal(o),
            Decimal(h),
            Decimal(low),
            Decimal(c),
            Decimal(v),
        )
    return bars


class JournalCorrupt(Exception):
    """A journal line that cannot be replayed (not the torn last line of a crash)."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path} line {line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


_PARAMS = ("seed", "symbols", "buying_power", "participation", "half_spread_bps")


def _params_json(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "seed": params["seed"],
        "symbols": sorted(params["symbols"]),
        "buying_power": dec_str(Decimal(params["buying_power"])),
        "participation": dec_str(Decimal(params["participation"])),
        "half_spread_bps": dec_str(Decimal(params["half_spread_bps"])),
    }


def _params_from(header: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "seed": int(header["seed"]),
        "symbols": list(header["symbols"]),
        "buying_power": Decimal(header["buying_power"]),
        "participation": Decimal(header["participation"]),
        "half_spread_bps": Decimal(header["half_spread_bps"]),
    }


class JournaledEngine(ExchangeEngine):
    """An ExchangeEngine whose commands are appended (fsynced) to `journal_path` before they run.

    The journal's first record carries the parameters it was written with, and a restart
    replays with those, whatever this run asks. A minute is an idempotent step keyed by the
    minute: matching a minute at or before `last_minute` does nothing, so a kill between the
    journal and the run's progress never matches a bar twice.
    """

    def __init__(
        self, journal_path: Path, *, group_commit: bool = False, **engine_args: Any
    ) -> None:
        """With `group_commit`, submits and cancels are written at once but made durable by
        the next `sync` (one fsync for a burst of them): the caller answers none before it."""
        super().__init__(**engine_args)
        self._journal_path = journal_path
        self._writing = False
        self._group_commit = group_commit
        self._unsynced = False
        self.fsyncs = FsyncCounter()
        self.params = dict(engine_args)
        self.last_minute: datetime | None = None
        self.last_session_end: datetime | None = None

    @classmethod
    def open(
        cls, journal_path: Path, *, group_commit: bool = False, **engine_args: Any
    ) -> JournaledEngine:
        """An engine with the journal's commands replayed into it, ready to append.

        Raises JournalCorrupt when a line other than a torn last one cannot be replayed."""
        make_private_dir(journal_path.parent)
        repair_tail(journal_path, log)
        records = list(_read(journal_path))
        asked = {k: engine_args[k] for k in _PARAMS if k in engine_args}
        params = dict(engine_args)
        if records and records[0][1].get("op") == "open":
            number, header = records.pop(0)
            try:
                kept = _params_from(header)
            except (KeyError, ValueError, TypeError, ArithmeticError) as e:
                raise JournalCorrupt(journal_path, number, f"bad header: {e!r:.200}") from e
            asked_json = _params_json(asked) if len(asked) == len(_PARAMS) else {}
            for name, value in _params_json(kept).items():
                if name in asked_json and asked_json[name] != value:
                    log.warning(
                        "This run asks the simulated exchange for %s=%s; keeping the journal's "
                        "%s=%s (its orders were accepted under it)",
                        name,
                        asked_json[name],
                        name,
                        value,
                    )
            params.update(kept)
        engine = cls(journal_path, group_commit=group_commit, **params)
        for number, record in records:
            try:
                engine._apply(record)
            except QTCError:
                pass  # a command that failed the first time fails again: same state
            except (KeyError, ValueError, TypeError, ArithmeticError) as e:
                raise JournalCorrupt(journal_path, number, f"cannot replay: {e!r:.200}") from e
        engine._writing = True
        if (not records and not journal_path.exists()) or journal_path.stat().st_size == 0:
            engine._write({"op": "open", "version": 1, **_params_json(params)})
        if records:
            log.info("Simulated exchange restored from %d journaled commands", len(records))
        return engine

    def close(self) -> None:
        self._writing = False

    def _write(self, record: dict[str, Any], *, deferred: bool = False) -> None:
        if not self._writing:
            return
        later = deferred and self._group_commit
        append_line(self._journal_path, record, None if later else self.fsyncs, point="journal")
        self._unsynced = later  # a synced line makes every earlier one durable too

    def sync(self) -> None:
        """Make the commands written since the last sync durable (one fsync for them all)."""
        if not self._unsynced:
            return
        fd = os.open(self._journal_path, os.O_RDONLY)
        try:
            self.fsyncs.fsync(fd)
        finally:
            os.close(fd)
        self._unsynced = False

    def _apply(self, record: Mapping[str, Any]) -> None:
        op = record["op"]
        now = _parse_time(record.get("now"))
        if op == "submit":
            super().submit(_request_from(record["request"]), now)  # type: ignore[arg-type]
        elif op == "cancel":
            super().cancel(record["id"], now)  # type: ignore[arg-type]
        elif op == "replace":
            super().replace(record["id"], _replace_from(record["request"]), now)  # type: ignore[arg-type]
        elif op == "cancel_all":
            super().cancel_all(now)  # type: ignore[arg-type]
        elif op == "minute":
            minute = datetime.fromisoformat(record["minute"])
            super().on_minute(minute, _bars_from(record["bars"]), now)
            self.last_minute = minute
        elif op == "end_session":
            super().end_session(now)  # type: ignore[arg-type]
            self.last_session_end = now
        elif op == "set_price":
            liquidity = record.get("liquidity")
            super().set_price(
                record["symbol"],
                Decimal(record["price"]),
                Decimal(liquidity) if liquidity is not None else None,
            )
        else:
            raise ValueError(f"unknown journal command {op!r}")

    def submit(self, request: OrderRequest, now: datetime) -> BrokerOrder:
        record = {"op": "submit", "now": _time(now), "request": _request_json(request)}
        self._write(record, deferred=True)
        return super().submit(request, now)

    def cancel(self, broker_order_id: str, now: datetime) -> BrokerOrder:
        self._write({"op": "cancel", "now": _time(now), "id": broker_order_id}, deferred=True)
        return super().cancel(broker_order_id, now)

    def replace(self, broker_order_id: str, request: ReplaceRequest, now: datetime) -> BrokerOrder:
        record = {
            "op": "replace",
            "now": _time(now),
            "id": broker_order_id,
            "request": _replace_json(request),
        }
        self._write(record, deferred=True)
        return super().replace(broker_order_id, request, now)

    def cancel_all(self, now: datetime) -> builtins.list[BrokerOrder]:
        self._write({"op": "cancel_all", "now": _time(now)}, deferred=True)
        return super().cancel_all(now)

    def on_minute(
        self, minute: datetime, bars: Mapping[str, Bar], now: datetime | None = None
    ) -> None:
        if self.last_minute is not None and minute <= self.last_minute:
            log.info("Minute %s was already matched; not matching it again", minute.isoformat())
            return
        record = {
            "op": "minute",
            "minute": minute.isoformat(),
            "now": _time(now),
            "bars": _bars_json(bars),
        }
        try:
            self._write(record)
        except OSError as e:
            # not journaled, so not matched either: a replay stays the same exchange
            log.error("Exchange journal cannot record minute %s (%s); skipping it", minute, e)
            return
        super().on_minute(minute, bars, now)
        self.last_minute = minute

    def end_session(self, now: datetime) -> builtins.list[BrokerOrder]:
        if self.last_session_end is not None and now <= self.last_session_end:
            return []
        try:
            self._write({"op": "end_session", "now": _time(now)})
        except OSError as e:
            log.error("Exchange journal cannot record the session close (%s); day orders stay", e)
            return []
        expired = super().end_session(now)
        self.last_session_end = now
        return expired

    def set_price(self, symbol: str, price: Decimal, liquidity: Decimal | None = None) -> None:
        self._write(
            {
                "op": "set_price",
                "symbol": symbol,
                "price": str(price),
                "liquidity": dec_str(liquidity),
            }
        )
        super().set_price(symbol, price, liquidity)


def _read(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, record) for every journal line; a bad one raises JournalCorrupt."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError as e:
                raise JournalCorrupt(path, number, f"not JSON: {raw[:120]!r}") from e
            if not isinstance(record, dict) or "op" not in record:
                raise JournalCorrupt(path, number, f"not a journal command: {raw[:120]!r}")
            yield number, record
