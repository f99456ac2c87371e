"""The file store, telling a listener how long each durable ledger append took."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from qtc.store.files import FileStore
from qtc.store.records import TradeRecord


class ObservedFileStore(FileStore):
    """A FileStore whose every acknowledged ledger line (one fill) is reported with the real
    seconds its fsynced append took; a failed append raises as before and is not reported."""

    def __init__(
        self,
        data_dir: Path,
        on_trade_appended: Callable[[float], None],
        logger: logging.Logger | None = None,
    ) -> None:
        super().__init__(data_dir, logger)
        self._on_trade_appended = on_trade_appended

    def append_trade(self, record: TradeRecord) -> None:
        """Append one ledger line (durable), then report its latency."""
        started = time.perf_counter()
        super().append_trade(record)
        self._on_trade_appended(time.perf_counter() - started)
