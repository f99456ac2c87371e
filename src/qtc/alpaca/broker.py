"""The `Broker` port on Alpaca through alpaca-py: REST in worker threads, `trade_updates` stream.

Retries belong to this adapter (alpaca-py's own are switched off), and every request, retries
included, passes the shared RequestBudget. A 429 is retried with backoff for every call (nothing
was decided); a 5xx, timeout or connection error is retried only for reads. After
`RetryPolicy.attempts` tries the domain error (RateLimited, BrokerUnavailable) is raised.
Ambiguous submits (5xx, timeout, connection error) are never resent: `submit` looks the order
up once by its client order id and returns it if the exchange has it; otherwise it raises
BrokerUnavailable and the tracker resolves the order later by the same lookup.

The stream runs alpaca-py's TradingStream (its reconnect loop, with backoff) as a task on the
caller's event loop; `updates()` yields StreamConnected each time the `trade_updates`
subscription is acknowledged, i.e. on every (re)connect. One consumer of `updates()` at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from alpaca.common.enums import Sort
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrderByIdRequest, GetOrdersRequest
from alpaca.trading.stream import TradingStream

from qtc.alpaca.budget import LimitedHTTPAdapter, RequestBudget, limit_rest_client
from qtc.alpaca.config import AlpacaConfig
from qtc.alpaca.translate import (
    order_from_payload,
    order_request_to_alpaca,
    orders_from_listing,
    replace_request_to_alpaca,
    trade_update_from_payload,
    translate_error,
)
from qtc.brokers.base import MAX_LIST_LIMIT, ListStatus
from qtc.domain.errors import (
    BrokerError,
    BrokerProtocolError,
    BrokerUnavailable,
    OrderNotFound,
    RateLimited,
    TransientBrokerError,
)
from qtc.domain.orders import (
    BrokerOrder,
    OrderRequest,
    ReplaceRequest,
    StreamConnected,
    TradeUpdate,
    UnreadableOrder,
)

log = logging.getLogger(__name__)

StreamItem = TradeUpdate | StreamConnected


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a call is retried (429 always; 5xx/timeouts for reads)."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, attempt: int, hint: float | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based): exponential, raised to
        the server's Retry-After, never above `max_delay`."""
        backoff = self.base_delay * 2.0 ** (attempt - 1)
        return min(max(backoff, hint or 0.0), self.max_delay)


class _Stream(TradingStream):  # type: ignore[misc]
    """alpaca-py's TradingStream, telling us each time it has (re)connected and subscribed."""

    def __init__(
        self,
        on_connect: Callable[[], None],
        on_disconnect: Callable[[], None],
        min_backoff: float,
        max_backoff: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._reconnect_min_backoff = min_backoff
        self._reconnect_max_backoff = max_backoff

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        # The "listening" acknowledgement means the subscription is live: from here on no
        # event is missed, so this is the moment to tell the tracker to reconcile.
        if msg.get("stream") == "listening":
            data = msg.get("data") or {}
            if "trade_updates" in (data.get("streams") or []):
                self._on_connect()
            else:
                log.error("trade_updates subscription refused: %s", data)
            return
        await super()._dispatch(msg)

    async def close(self) -> None:
        # alpaca-py closes the socket on every websocket error before it reconnects
        self._on_disconnect()
        await super().close()


class AlpacaBroker:
    """A Broker on an Alpaca (or Alpaca-compatible) account."""

    name = "alpaca"

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        paper: bool = True,
        base_url: str | None = None,
        stream_url: str | None = None,
        limiter: RequestBudget | None = None,
        retry: RetryPolicy | None = None,
        request_timeout: float = 10.0,
        reconnect_backoff: tuple[float, float] = (1.0, 30.0),
        now: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_workers: int = 4,
    ) -> None:
        """Build the REST client and (unstarted) stream; `base_url`/`stream_url` override
        Alpaca's endpoints (alpaca-py's `url_override`)."""
        self.limiter = limiter or RequestBudget()
        self.retry = retry or RetryPolicy()
        self._now = now
        self._sleep = sleep
        self._client = TradingClient(
            api_key=api_key,
            secret_key=secret_key,
            paper=paper,
            raw_data=True,
            url_override=base_url,
        )
        self._http: LimitedHTTPAdapter = limit_rest_client(
            self._client, self.limiter, request_timeout
        )
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="alpaca")
        self._stream = _Stream(
            on_connect=self._on_stream_connect,
            on_disconnect=self._on_stream_disconnect,
            min_backoff=reconnect_backoff[0],
            max_backoff=reconnect_backoff[1],
            api_key=api_key,
            secret_key=secret_key,
            paper=paper,
            raw_data=True,
            url_override=stream_url,
            # alpaca-py waits 180 s for a pong; a dead link should be noticed sooner.
            websocket_params={"ping_interval": 10, "ping_timeout": 20, "max_queue": 1024},
        )
        self._stream.subscribe_trade_updates(self._on_stream_message)
        self._queue: asyncio.Queue[StreamItem | None] = asyncio.Queue()
        self._stream_task: asyncio.Task[None] | None = None
        self._closed = False
        self.stream_connects = 0
        self.stream_connected = False
        self.protocol_errors = 0

    @classmethod
    def from_config(
        cls, config: AlpacaConfig, limiter: RequestBudget | None = None
    ) -> AlpacaBroker:
        """The broker of this account, sharing `limiter` with the data feed if given."""
        if config.api_key is None or config.api_secret is None:
            raise ValueError("ALPACA_API_KEY and ALPACA_API_SECRET must both be set")
        return cls(
            config.api_key,
            config.api_secret,
            paper=config.paper,
            base_url=config.base_url,
            stream_url=config.stream_url,
            limiter=limiter or RequestBudget(config.rate_limit_per_minute, 60.0),
        )

    @property
    def requests_sent(self) -> int:
        """REST requests this broker has sent (every try, every page)."""
        return self._http.sent

    async def _call(self, operation: str, fn: Callable[[], Any], *, idempotent: bool) -> Any:
        """Run one blocking alpaca-py call in a worker thread, translating its errors.

        A 429 is always retried (nothing was decided); 5xx/timeouts only for idempotent calls.
        """
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await loop.run_in_executor(self._executor, fn)
            except Exception as e:
                error = translate_error(e, operation)
                retryable = isinstance(error, RateLimited) or (
                    idempotent and isinstance(error, TransientBrokerError)
                )
                if not retryable or attempt >= self.retry.attempts:
                    raise error from e
                hint = error.retry_after if isinstance(error, RateLimited) else None
                wait = self.retry.delay(attempt, hint)
                log.warning(
                    "Alpaca %s failed (%s); retry %d in %.2fs", operation, error, attempt, wait
                )
                await self._sleep(wait)

    async def submit(self, request: OrderRequest) -> BrokerOrder:
        """Place an order; on an ambiguous failure look it up by client order id, never resend."""
        alpaca_request = order_request_to_alpaca(request)
        try:
            raw = await self._call(
                "submit", partial(self._client.submit_order, alpaca_request), idempotent=False
            )
        except BrokerUnavailable as unknown:
            log.warning(
                "Submit of %s is ambiguous (%s); looking it up", request.client_order_id, unknown
            )
            try:
                return await self.get_order_by_client_id(request.client_order_id)
            except (OrderNotFound, TransientBrokerError):
                raise unknown from None
        return order_from_payload(raw)

    async def replace(self, broker_order_id: str, request: ReplaceRequest) -> BrokerOrder:
        """Replace an open order (PATCH); returns the new order. Never resent after an ambiguous
        failure: the new order is looked up once by its client order id, as `submit` does."""
        if not _is_uuid(broker_order_id):
            raise OrderNotFound(f"no order {broker_order_id!r}")
        alpaca_request = replace_request_to_alpaca(request)
        try:
            raw = await self._call(
                "replace",
                partial(self._client.replace_order_by_id, broker_order_id, alpaca_request),
                idempotent=False,
            )
        except BrokerUnavailable as unknown:
            if request.client_order_id is None:
                raise
            log.warning("Replace of %s is ambiguous (%s); looking it up", broker_order_id, unknown)
            try:
                return await self.get_order_by_client_id(request.client_order_id)
            except (OrderNotFound, TransientBrokerError):
                raise unknown from None
        return order_from_payload(raw)

    async def cancel(self, broker_order_id: str) -> None:
        """Ask for a cancel; OrderNotCancelable if closed, OrderNotFound if unknown."""
        if not _is_uuid(broker_order_id):
            raise OrderNotFound(f"no order {broker_order_id!r}")
        await self._call(
            "cancel", partial(self._client.cancel_order_by_id, broker_order_id), idempotent=False
        )

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """One order by Alpaca's id."""
        if not _is_uuid(broker_order_id):
            raise OrderNotFound(f"no order {broker_order_id!r}")
        raw = await self._call(
            "get_order",
            partial(
                self._client.get_order_by_id, broker_order_id, GetOrderByIdRequest(nested=True)
            ),
            idempotent=True,
        )
        return order_from_payload(raw)

    async def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        """One order by our id (Alpaca's client_order_id)."""
        raw = await self._call(
            "get_order_by_client_id",
            partial(self._client.get_order_by_client_id, client_order_id),
            idempotent=True,
        )
        return order_from_payload(raw)

    async def list_orders(
        self,
        status: ListStatus = "open",
        after: datetime | None = None,
        limit: int = MAX_LIST_LIMIT,
    ) -> list[BrokerOrder | UnreadableOrder]:
        """One page: orders submitted strictly after `after`, oldest first, at most `limit`;
        orders QTC cannot read stay in the page as UnreadableOrder."""
        query = GetOrdersRequest(
            status=QueryOrderStatus(status),
            after=after,
            limit=max(1, min(limit, MAX_LIST_LIMIT)),
            direction=Sort.ASC,
            nested=False,
        )
        raw = await self._call(
            "list_orders", partial(self._client.get_orders, query), idempotent=True
        )
        if not isinstance(raw, list):
            raise BrokerProtocolError(f"order listing is not a list: {type(raw).__name__}")
        orders = orders_from_listing(raw)
        # `after` is exclusive; enforce it here too so paging never sees an order twice.
        if after is not None:
            orders = [o for o in orders if o.submitted_at is None or o.submitted_at > after]
        return orders

    def _on_stream_connect(self) -> None:
        self.stream_connects += 1
        self.stream_connected = True
        log.info("Alpaca trade_updates stream connected (%d)", self.stream_connects)
        self._queue.put_nowait(StreamConnected(self._now()))

    def _on_stream_disconnect(self) -> None:
        if self.stream_connected and not self._closed:
            log.warning("Alpaca trade_updates stream lost; reconnecting")
        self.stream_connected = False

    async def _on_stream_message(self, message: Any) -> None:
        try:
            update = trade_update_from_payload(message["data"])
        except (BrokerError, KeyError, TypeError) as e:
            # The poll will read this order through the REST path, which raises loudly.
            self.protocol_errors += 1
            log.error("Unreadable trade update skipped: %s", e)
            return
        self._queue.put_nowait(update)

    def _ensure_stream(self) -> None:
        if self._stream_task is None and not self._closed:
            self._stream_task = asyncio.create_task(
                self._stream._run_forever(),  # type: ignore[no-untyped-call]
                name="alpaca-trade-updates",
            )

    async def updates(self) -> AsyncIterator[TradeUpdate | StreamConnected]:
        """Stream updates; StreamConnected after every (re)connect; ends only on close()."""
        self._ensure_stream()
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def close(self) -> None:
        """Stop the stream and release the REST session and worker threads."""
        if self._closed:
            return
        self._closed = True
        if self._stream_task is not None:
            self._stream_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stream_task
        with contextlib.suppress(Exception):
            await self._stream.close()
        self._queue.put_nowait(None)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client._session.close()


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
