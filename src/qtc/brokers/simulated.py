"""The `Broker` port over the in-process simulated exchange engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import datetime

from qtc.brokers.base import MAX_LIST_LIMIT, ListStatus
from qtc.clock import Clock
from qtc.domain.errors import BrokerUnavailable
from qtc.domain.market import Bar
from qtc.domain.orders import (
    BrokerOrder,
    OrderRequest,
    ReplaceRequest,
    StreamConnected,
    TradeUpdate,
)
from qtc.exchange.engine.matching import ExchangeEngine

StreamItem = TradeUpdate | StreamConnected


class _UpdateStream:
    """One subscriber's view of the updates; registered when created, so nothing emitted
    between `updates()` and the first `__anext__` is lost."""

    def __init__(self, broker: SimulatedBroker) -> None:
        self._broker = broker
        self._queue: asyncio.Queue[StreamItem | None] = asyncio.Queue()
        self._done = False
        self._handed_out = False  # an item was yielded and its consumer has not asked again
        self._queue.put_nowait(StreamConnected(broker.clock.now()))
        broker.stream_connects += 1

    def push(self, item: StreamItem | None) -> None:
        self._queue.put_nowait(item)

    def __aiter__(self) -> _UpdateStream:
        return self

    async def __anext__(self) -> StreamItem:
        if self._handed_out:
            # the consumer asks for the next item: it has finished with the previous one
            self._handed_out = False
            self._queue.task_done()
        if self._done:
            raise StopAsyncIteration
        item = await self._queue.get()
        self._handed_out = True
        if item is None:
            self._done = True
            self._broker._streams.discard(self)
            raise StopAsyncIteration
        return item

    async def settled(self) -> None:
        """Return once the consumer has finished with every item queued so far."""
        await self._queue.join()

    async def aclose(self) -> None:
        """Stop this stream; later events are not queued for it."""
        self._done = True
        self._broker._streams.discard(self)


class SimulatedBroker:
    """A Broker whose orders live in an ExchangeEngine in the same process."""

    name = "simulated"

    def __init__(self, engine: ExchangeEngine, clock: Clock) -> None:
        """Wrap `engine`; `clock` stamps submits, cancels and stream connects."""
        self.engine = engine
        self.clock = clock
        self._streams: set[_UpdateStream] = set()
        self._paused = False
        self._closed = False
        self.stream_connects = 0  # StreamConnected sent, to any subscriber
        self._sync: asyncio.Future[None] | None = None  # the group sync under way
        self._held: list[TradeUpdate] = []  # events of commands not yet durable
        self._unsubscribe = engine.subscribe(self._on_update)

    @property
    def stream_connected(self) -> bool:
        """False while the stream is paused (a simulated drop) or after close."""
        return not (self._paused or self._closed)

    def _on_update(self, update: TradeUpdate) -> None:
        if self._paused:
            return
        if self._sync is not None:
            self._held.append(update)  # told once the command that made it is durable
            return
        for stream in list(self._streams):
            stream.push(update)

    async def submit(self, request: OrderRequest) -> BrokerOrder:
        """Place an order; fills that happen at once are queued on the stream. Answered once
        the exchange's journal holds it (one sync for every command of the same moment).

        BrokerUnavailable when the exchange cannot journal the command: it did not happen, or
        its sync failed and it may have (the caller looks it up, as after a lost answer)."""
        try:
            order = self.engine.submit(request, self.clock.now())
        except OSError as e:
            raise BrokerUnavailable(f"simulated exchange cannot journal the order: {e}") from e
        await self._durable()
        return order

    async def cancel(self, broker_order_id: str) -> None:
        """Cancel an open order; the `canceled` event is queued on the stream."""
        try:
            self.engine.cancel(broker_order_id, self.clock.now())
        except OSError as e:
            raise BrokerUnavailable(f"simulated exchange cannot journal the cancel: {e}") from e
        await self._durable()

    async def replace(self, broker_order_id: str, request: ReplaceRequest) -> BrokerOrder:
        """Replace an open order; returns the new order (`replaced` then `new` are queued on
        the stream). Answered once the exchange's journal holds it, as `submit`."""
        try:
            order = self.engine.replace(broker_order_id, request, self.clock.now())
        except OSError as e:
            raise BrokerUnavailable(f"simulated exchange cannot journal the replace: {e}") from e
        await self._durable()
        return order

    async def _durable(self) -> None:
        """Wait for the group sync covering every command so far: the first caller of a loop
        turn schedules it, the others of that turn share it."""
        if self._sync is None:
            loop = asyncio.get_running_loop()
            self._sync = loop.create_future()
            loop.call_soon(self._sync_now)
        await asyncio.shield(self._sync)

    def _sync_now(self) -> None:
        done, self._sync = self._sync, None
        held, self._held = self._held, []
        try:
            self.engine.sync()
        except OSError as e:
            failed: OSError | None = e
        else:
            failed = None
        for update in held:  # the engine in memory is the exchange's truth while it runs
            self._on_update(update)
        if done is None:
            return
        if failed is None:
            done.set_result(None)
            return
        # the answers are lost, as after a dropped connection: callers look the orders up
        done.set_exception(BrokerUnavailable(f"simulated exchange cannot sync: {failed}"))
        done.exception()  # retrieved, so that a caller cancelled meanwhile logs nothing

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """One order by the exchange's id; OrderNotFound if there is none."""
        return self.engine.get(broker_order_id)

    async def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        """One order by our id; OrderNotFound if there is none."""
        return self.engine.get_by_client_id(client_order_id)

    async def list_orders(
        self,
        status: ListStatus = "open",
        after: datetime | None = None,
        limit: int = MAX_LIST_LIMIT,
    ) -> list[BrokerOrder]:
        """Orders submitted strictly after `after`, oldest first, at most `limit` (<= 500)."""
        await asyncio.sleep(0)  # a request: the loop turns, as while a real broker answers
        return self.engine.list(status, after, min(limit, MAX_LIST_LIMIT))

    def updates(self) -> AsyncIterator[TradeUpdate | StreamConnected]:
        """A new stream: StreamConnected first, then every event the engine emits from now on."""
        stream = _UpdateStream(self)
        if self._closed:
            stream.push(None)
        else:
            self._streams.add(stream)
        return stream

    async def settle(self) -> None:
        """Wait until every subscriber has finished with every event emitted so far (the
        orchestrator lets the tracker catch up before strategies look at their orders)."""
        if self._sync is not None:
            await asyncio.shield(self._sync)
        await asyncio.gather(*(stream.settled() for stream in list(self._streams)))

    def pause_stream(self) -> None:
        """Simulate a dropped stream: events are lost until `resume_stream`."""
        self._paused = True

    def resume_stream(self) -> None:
        """Simulate a reconnect: every stream yields StreamConnected, then new events."""
        self._paused = False
        connected = StreamConnected(self.clock.now())
        for stream in list(self._streams):
            stream.push(connected)
            self.stream_connects += 1

    async def advance(
        self, minute: datetime, bars: Mapping[str, Bar], now: datetime | None = None
    ) -> None:
        """Run the engine's matching for `minute` (see ExchangeEngine.on_minute)."""
        self.engine.on_minute(minute, bars, now)

    async def end_session(self, now: datetime | None = None) -> list[BrokerOrder]:
        """Expire open day orders at the session close (default: the clock's now)."""
        return self.engine.end_session(self.clock.now() if now is None else now)

    async def close(self) -> None:
        """End every stream and stop listening to the engine."""
        if self._closed:
            return
        self._closed = True
        self._unsubscribe()
        for stream in list(self._streams):
            stream.push(None)
