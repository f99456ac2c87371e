"""Builds the running system from settings: the only place that picks concrete adapters."""

from qtc.progress import StartupError
from qtc.wiring.builders import alpaca_config
from qtc.wiring.components import Components
from qtc.wiring.start import EARLIEST_START, LATEST_START_AHEAD
from qtc.wiring.system import build_components

__all__ = [
    "EARLIEST_START",
    "LATEST_START_AHEAD",
    "Components",
    "StartupError",
    "alpaca_config",
    "build_components",
]
