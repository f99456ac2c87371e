"""`/v2/account/configurations`: Alpaca's account settings; `no_shorting` drives the engine."""

from __future__ import annotations

from typing import Any

from qtc.exchange.engine.matching import ExchangeEngine

# The choices Alpaca documents for each string setting (None: any string is kept).
_CHOICES: dict[str, tuple[str, ...] | None] = {
    "dtbp_check": ("both", "entry", "exit"),
    "pdt_check": ("both", "entry", "exit"),
    "trade_confirm_email": ("all", "none"),
    "max_margin_multiplier": ("1", "2", "4"),
}
_FLAGS = ("no_shorting", "suspend_trade", "fractional_trading", "ptp_no_exception_entry")
_LEVELS = (0, 1, 2, 3)


class ConfigError(ValueError):
    """A setting Alpaca would refuse (the message names it)."""


class AccountConfig:
    """The stored settings; only `no_shorting` changes what the exchange does (the others are
    kept and echoed, as a practice account has no margin, PDT or e-mail to apply them to)."""

    def __init__(self, engine: ExchangeEngine) -> None:
        self._engine = engine
        self._values: dict[str, Any] = {
            "dtbp_check": "entry",
            "trade_confirm_email": "all",
            "suspend_trade": False,
            "fractional_trading": True,
            "max_margin_multiplier": "1",
            "max_options_trading_level": 0,
            "pdt_check": "entry",
            "ptp_no_exception_entry": False,
        }

    def as_json(self) -> dict[str, Any]:
        """The settings as `GET /v2/account/configurations` answers them."""
        return {**self._values, "no_shorting": not self._engine.shorting_enabled}

    def update(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply a PATCH (a None value leaves the setting as it is); all or nothing."""
        changes = {k: v for k, v in body.items() if v is not None}
        for key, value in changes.items():
            _check(key, value)
        for key, value in changes.items():
            if key == "no_shorting":
                self._engine.set_shorting(not value)
            else:
                self._values[key] = value
        return self.as_json()


def _check(key: str, value: Any) -> None:
    if key in _FLAGS:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false")
    elif key in _CHOICES:
        choices = _CHOICES[key]
        if not isinstance(value, str) or (choices is not None and value not in choices):
            raise ConfigError(f"invalid {key}: {str(value)[:40]!r}")
    elif key == "max_options_trading_level":
        if isinstance(value, bool) or value not in _LEVELS:
            raise ConfigError("max_options_trading_level must be 0, 1, 2 or 3")
    else:
        raise ConfigError(f"unknown configuration {key[:40]!r}")
