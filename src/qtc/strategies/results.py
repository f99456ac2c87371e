"""What one strategy call produced: raw signals, or an error with its phase."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Phase = Literal["load", "signal"]


@dataclass(frozen=True, slots=True)
class StrategyError:
    """A strategy failure: `phase` is 'load' or 'signal'; `signal` is the offending output."""

    phase: Phase
    message: str
    signal: Any = None


@dataclass(frozen=True, slots=True)
class StrategyResult:
    """One team's minute: the raw signals (plain JSON values) or the error that replaced them."""

    signals: list[Any] = field(default_factory=list)
    error: StrategyError | None = None
