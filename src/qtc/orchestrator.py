"""The competition's minute: a short sequence of named steps, and the loop that runs it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from qtc.clock import Clock
from qtc.domain.enums import TimeInForce
from qtc.domain.errors import InvalidSignal, OrderAccessError, QTCError
from qtc.domain.market import Bar
from qtc.domain.orders import Order
from qtc.domain.signals import (
    CancelIntent,
    Intent,
    OrderIntent,
    ReplaceIntent,
    intent_record,
    validate_signal,
)
from qtc.domain.times import MINUTE
from qtc.log_context import current_minute
from qtc.market.base import MarketFeed
from qtc.strategies.results import StrategyResult
from qtc.strategies.teams import TeamSpec
from qtc.tracking.tracker import OrderTracker
from qtc.views.leaderboard import leaderboard_view
from qtc.views.orders import order_view

SETTLE_TIMEOUT_S = 5.0
log = logging.getLogger("qtc.orchestrator")


class Calendar(Protocol):
    def is_open(self, symbol: str, minute: datetime) -> bool: ...

    def next_open(self, after: datetime) -> datetime: ...


class Strategies(Protocol):
    async def run_minute(
        self, views: Mapping[str, dict[str, Any]]
    ) -> dict[str, StrategyResult]: ...


class StrategyVersions(Protocol):
    """Which strategy version each team runs: swapped between two minutes, never in one."""

    async def before_minute(self, minute: datetime) -> None: ...

    def after_minute(self, minute: datetime, results: Mapping[str, StrategyResult]) -> None: ...

    def version_of(self, team_id: str) -> int | None: ...

    def params_of(self, team_id: str) -> dict[str, Any] | None: ...


class Venue(Protocol):
    """A market QTC runs itself (the simulated exchange); absent when a real broker runs its own.

    `step(minute)` matches resting orders against the minute's bars; `settle()` returns once the
    tracker has applied every update the venue sent for it.
    """

    def step(self, minute: datetime) -> None: ...

    async def settle(self) -> None: ...


class MinuteListener(Protocol):
    """Told about each minute: `before_send` just before its first order leaves (progress must
    be durable by then), `minute_done` once it has run."""

    def before_send(self, minute: datetime) -> None: ...

    def minute_done(self, report: MinuteReport) -> None: ...


@dataclass(slots=True)
class MinuteReport:
    """What one minute did, for the status line and the benchmarks."""

    minute: datetime
    teams_run: int = 0
    signals: int = 0
    orders: int = 0
    cancels: int = 0
    errors: int = 0
    overhead_s: float = 0.0  # everything except the strategies' own compute
    strategies_s: float = 0.0
    bars_to_last_order_s: float = 0.0


@dataclass(slots=True)
class SkippedMinutes:
    """Minutes a live run did not trade because they had already passed."""

    count: int = 0
    first: datetime | None = None
    last: datetime | None = None


@dataclass(slots=True)
class RunTotals:
    """Counters over the whole run."""

    minutes: int = 0
    orders: dict[str, int] = field(default_factory=dict)
    last_minute: datetime | None = None


class Prepared(NamedTuple):
    """A team's order intent and the order prepared for it (held, not yet durable nor sent)."""

    intent: OrderIntent
    order: Order


# one of a team's intents after `prepare`: a cancel, a prepared order, or None (refused)
_NOW_OR_NEVER = frozenset({TimeInForce.IOC, TimeInForce.FOK})
Step = CancelIntent | ReplaceIntent | Prepared | None


class Orchestrator:
    """Runs every team's strategy each market minute and turns what comes back into orders."""

    def __init__(
        self,
        *,
        teams: Sequence[TeamSpec],
        tracker: OrderTracker,
        strategies: Strategies,
        feed: MarketFeed,
        calendar: Calendar,
        clock: Clock,
        venue: Venue | None = None,
        history_minutes: int = 60,
        skip_stale: bool = False,
        fast_forward_closed: bool = False,
        versions: StrategyVersions | None = None,
    ) -> None:
        """`skip_stale` (live runs): a minute whose turn comes after the next one has also ended
        is skipped, never run on old bars. `fast_forward_closed` (simulated runs): while no
        symbol trades, the clock jumps to the minute before the next open instead of pacing
        through the night. Listeners (`listen`) hear of each minute."""
        self.teams = {spec.team_id: spec for spec in teams}
        self.tracker = tracker
        self.strategies = strategies
        self.feed = feed
        self.calendar = calendar
        self.clock = clock
        self.venue = venue
        self.history_minutes = history_minutes
        self.skip_stale = skip_stale
        self.fast_forward_closed = fast_forward_closed
        self.versions = versions
        self.last_market: dict[str, Any] | None = None  # the last bars and prices shown
        self.listeners: list[MinuteListener] = []
        self.skipped = SkippedMinutes()
        self.totals = RunTotals(orders={team_id: 0 for team_id in self.teams})
        self.prices: dict[str, Decimal] = {}
        self._stop = asyncio.Event()

    # the loop

    def listen(self, listener: MinuteListener) -> None:
        """Tell `listener` about every minute from now on."""
        self.listeners.append(listener)

    def stop(self) -> None:
        """Finish the current minute, then return from `run` (no new signals after it)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run(self, first_minute: datetime, last_minute: datetime | None = None) -> None:
        """Run each minute once it has passed on the clock, until `last_minute` or `stop()`."""
        minute = first_minute
        while not self._stop.is_set() and (last_minute is None or minute <= last_minute):
            if self.fast_forward_closed:
                minute = self.past_the_closed_market(minute)
                if last_minute is not None and minute > last_minute:
                    break
            if not await self._wait_for(minute + MINUTE):
                break
            if self.skip_stale:
                latest = self.clock.now().replace(second=0, microsecond=0) - MINUTE
                if latest > minute:
                    if last_minute is not None and latest > last_minute:
                        self.skip_minutes(minute, last_minute)
                        break
                    self.skip_minutes(minute, latest - MINUTE)
                    minute = latest
            await self.run_minute(minute)
            minute += MINUTE

    def past_the_closed_market(self, minute: datetime) -> datetime:
        """`minute`, or, when nothing trades in it nor in the next one, the minute before the
        next session opens (the strategies see the open coming, as in a contiguous run)."""
        if self.open_symbols(minute) or self.open_symbols(minute + MINUTE):
            return minute
        resume = self.calendar.next_open(minute) - MINUTE
        if resume <= minute:
            return minute
        log.info(
            "Market closed: fast-forwarding to %s, the minute before the next open",
            resume.strftime("%Y-%m-%d %H:%M UTC"),
            extra={"minute": minute},
        )
        return resume

    def skip_minutes(self, first: datetime, last: datetime) -> None:
        """Record and log, once, the minutes `first`..`last` as skipped (they have passed)."""
        count = int((last - first) / MINUTE) + 1
        if count <= 0:
            return
        skipped = self.skipped
        skipped.count += count
        skipped.first = first if skipped.first is None else min(skipped.first, first)
        skipped.last = last if skipped.last is None else max(skipped.last, last)
        shape = "%H:%M" if first.date() == last.date() else "%Y-%m-%d %H:%M"
        span = (
            f"{first.strftime(shape)} UTC"
            if count == 1
            else f"{first.strftime(shape)} to {last.strftime(shape)} UTC"
        )
        log.warning(
            "Skipped %d missed minute%s (%s): a live run never trades a past minute",
            count,
            "" if count == 1 else "s",
            span,
        )

    async def _wait_for(self, moment: datetime) -> bool:
        """Sleep until `moment` on the clock; False when stopped first."""
        sleeper = asyncio.ensure_future(self.clock.pace_to(moment))
        stopper = asyncio.ensure_future(self._stop.wait())
        done, pending = await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return sleeper in done and not self._stop.is_set()

    # the minute

    async def run_minute(self, minute: datetime) -> MinuteReport:
        """One market minute, as a story."""
        token = current_minute.set(minute)  # every line logged from here on names the minute
        try:
            return await self._run_minute(minute)
        finally:
            current_minute.reset(token)

    async def _run_minute(self, minute: datetime) -> MinuteReport:
        started = time.perf_counter()
        report = MinuteReport(minute=minute)
        await self.swap_strategies(minute)
        await self.feed.refresh(minute)
        bars = self.take_bars(minute)
        self.advance_exchange(minute)
        await self.let_tracker_catch_up()
        self.update_prices(minute, bars)
        open_symbols = self.open_symbols(minute + MINUTE)
        if open_symbols and not self.gone_stale(minute):
            views = self.build_views(minute, open_symbols)
            strategies_started = time.perf_counter()
            results = await self.strategies.run_minute(views)
            report.strategies_s = time.perf_counter() - strategies_started
            report.teams_run = len(results)
            if self.versions is not None:
                self.versions.after_minute(minute, results)
            intents = self.validate(results, open_symbols, report)
            if intents:
                # progress past this minute is durable before any of its orders leaves: a kill
                # mid-send restarts at the next minute, never sending this one's orders twice
                for listener in self.listeners:
                    listener.before_send(minute)
            await self.send(intents, report)
        # the minute's changes reach the open-orders files on the writer thread: nothing waits
        # for that (what a restart needs is in the intent log, the ledger and the history)
        self.tracker.flush_soon()
        self.tracker.write_snapshots()
        finished = time.perf_counter()
        report.bars_to_last_order_s = finished - started
        report.overhead_s = report.bars_to_last_order_s - report.strategies_s
        self.totals.minutes += 1
        self.totals.last_minute = minute
        for listener in self.listeners:
            listener.minute_done(report)
        return report

    async def swap_strategies(self, minute: datetime) -> None:
        """A team whose active version changed runs the new one from this minute on."""
        if self.versions is not None:
            await self.versions.before_minute(minute)

    def gone_stale(self, minute: datetime) -> bool:
        """A live minute whose next minute has ended too (fetching its bars stalled): its
        strategies are not run, so no order is sent on old bars."""
        if not self.skip_stale or self.clock.now() < minute + 2 * MINUTE:
            return False
        self.skip_minutes(minute, minute)
        return True

    def take_bars(self, minute: datetime) -> dict[str, Bar]:
        """The minute's bars of the symbols trading in it."""
        return {
            symbol: bar
            for symbol, bar in self.feed.bars_at(minute).items()
            if self.calendar.is_open(symbol, minute)
        }

    def advance_exchange(self, minute: datetime) -> None:
        """Let the simulated exchange match resting orders against the minute's bars."""
        if self.venue is not None:
            self.venue.step(minute)

    async def let_tracker_catch_up(self) -> None:
        """Strategies must see the fills and expiries the exchange just produced."""
        if self.venue is not None:
            try:
                await asyncio.wait_for(self.venue.settle(), SETTLE_TIMEOUT_S)
            except TimeoutError:
                log.warning("Tracker still applying updates after %ss; going on", SETTLE_TIMEOUT_S)

    def update_prices(self, minute: datetime, bars: Mapping[str, Bar]) -> None:
        """Last prices for reservations, portfolio values and the strategies."""
        for symbol in self.feed.universe:
            bar = bars.get(symbol)
            if bar is not None:
                self.prices[symbol] = bar.close
            elif symbol not in self.prices:
                last = self.feed.last_price(symbol, minute + MINUTE)
                if last is not None:
                    self.prices[symbol] = last
        self.tracker.set_prices(self.prices)

    def open_symbols(self, moment: datetime) -> set[str]:
        """Symbols that can trade at `moment` (strategies act once their minute's bar is done)."""
        return {s for s in self.feed.universe if self.calendar.is_open(s, moment)}

    def build_views(self, minute: datetime, open_symbols: set[str]) -> dict[str, dict[str, Any]]:
        """Each team's view: free cash, positions, open orders, bars with history, prices."""
        bars = self.market_view(minute, open_symbols)
        prices = {s: float(p) for s, p in self.prices.items() if s in open_symbols}
        views: dict[str, dict[str, Any]] = {}
        for team_id, spec in self.teams.items():
            portfolio = self.tracker.portfolio(team_id)
            team = {
                "id": team_id,
                "cash": float(self.tracker.free_cash(team_id)),
                "positions": {
                    symbol: {"quantity": float(p.quantity), "avg_cost": float(p.avg_cost)}
                    for symbol, p in portfolio.positions.items()
                },
                "params": self._params(team_id, spec),
                "open_orders": [order_view(o) for o in self.tracker.open_orders(team_id)],
            }
            views[team_id] = {"team": team, "bars": bars, "current_prices": prices}
        self.last_market = {"bars": bars, "current_prices": prices}
        return views

    def _params(self, team_id: str, spec: TeamSpec) -> dict[str, Any]:
        """The params of the version the team runs now (a swap may have changed them)."""
        params = self.versions.params_of(team_id) if self.versions is not None else None
        return dict(spec.params if params is None else params)

    def market_view(self, minute: datetime, symbols: set[str]) -> dict[str, dict[str, list[Any]]]:
        """Bars of the last `history_minutes` per symbol as lists (shared by every team)."""
        view: dict[str, dict[str, list[Any]]] = {}
        for symbol in sorted(symbols):
            history = self.feed.history(symbol, minute + MINUTE, self.history_minutes)
            if not history:
                continue
            view[symbol] = {
                "timestamp": [b.timestamp.isoformat() for b in history],
                "open": [float(b.open) for b in history],
                "high": [float(b.high) for b in history],
                "low": [float(b.low) for b in history],
                "close": [float(b.close) for b in history],
                "volume": [float(b.volume) for b in history],
            }
        return view

    def validate(
        self,
        results: Mapping[str, StrategyResult],
        open_symbols: set[str],
        report: MinuteReport,
    ) -> dict[str, list[Intent]]:
        """Turn each team's raw signals into intents; every problem is a line in errors.jsonl."""
        intents: dict[str, list[Intent]] = {}
        for team_id, result in results.items():
            if result.error is not None:
                report.errors += 1
                self.tracker.record_error(
                    team_id, result.error.phase, result.error.message, result.error.signal
                )
                continue
            report.signals += len(result.signals)
            for raw in result.signals:
                try:
                    intent = validate_signal(raw, self.feed.universe, self.prices)
                    if (
                        isinstance(intent, OrderIntent)
                        and intent.symbol not in open_symbols
                        and intent.time_in_force in _NOW_OR_NEVER
                    ):
                        # other orders wait for the open at the broker, as on Alpaca
                        raise InvalidSignal(
                            f"market closed for {intent.symbol}: a "
                            f"{intent.time_in_force.value} order cannot wait for the open",
                            raw,
                        )
                except InvalidSignal as e:
                    report.errors += 1
                    self.tracker.record_error(team_id, "validation", e.message, raw)
                    continue
                intents.setdefault(team_id, []).append(intent)
        return intents

    async def send(self, intents: Mapping[str, list[Intent]], report: MinuteReport) -> None:
        """Send every team's orders and cancels: all new orders are made durable together (a
        group commit: one sync for the minute), then teams go in parallel, each in order."""
        steps = {team_id: self._prepare_team(team_id, items) for team_id, items in intents.items()}
        for team_id in steps:
            report.errors += sum(1 for step in steps[team_id] if step is None)
        prepared = [step for team in steps.values() for step in team if isinstance(step, Prepared)]
        try:
            self.tracker.write_ahead([step.order for step in prepared])
        except QTCError as e:
            log.error("The minute's %d new orders were not recorded: %s", len(prepared), e)
            for step in prepared:
                report.errors += 1
                self.tracker.record_error(
                    step.order.team_id, "order", str(e), intent_record(step.intent)
                )
            steps = {t: [s for s in ss if not isinstance(s, Prepared)] for t, ss in steps.items()}
        outcomes = await asyncio.gather(
            *(self._send_team(team_id, team_steps) for team_id, team_steps in steps.items())
        )
        for sent, cancels, errors in outcomes:
            report.orders += sent
            report.cancels += cancels
            report.errors += errors

    def _prepare_team(self, team_id: str, intents: list[Intent]) -> list[Step]:
        """The team's intents in order: a prepared order, a cancel, or None for an order the
        team cannot afford (its errors.jsonl line is written here)."""
        steps: list[Step] = []
        for intent in intents:
            if isinstance(intent, CancelIntent | ReplaceIntent):
                steps.append(intent)
                continue
            try:
                order = self.tracker.prepare(team_id, intent)
            except InvalidSignal as e:
                steps.append(None)
                self.tracker.record_error(team_id, "validation", e.message, e.signal)
                continue
            version = self.versions.version_of(team_id) if self.versions is not None else None
            if version is not None:  # kept in the order's record: which version sent it
                order.extra["strategy_version"] = version
            steps.append(Prepared(intent, order))
        return steps

    async def _send_team(self, team_id: str, steps: Sequence[Step]) -> tuple[int, int, int]:
        orders = cancels = errors = 0
        for step in steps:
            if step is None:
                continue
            try:
                if isinstance(step, CancelIntent):
                    await self.tracker.cancel(team_id, step.order_id)
                    cancels += 1
                elif isinstance(step, ReplaceIntent):
                    await self.tracker.replace(team_id, step.order_id, step)
                    orders += 1
                else:
                    await self.tracker.send(step.order)
                    orders += 1
                    self.totals.orders[team_id] = self.totals.orders.get(team_id, 0) + 1
            except OrderAccessError as e:
                errors += 1
                self.tracker.record_error(team_id, "order", str(e), _signal(step))
            except QTCError as e:
                errors += 1
                log.warning("Order for team %s failed: %s", team_id, e, extra={"team": team_id})
                self.tracker.record_error(team_id, "order", str(e), _signal(step))
        return orders, cancels, errors

    # read models for the status line, the API and the summary

    def leaderboard(self) -> list[dict[str, Any]]:
        """Teams ranked by market value, with return and the orders each has sent."""
        return leaderboard_view(self.tracker, self.prices, self.totals.orders)


def _signal(step: CancelIntent | ReplaceIntent | Prepared) -> dict[str, Any]:
    """The step as the signal it came from, for its errors.jsonl line."""
    return intent_record(step.intent if isinstance(step, Prepared) else step)


def open_order_count(tracker: OrderTracker, team_ids: Sequence[str]) -> int:
    return sum(len(tracker.open_orders(t)) for t in team_ids)


def all_orders(tracker: OrderTracker, team_ids: Sequence[str]) -> list[Order]:
    return [o for t in team_ids for o in tracker.open_orders(t)]
