"""Checkpoints of the open orders: every changed team's pending_orders.jsonl rewritten from
memory in one durable batch, on a writer thread so that neither the minute nor the API waits
on the disk.

Nothing depends on a checkpoint for safety: a new order is in the intent log (fsynced before
it is sent), a fill in the ledger, a closed order in its history. A checkpoint only shortens
what a restart replays. It sets the intent log's current generation aside before it takes
its copy of the open orders, so that once its files are durable that generation (and the
ones before) can go; intents written meanwhile start the next generation and are kept. The
same batch's sync makes the history and error lines appended before it durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from qtc.domain.orders import Order
from qtc.store.base import Store
from qtc.tracking.book import OrderIndex


@dataclass(slots=True)
class _Batch:
    """One checkpoint: the teams it rewrites (their open orders as encoded on the loop) and
    the intent log generation it covers."""

    dirty: set[str]
    unsynced: bool
    records: dict[str, Collection[str]]  # team -> its open orders' lines
    generation: int | None


class Checkpoints:
    """Batches open-order rewrites and syncs; runs them one at a time on a writer thread
    (`soon`) or at once (`now`, which first waits for the one running)."""

    def __init__(
        self,
        *,
        book: OrderIndex,
        store: Store,
        log: logging.Logger,
        delay: float,
        failed: Callable[[str, str], None],
        recovered: Callable[[str], None],
    ) -> None:
        self.book = book
        self.store = store
        self.log = log
        self.delay = delay
        self._failed = failed
        self._recovered = recovered
        self._dirty: set[str] = set()
        # team -> ids of its orders changed since the last checkpoint (None: all of them)
        self._changed: dict[str, set[str] | None] = {}
        # team -> order id -> the line its open order had at the last checkpoint
        self._lines: dict[str, dict[str, str]] = {}
        self._unsynced = False  # history or error lines written since the last sync
        self._timer: asyncio.Handle | None = None
        self._running: tuple[_Batch, Future[None]] | None = None
        self._writer: ThreadPoolExecutor | None = None

    @property
    def busy(self) -> bool:
        """A checkpoint is due or being written."""
        return self._running is not None or self._timer is not None

    def mark_dirty(self, team_id: str, order: Order | None = None) -> None:
        """The team's open orders changed (`order`: only that one, None: any of them):
        rewrite its file once the current burst is over."""
        self._dirty.add(team_id)
        changed = self._changed.setdefault(team_id, set())
        if order is None:
            self._changed[team_id] = None
        elif changed is not None:
            changed.add(order.order_id)
        self.soon()

    def mark_unsynced(self) -> None:
        """A line that waits for the next sync was written."""
        self._unsynced = True
        self.soon()

    def soon(self) -> None:
        """Checkpoint on the writer thread after `delay` (everything changed until then
        shares it); without a running loop the caller checkpoints with `now`."""
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(self.delay, self._start)

    def now(self) -> None:
        """Checkpoint here and now, after the one running (if any) has ended."""
        self._cancel_timer()
        self._wait()
        batch = self._take()
        if batch is None:
            return
        try:
            self._write(batch)
        except OSError as e:
            self._done(batch, e)
            return
        self._done(batch, None)

    def close(self) -> None:
        """The last checkpoint, then the writer thread stops."""
        self.now()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _start(self) -> None:
        self._timer = None
        if self._running is not None:
            return  # its end starts the next one
        batch = self._take()
        if batch is None:
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qtc-checkpoint")
        future = self._writer.submit(self._write, batch)
        self._running = (batch, future)
        loop = asyncio.get_running_loop()

        def tell_the_loop(done: Future[None]) -> None:
            # a loop closed meanwhile (its run ended without `close`) has no one to tell
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._ended, done)

        future.add_done_callback(tell_the_loop)

    def _ended(self, future: Future[None]) -> None:
        if self._running is None or self._running[1] is not future:
            return  # `now` has already settled it
        batch, _ = self._running
        self._running = None
        error = future.exception()
        if error is not None and not isinstance(error, OSError):
            self._done(batch, OSError(f"checkpoint failed: {error!r}"))
            raise error
        self._done(batch, error)
        if self._dirty or self._unsynced:
            self.soon()

    def _wait(self) -> None:
        if self._running is None:
            return
        batch, future = self._running
        self._running = None
        try:
            future.result()
        except OSError as e:
            self._done(batch, e)
            return
        self._done(batch, None)

    def _take(self) -> _Batch | None:
        """What the next checkpoint writes, taken on the loop: the generation first, so that
        every intent in it is in the copy."""
        dirty, self._dirty = self._dirty, set()
        unsynced, self._unsynced = self._unsynced, False
        if not dirty and not unsynced:
            return None
        generation = None
        if dirty:
            try:
                generation = self.store.rotate_intents()
            except OSError as e:  # the live log keeps growing; the next checkpoint sets it aside
                self.log.warning("Could not set intents.jsonl aside: %s", e)
        # the writer reads the teams' lines as they are: only `_take` changes them, and it
        # never runs while a batch is being written
        records: dict[str, Collection[str]] = {t: self._encoded(t).values() for t in sorted(dirty)}
        return _Batch(dirty, unsynced, records, generation)

    def _encoded(self, team_id: str) -> dict[str, str]:
        """The team's open orders encoded as now, re-encoding only those changed since the
        last checkpoint (a cycle that moved 1% of 100,000 orders encodes 1,000)."""
        changed = self._changed.pop(team_id, None)
        lines = self._lines.get(team_id)
        encode = self.store.encode_open_order
        if lines is None or changed is None:
            lines = {o.order_id: encode(o) for o in self.book.open_orders(team_id)}
            self._lines[team_id] = lines
            return lines
        for order_id in changed:
            order = self.book.find(order_id)
            if order is not None and order.is_open and order.team_id == team_id:
                lines[order_id] = encode(order)
            else:
                lines.pop(order_id, None)
        if len(lines) != self.book.team_open_count(team_id):  # an order added unannounced
            self._changed[team_id] = None
            return self._encoded(team_id)
        return lines

    def _write(self, batch: _Batch) -> None:
        if batch.records:
            self.store.save_open_records_of(batch.records)
        elif batch.unsynced:
            self.store.sync()

    def _done(self, batch: _Batch, error: OSError | None) -> None:
        if error is not None:
            self._dirty |= batch.dirty  # rewritten next time; the intent log keeps the orders
            for team_id in batch.dirty:
                self._changed.setdefault(team_id, set())  # the lines are current already
            self._unsynced |= batch.unsynced
            teams = len(batch.dirty)
            what = f"rewrite pending_orders.jsonl of {teams} teams" if teams else "sync"
            self._failed("pending", f"cannot {what}: {error}")
            return
        self._recovered("pending")
        if batch.generation is None:
            return
        try:
            self.store.drop_intents(batch.generation)
        except OSError as e:  # its orders are in their files now: replaying them is harmless
            self.log.warning("Could not drop written intents: %s", e)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
