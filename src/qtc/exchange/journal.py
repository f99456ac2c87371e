"""A simulated exchange that survives restarts: every command is journaled, then replayed.

The engine is deterministic for a seed and a sequence of commands, so replaying the journal
into a fresh engine rebuilds exactly the book, fills and account it had. Each command is
appended (one whole line, flushed) before the engine runs it, so the exchange is never behind
the ledger the tracker writes from its events; a torn last line is skipped.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from qtc.domain.decimals import dec_str
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.errors import QTCError
from qtc.domain.market import Bar
from qtc.domain.orders import BrokerOrder, OrderRequest
from qtc.exchange.engine import ExchangeEngine

log = logging.getLogger("qtc.exchange.journal")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _request_json(request: OrderRequest) -> dict[str, Any]:
    return {
        "client_order_id": request.client_order_id,
        "symbol": request.symbol,
        "side": request.side.value,
        "qty": dec_str(request.qty),
        "order_type": request.order_type.value,
        "time_in_force": request.time_in_force.value,
        "limit_price": dec_str(request.limit_price),
    }


def _request_from(data: Mapping[str, Any]) -> OrderRequest:
    limit = data.get("limit_price")
    return OrderRequest(
        client_order_id=data["client_order_id"],
        symbol=data["symbol"],
        side=Side(data["side"]),
        qty=Decimal(data["qty"]),
        order_type=OrderType(data["order_type"]),
        time_in_force=TimeInForce(data["time_in_force"]),
        limit_price=Decimal(limit) if limit is not None else None,
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


class JournaledEngine(ExchangeEngine):
    """An ExchangeEngine whose commands are appended to `journal_path` before they run."""

    def __init__(self, journal_path: Path, **engine_args: Any) -> None:
        super().__init__(**engine_args)
        self._journal_path = journal_path
        self._journal: IO[str] | None = None

    @classmethod
    def open(cls, journal_path: Path, **engine_args: Any) -> JournaledEngine:
        """A fresh engine with the journal's commands replayed into it, ready to append."""
        engine = cls(journal_path, **engine_args)
        replayed = engine._replay()
        journal_path.parent.mkdir(parents=True, exist_ok=True)
        engine._journal = journal_path.open("a", encoding="utf-8")
        if replayed:
            log.info("Simulated exchange restored from %d journaled commands", replayed)
        return engine

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def _write(self, record: dict[str, Any]) -> None:
        if self._journal is not None:
            self._journal.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._journal.flush()

    def _replay(self) -> int:
        try:
            lines = self._journal_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return 0
        count = 0
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
            except ValueError:
                if number == len(lines):
                    log.warning("Skipping torn last line of %s", self._journal_path)
                    continue
                raise
            # a command that failed the first time fails again: same outcome, same state
            with contextlib.suppress(QTCError):
                self._apply(record)
            count += 1
        return count

    def _apply(self, record: Mapping[str, Any]) -> None:
        op = record["op"]
        now = _parse_time(record.get("now"))
        if op == "submit":
            super().submit(_request_from(record["request"]), now)  # type: ignore[arg-type]
        elif op == "cancel":
            super().cancel(record["id"], now)  # type: ignore[arg-type]
        elif op == "cancel_all":
            super().cancel_all(now)  # type: ignore[arg-type]
        elif op == "minute":
            minute = datetime.fromisoformat(record["minute"])
            super().on_minute(minute, _bars_from(record["bars"]), now)
        elif op == "end_session":
            super().end_session(now)  # type: ignore[arg-type]
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
        self._write({"op": "submit", "now": _time(now), "request": _request_json(request)})
        return super().submit(request, now)

    def cancel(self, broker_order_id: str, now: datetime) -> BrokerOrder:
        self._write({"op": "cancel", "now": _time(now), "id": broker_order_id})
        return super().cancel(broker_order_id, now)

    def cancel_all(self, now: datetime) -> builtins.list[BrokerOrder]:
        self._write({"op": "cancel_all", "now": _time(now)})
        return super().cancel_all(now)

    def on_minute(
        self, minute: datetime, bars: Mapping[str, Bar], now: datetime | None = None
    ) -> None:
        self._write(
            {
                "op": "minute",
                "minute": minute.isoformat(),
                "now": _time(now),
                "bars": _bars_json(bars),
            }
        )
        super().on_minute(minute, bars, now)

    def end_session(self, now: datetime) -> builtins.list[BrokerOrder]:
        self._write({"op": "end_session", "now": _time(now)})
        return super().end_session(now)

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
