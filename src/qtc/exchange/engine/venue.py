"""The simulated exchange as the minute loop sees it: step the matching, then let the tracker
catch up with what it produced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from qtc.brokers.simulated import SimulatedBroker
from qtc.exchange.engine.driver import ExchangeDriver


@dataclass(frozen=True, slots=True)
class SimulatedVenue:
    """The exchange driver (bars in, fills out) and the broker the tracker trades through."""

    driver: ExchangeDriver
    broker: SimulatedBroker

    def step(self, minute: datetime) -> None:
        """Match resting orders against the bars of `minute`; close the session at its end."""
        self.driver.step(minute)

    async def settle(self) -> None:
        """Return once the tracker has applied every update this minute produced."""
        await self.broker.settle()
