"""Open orders indexed by the price that makes them trade, so a bar visits only those it reached.

Per symbol: orders that trade when the price falls to a key (buy limits, sell stops) sorted by
key, orders that trade when it rises to a key (sell limits, buy stops), orders that trade on
any bar (market orders, triggered stops), trailing stops (their mark moves every bar), and the
opening and closing auctions' orders. Held legs are in none until they are activated.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from qtc.exchange.engine.book import BookEntry

Kind = Literal["falls", "rises", "any", "trailing", "opg", "cls"]
_Slot = tuple[Kind, Decimal | None]


def slot_of(entry: BookEntry) -> _Slot | None:
    """Where an order belongs in the index now; None when it cannot trade."""
    if not entry.is_open or entry.status is OrderStatus.HELD:
        return None
    if entry.time_in_force is TimeInForce.OPG and not entry.opened:
        return ("opg", None)
    if entry.time_in_force is TimeInForce.CLS:
        return ("cls", None)
    kind = entry.order_type
    buy = entry.side is Side.BUY
    if kind is OrderType.TRAILING_STOP:
        return ("any", None) if entry.triggered else ("trailing", None)
    if kind is OrderType.MARKET or (kind is OrderType.STOP and entry.triggered):
        return ("any", None)
    if kind is OrderType.LIMIT or entry.triggered:
        return ("falls" if buy else "rises", entry.limit_price)
    return ("rises" if buy else "falls", entry.stop_price)


class _SymbolIndex:
    __slots__ = ("any", "cls", "falls", "opg", "rises", "trailing")

    def __init__(self) -> None:
        self.falls: list[tuple[Decimal, int, BookEntry]] = []
        self.rises: list[tuple[Decimal, int, BookEntry]] = []
        self.any: dict[int, BookEntry] = {}
        self.trailing: dict[int, BookEntry] = {}
        self.opg: dict[int, BookEntry] = {}
        self.cls: dict[int, BookEntry] = {}


class TriggerIndex:
    """Open orders by symbol and trading price; `place` after every change of an order."""

    def __init__(self) -> None:
        self._symbols: dict[str, _SymbolIndex] = {}
        self._slots: dict[int, _Slot] = {}  # by the order's seq

    def _of(self, symbol: str) -> _SymbolIndex:
        found = self._symbols.get(symbol)
        if found is None:
            found = self._symbols[symbol] = _SymbolIndex()
        return found

    def place(self, entry: BookEntry) -> None:
        """Move `entry` to where its state says it belongs (or out of the index)."""
        new = slot_of(entry)
        old = self._slots.get(entry.seq)
        if new == old:
            return
        book = self._of(entry.symbol)
        if old is not None:
            kind, key = old
            if kind in ("falls", "rises"):
                keyed = book.falls if kind == "falls" else book.rises
                assert key is not None
                at = bisect_left(keyed, (key, entry.seq))
                del keyed[at]
            else:
                getattr(book, kind).pop(entry.seq, None)
            del self._slots[entry.seq]
        if new is None:
            return
        kind, key = new
        if kind in ("falls", "rises"):
            assert key is not None
            insort(book.falls if kind == "falls" else book.rises, (key, entry.seq, entry))
        else:
            getattr(book, kind)[entry.seq] = entry
        self._slots[entry.seq] = new

    def reached(self, symbol: str, low: Decimal, high: Decimal) -> Iterator[BookEntry]:
        """Orders a bar of range [low, high] may trade: keyed ones it reached, and every
        market-like one (not the trailing stops or the auctions' orders)."""
        book = self._symbols.get(symbol)
        if book is None:
            return
        falls = book.falls
        for i in range(bisect_left(falls, (low,)), len(falls)):
            yield falls[i][2]
        rises = book.rises
        for i in range(bisect_left(rises, (high, 1 << 62))):
            yield rises[i][2]
        yield from book.any.values()

    def trailing(self, symbol: str) -> list[BookEntry]:
        """The symbol's untriggered trailing stops (a copy)."""
        book = self._symbols.get(symbol)
        return list(book.trailing.values()) if book else []

    def auction(self, symbol: str, tif: TimeInForce) -> list[BookEntry]:
        """The symbol's orders waiting for the opening (opg) or closing (cls) auction."""
        book = self._symbols.get(symbol)
        if book is None:
            return []
        return list((book.opg if tif is TimeInForce.OPG else book.cls).values())

    def auction_symbols(self) -> list[str]:
        """Symbols with any order waiting for an auction."""
        return [s for s, b in self._symbols.items() if b.opg or b.cls]
