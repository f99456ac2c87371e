"""What the Alpaca adapters need to know, and nothing else of the settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AlpacaConfig:
    """Credentials and endpoints of one Alpaca account (None: alpaca-py's defaults)."""

    api_key: str | None = field(default=None, repr=False)  # None: market data without a key
    api_secret: str | None = field(default=None, repr=False)
    paper: bool = True
    base_url: str | None = None
    stream_url: str | None = None
    data_url: str | None = None
    rate_limit_per_minute: int = 190
