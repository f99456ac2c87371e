"""The order tracker: every order followed from intent to its last fill, on disk, across crashes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from qtc.brokers.base import Broker
from qtc.clock import Clock
from qtc.crashpoints import crash_point
from qtc.domain.enums import OrderStatus
from qtc.domain.errors import (
    BrokerAuthError,
    BrokerError,
    BrokerUnavailable,
    InvalidSignal,
    OrderClosed,
    OrderNotCancelable,
    OrderNotFound,
    OrderNotRecorded,
    OrderRejected,
    UnknownOrder,
)
from qtc.domain.events import EVENT_STATUS
from qtc.domain.orders import BrokerOrder, Order, StreamConnected, TradeUpdate
from qtc.domain.portfolio import reservations
from qtc.domain.signals import OrderIntent, ReplaceIntent
from qtc.store.base import Store
from qtc.tracking.applier import Applier
from qtc.tracking.book import OrderIndex
from qtc.tracking.events import RETAINED, EventHub, ids_from
from qtc.tracking.intake import check_affordable, new_order, order_request
from qtc.tracking.ledger import Ledger
from qtc.tracking.loading import keep_intents_of, load_team
from qtc.tracking.logfields import about
from qtc.tracking.notify import LiveEvents, OrderLog, SnapshotAfterFill
from qtc.tracking.ports import TrackerView
from qtc.tracking.queries import TrackerQueries
from qtc.tracking.reconcile import Reconciler, ReconcileResult
from qtc.tracking.recorder import Recorder
from qtc.tracking.replacing import as_intent, replace_request, replacement
from qtc.tracking.reserved import TeamReservations

__all__ = ["OrderTracker", "ReconcileResult"]

_RETRY_STREAM = timedelta(seconds=1)
# broker requests a minute that the periodic reconcile may spend: a quarter of Alpaca's 200,
# so that submits and cancels keep the rest however many orders are open
RECONCILE_BUDGET_PER_MINUTE = 50


class OrderTracker(TrackerQueries):
    """Intake with write-ahead, updates from stream and poll, reconciliation, cancel, cleanup."""

    def __init__(
        self,
        *,
        store: Store,
        broker: Broker,
        clock: Clock,
        teams: Mapping[str, Decimal],
        reconcile_interval: float = 30.0,
        retention_days: float = 7.0,
        cleanup_interval: float = 3600.0,
        flush_delay: float = 0.1,
        market_margin: Decimal = Decimal("0.05"),
        logger: logging.Logger | None = None,
        speed: float = 1.0,
        events_retained: int = RETAINED,
    ) -> None:
        """`teams`: team_id -> initial cash. Nothing is read until `load()`.

        `reconcile_interval` and `cleanup_interval` are real seconds; `speed` is how many of
        the clock's seconds pass in one real second (an accelerated clock counts them faster).
        `events_retained`: live events kept per team for clients that reconnect.

        `flush_delay`: seconds during which changes to open orders are gathered into one
        rewrite of a team's pending_orders.jsonl (new orders are written ahead at once).
        """
        self.store = store
        self.broker = broker
        self.clock = clock
        self.teams = dict(teams)
        self.reconcile_interval = reconcile_interval
        self.reconcile_wait = reconcile_interval  # real seconds until the next periodic one
        self.retention = timedelta(days=retention_days)
        self.cleanup_interval = cleanup_interval
        self.speed = speed
        self.market_margin = market_margin
        self.log = logger or logging.getLogger("qtc.tracker")
        self.book = OrderIndex()
        self.reserved = TeamReservations(self.book, market_margin)
        self.ledger = Ledger(store, self.teams, self.log)
        self.hub = EventHub(first_id=ids_from(clock.now()), retained=events_retained)
        self._prices: dict[str, Decimal] = {}
        self.recorder = Recorder(
            book=self.book,
            ledger=self.ledger,
            store=store,
            now=clock.now,
            log=self.log,
            flush_delay=flush_delay,
        )
        self.recorder.listen(OrderLog(self.log))
        self.recorder.listen(LiveEvents(self.hub))
        self.recorder.listen(SnapshotAfterFill(self.recorder, lambda: self._prices))
        self.applier = Applier(
            book=self.book,
            ledger=self.ledger,
            recorder=self.recorder,
            teams=self.teams,
            now=clock.now,
            log=self.log,
        )
        self.reconciler = Reconciler(
            broker, self.applier, self.recorder, self.book, self.ledger.held, self.teams, self.log
        )
        self._in_flight: set[str] = set()
        self._cancels: dict[str, asyncio.Task[Order]] = {}  # one broker cancel per order
        self._reconcile_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        # told of every reconcile cycle and its real seconds (the run's metrics listen)
        self.reconcile_listeners: list[Callable[[ReconcileResult, float], None]] = []

    # lifecycle

    async def load(self) -> ReconcileResult:
        """Replay ledgers, load open orders and history, then reconcile with the broker
        (resolving orders left `pending_new` by a crash) before the first tick."""
        cutoff = self.clock.now() - self.retention
        fills = opened = 0
        intents: dict[str, list[Order]] = {}
        for order in self.store.load_intents():
            intents.setdefault(order.team_id, []).append(order)
        for team_id in self.teams:
            loaded = load_team(
                team_id,
                self.store,
                self.ledger,
                self.book,
                cutoff,
                self.log,
                intents.get(team_id, ()),
            )
            fills += loaded.fills
            opened += loaded.open_orders
            if loaded.stale_open_file:
                self.recorder.mark_dirty(team_id)
        for team_id in sorted(set(intents) - set(self.teams)):
            keep_intents_of(team_id, self.store, intents[team_id])
        unknown = sorted(set(self.store.team_ids()) - set(self.teams))
        if unknown:
            self.log.warning("Ignoring stored data of teams not in this run: %s", unknown)
        self.log.info(
            "Loaded %d teams: %d fills replayed, %d open orders", len(self.teams), fills, opened
        )
        await self.reconciler.heal_write_ahead()
        result = await self.reconcile()
        self.flush()
        return result

    async def run_stream(self) -> None:
        """Apply the broker's update stream until the broker closes; each (re)connect triggers a
        reconcile (events sent while the stream was down are never replayed)."""
        while True:
            try:
                async for item in self.broker.updates():
                    if isinstance(item, StreamConnected):
                        self._spawn(self._reconcile_logged())
                        continue
                    try:
                        await self.apply_update(item)
                    except Exception:
                        self.log.exception("Could not apply update %s", item)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.log.warning("Update stream failed (%s); reconnecting", e)
                await self.clock.sleep_until(self.clock.now() + _RETRY_STREAM)

    async def run_reconcile_loop(self) -> None:
        """Reconcile every `reconcile_interval` real seconds, forever; a cycle that took many
        requests (many open orders: one listing page per 500) waits longer before the next,
        so the periodic reconcile never spends more than RECONCILE_BUDGET_PER_MINUTE."""
        self.log.info(
            "Starting background order reconciliation loop (%gs interval)...",
            self.reconcile_interval,
        )
        while True:
            await self.clock.sleep_until(
                self.clock.now() + timedelta(seconds=self.reconcile_wait * self.speed)
            )
            result = await self._reconcile_logged()
            self.reconcile_wait = reconcile_wait(self.reconcile_interval, result)

    async def run_cleanup_loop(self) -> None:
        """Drop old terminal orders from memory every `cleanup_interval` real seconds, forever."""
        while True:
            await self.clock.sleep_until(
                self.clock.now() + timedelta(seconds=self.cleanup_interval * self.speed)
            )
            self.cleanup(self.clock.now())

    def flush_soon(self) -> None:
        """`flush` on the writer thread, once the current burst of changes is over."""
        self.recorder.flush_soon()

    def flush(self) -> None:
        """Write the open orders of every team changed since the last flush (one rewrite each)
        and sync the lines written, now (the loop waits for it)."""
        self.recorder.flush()

    async def close(self) -> None:
        """Stop background reconciles started by the stream and flush."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.recorder.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconcile_logged(self) -> ReconcileResult | None:
        try:
            return await self.reconcile()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("Reconciliation failed")
            return None

    # commands

    async def submit(self, team_id: str, intent: OrderIntent) -> Order:
        """Write-ahead (`pending_new` on disk), then send to the broker: one order on its own
        (a minute's orders go through `prepare`, `write_ahead` and `send` as one batch).

        Raises InvalidSignal when the team cannot afford it (nothing is recorded: the caller
        writes it to errors.jsonl with `record_error`), OrderNotRecorded when it could not be
        made durable (nothing is sent).
        """
        order = self.prepare(team_id, intent)
        self.write_ahead([order])
        return await self.send(order)

    def prepare(self, team_id: str, intent: OrderIntent) -> Order:
        """A new `pending_new` order for the intent, held in memory (so that the team's next
        intent sees its reservation) but not yet durable nor sent.

        Raises InvalidSignal when the team cannot afford it: nothing is held."""
        self._check_team(team_id)
        check_affordable(
            intent,
            self.ledger.portfolios[team_id],
            self.reserved.of(team_id, self._prices),
            self._prices,
            self.market_margin,
        )
        order = new_order(team_id, intent, self.clock.now())
        self.book.add(order)
        self._in_flight.add(order.order_id)
        return order

    def write_ahead(self, orders: Sequence[Order]) -> None:
        """Make prepared orders durable together, with one sync: nothing is sent before its
        intent is on disk. Raises OrderNotRecorded (and forgets them all) when that fails."""
        try:
            self.recorder.write_ahead(orders)
        except OSError as e:
            for order in orders:
                self.book.drop(order)
                self._in_flight.discard(order.order_id)
            raise OrderNotRecorded(
                f"order not placed: it could not be recorded on disk first ({e.strerror})"
            ) from e
        for order in orders:
            self.log.info(
                "Stored pending %s order %s for %s",
                order.order_type.value,
                order.order_id,
                order.symbol,
                extra=about(order),
            )

    async def send(self, order: Order) -> Order:
        """Send a durable prepared order to the broker and apply its answer.

        A broker rejection leaves the order `rejected` with the reason (and an errors.jsonl
        line). When the broker's answer is lost (BrokerUnavailable) the order is looked up by
        client order id, never resubmitted; if still unknown it stays `pending_new` until
        reconciliation settles it."""
        try:
            await self._send(order)
        finally:
            self._in_flight.discard(order.order_id)
        self.recorder.mark_dirty(order.team_id, order)
        return order

    async def _send(self, order: Order) -> None:
        request = order_request(order)
        await self._place(order, lambda: self.broker.submit(request), "broker.submit")

    async def _place(
        self,
        order: Order,
        call: Callable[[], Awaitable[BrokerOrder]],
        point: str,
    ) -> None:
        """Send a durable new order with `call` (a submit, or a replace naming it by our id)
        and apply the answer; an unknown outcome is looked up, never sent twice."""
        try:
            crash_point(f"{point}.before")
            snap = await call()
            crash_point(f"{point}.after")
        except OrderRejected as e:
            self.log.warning(
                "Order %s rejected by broker: %s", order.order_id, e.reason, extra=about(order)
            )
            self.applier.close_locally(order, OrderStatus.REJECTED, e.reason)
            return
        except BrokerAuthError as e:
            self.applier.close_locally(order, OrderStatus.REJECTED, f"broker refused: {e}")
            return
        except BrokerError as e:
            # the order may or may not have arrived: look, never resubmit blindly
            self.log.warning(
                "Submit of order %s failed (%s); looking it up",
                order.order_id,
                e,
                extra=about(order),
            )
            try:
                snap = await self.broker.get_order_by_client_id(order.order_id)
            except OrderNotFound:
                self.applier.strike(order)
                self.log.warning(
                    "Order %s not found at broker yet; reconciliation will settle it",
                    order.order_id,
                    extra=about(order),
                )
                return
            except BrokerError as lookup_error:
                self.log.warning(
                    "Lookup of order %s failed: %s",
                    order.order_id,
                    lookup_error,
                    extra=about(order),
                )
                return
        self.applier.apply(snap, None, snap.updated_at)

    async def replace(self, team_id: str, order_id: str, intent: ReplaceIntent) -> Order:
        """Replace an open order (Alpaca's PATCH): returns the new order, which the old one's
        fills never move to. Raises UnknownOrder, OrderClosed, InvalidSignal (not a change
        Alpaca allows, or not affordable), OrderNotRecorded as `submit` does."""
        old = self.get_order(team_id, order_id)
        if old is None:
            raise UnknownOrder(f"order {order_id} not found")
        if not old.is_open:
            raise OrderClosed(old.order_id, old.status.value)
        if old.broker_order_id is None:
            raise BrokerUnavailable(
                f"order {old.order_id} is not yet known to the broker; try again shortly"
            )
        new = replacement(old, intent, self.clock.now())
        others = [o for o in self.book.open_orders(team_id) if o.order_id != old.order_id]
        check_affordable(
            as_intent(new),
            self.ledger.portfolios[team_id],
            reservations(others, self._prices, self.market_margin),
            self._prices,
            self.market_margin,
        )
        self.book.add(new)
        self._in_flight.add(new.order_id)
        self.write_ahead([new])
        broker_id, request = old.broker_order_id, replace_request(new, intent)
        try:
            await self._place(
                new, lambda: self.broker.replace(broker_id, request), "broker.replace"
            )
        finally:
            self._in_flight.discard(new.order_id)
        if new.status is not OrderStatus.REJECTED:
            old.replaced_by = new.order_id
        self.recorder.mark_dirty(team_id, old)
        self.recorder.mark_dirty(team_id, new)
        self.log.info(
            "Order %s replaced by %s (%s)",
            old.order_id,
            new.order_id,
            new.status.value,
            extra=about(new),
        )
        return new

    def _check_team(self, team_id: str) -> None:
        if team_id not in self.teams:
            raise InvalidSignal(f"unknown team {team_id!r}")

    async def cancel(self, team_id: str, order_id: str) -> Order:
        """Ask the broker to cancel; returns the order (normally `pending_cancel`).

        Raises UnknownOrder (no such order for this team) or OrderClosed (already terminal,
        with its status); TransientBrokerError if the broker cannot be reached. Parallel
        cancels of one order share one broker call and its answer.
        """
        order = self.get_order(team_id, order_id)
        if order is None:
            raise UnknownOrder(f"order {order_id} not found")
        if not order.is_open:
            raise OrderClosed(order.order_id, order.status.value)
        if order.status is OrderStatus.PENDING_CANCEL:
            return order  # the broker has the request; it says how the order ends
        task = self._cancels.get(order.order_id)
        if task is None:
            task = asyncio.ensure_future(self._cancel_at_broker(order))
            self._cancels[order.order_id] = task
            task.add_done_callback(lambda _: self._cancels.pop(order.order_id, None))
        return await asyncio.shield(task)

    async def _cancel_at_broker(self, order: Order) -> Order:
        if order.broker_order_id is None:
            try:
                snap = await self.broker.get_order_by_client_id(order.order_id)
            except OrderNotFound:
                raise BrokerUnavailable(
                    f"order {order.order_id} is not yet known to the broker; try again shortly"
                ) from None
            self.applier.apply(snap, None, snap.updated_at)
            if not order.is_open:
                raise OrderClosed(order.order_id, order.status.value)
        broker_id = order.broker_order_id
        assert broker_id is not None
        before = (order.status, order.updated_at, order.filled_qty)
        try:
            crash_point("broker.cancel.before")
            await self.broker.cancel(broker_id)
            crash_point("broker.cancel.after")
        except OrderNotCancelable:
            snap = await self.broker.get_order(broker_id)
            self.applier.apply(snap, None, snap.updated_at)
            if not order.is_open:
                raise OrderClosed(order.order_id, order.status.value) from None
            raise
        if (order.status, order.updated_at, order.filled_qty) == before:
            # unless the broker already said how the cancel went (an event came first)
            self.applier.cancel_requested(order)
        self.log.info(
            "Cancel requested for order %s (%s)",
            order.order_id,
            order.status.value,
            extra=about(order),
        )
        return order

    async def apply_update(self, update: TradeUpdate) -> None:
        """Apply one stream event (or poll result): monotone status, fills from cumulative qty."""
        status = EVENT_STATUS.get(update.event)
        self.applier.apply(
            update.order,
            status,
            update.timestamp,
            execution_id=update.execution_id,
            qty=update.qty,
            price=update.price,
        )

    async def reconcile(self) -> ReconcileResult:
        """One reconciliation cycle (DESIGN §4): list open orders in pages of 500, fetch by id
        only the held orders the listing misses, 3-strikes policy for orders the broker lost."""
        async with self._reconcile_lock:
            started = time.perf_counter()
            result = await self.reconciler.run(self._in_flight)
        for listener in self.reconcile_listeners:
            listener(result, time.perf_counter() - started)
        return result

    def cleanup(self, now: datetime) -> int:
        """Drop terminal orders last updated more than `retention_days` before `now`;
        returns how many were dropped."""
        old = self.book.terminal_before(now - self.retention)
        for order in old:
            self.book.drop(order)
        if old:
            self.log.info("Cleaned up %d closed orders older than %s", len(old), self.retention)
        self.recorder.flush_soon()
        return len(old)

    @property
    def degraded(self) -> str | None:
        """Why the run is degraded (durable writes failing; changes wait unacknowledged and
        are retried), None when healthy."""
        return self.recorder.degraded

    def set_prices(self, prices: Mapping[str, Decimal]) -> None:
        """The latest price of each symbol (used for market-order reservations and values)."""
        self._prices.update(prices)

    def write_snapshots(self) -> None:
        """Append a portfolio snapshot for every team (the orchestrator calls it each minute)."""
        for team_id in self.teams:
            self.recorder.write_snapshot(team_id, self._prices)

    def record_error(self, team_id: str, phase: str, message: str, signal: Any = None) -> None:
        """Append a line to the team's errors.jsonl (timestamp, phase, message, signal)."""
        self.recorder.record_error(team_id, phase, message, _json_safe(signal))


def reconcile_wait(interval: float, last: ReconcileResult | None) -> float:
    """Real seconds until the next periodic reconcile: `interval`, or longer when the last
    cycle's requests at this pace would pass RECONCILE_BUDGET_PER_MINUTE."""
    requests = last.requests if last is not None else 0
    return max(interval, requests * 60.0 / RECONCILE_BUDGET_PER_MINUTE)


def _json_safe(value: Any) -> Any:
    """A value as JSON can hold it (decimals and other objects become strings)."""
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return repr(value)[:500]


def _implements_view(tracker: OrderTracker) -> TrackerView:
    """Never called: mypy proves here that OrderTracker is a TrackerView."""
    return tracker
