"""The exchange's assets: listing venue per symbol, Alpaca's asset JSON, and symbol spellings."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from qtc.domain.market import is_crypto

# Fixed so that asset ids are the same on every run of the exchange.
_NAMESPACE = uuid.UUID("6f1c2a52-8d0e-4c53-9a55-3b0f1f6a9c11")

# Where the simulated universe (and common names a team may add) is listed; ETFs on NYSE Arca
# are `ARCA` in Alpaca's assets. A symbol not here is taken for an NYSE listing.
LISTING: dict[str, str] = {
    **dict.fromkeys(
        (
            "AAPL",
            "MSFT",
            "NVDA",
            "AMZN",
            "GOOG",
            "GOOGL",
            "META",
            "TSLA",
            "QQQ",
            "NFLX",
            "AMD",
            "INTC",
            "AVGO",
            "ADBE",
            "CSCO",
            "PEP",
            "COST",
            "TQQQ",
        ),
        "NASDAQ",
    ),
    **dict.fromkeys(("SPY", "IWM", "DIA", "GLD", "XLF", "XLE", "VTI", "VOO"), "ARCA"),
    **dict.fromkeys(
        ("JPM", "XOM", "KO", "WMT", "V", "DIS", "IBM", "BA", "GE", "F", "JNJ", "PG", "BAC"),
        "NYSE",
    ),
}
DEFAULT_LISTING = "NYSE"


def asset_id(symbol: str) -> str:
    """A stable asset UUID for a symbol (`BTC/USD` and `BTCUSD` are one asset)."""
    return str(uuid.uuid5(_NAMESPACE, f"asset:{symbol}"))


def exchange_of(symbol: str) -> str:
    """The venue Alpaca reports for `symbol`: `CRYPTO` for pairs, else the listing table."""
    if is_crypto(symbol):
        return "CRYPTO"
    return LISTING.get(symbol, DEFAULT_LISTING)


def asset_class(symbol: str) -> str:
    """`crypto` or `us_equity`."""
    return "crypto" if is_crypto(symbol) else "us_equity"


def resolve_symbol(raw: str, universe: Iterable[str]) -> str | None:
    """The universe's spelling of `raw`: a symbol, a crypto pair with or without its slash
    (`BTCUSD` is `BTC/USD`), or an asset id; None when the exchange does not trade it."""
    symbols = list(universe)
    if raw in symbols:
        return raw
    for symbol in symbols:
        if symbol.replace("/", "") == raw or asset_id(symbol) == raw.lower():
            return symbol
    return None


def canonical(raw: str, universe: Iterable[str]) -> str:
    """`resolve_symbol`, or `raw` itself when unknown (the engine then refuses it by name)."""
    return resolve_symbol(raw, universe) or raw


def asset_json(symbol: str) -> dict[str, Any]:
    """One asset as `GET /v2/assets/{symbol}` answers it (every equity easy to borrow)."""
    crypto = is_crypto(symbol)
    return {
        "id": asset_id(symbol),
        "class": asset_class(symbol),
        "exchange": exchange_of(symbol),
        "symbol": symbol,
        "name": symbol,
        "status": "active",
        "tradable": True,
        "marginable": not crypto,
        "shortable": not crypto,
        "easy_to_borrow": not crypto,
        "fractionable": True,
        "maintenance_margin_requirement": 0 if crypto else 100,
        "min_order_size": "0.000000001" if crypto else None,
        "min_trade_increment": "0.000000001" if crypto else None,
        "price_increment": "0.000000001" if crypto else None,
        "attributes": [],
    }
