"""`qtc serve`: the team API, read-only, over the files of a finished or running competition."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qtc.api.app import create_app
from qtc.api.keys import KEYS_FILE, KeyStore
from qtc.api.server import make_server
from qtc.connection_limits import bind_socket
from qtc.domain.times import MINUTE
from qtc.progress import lock_holder, read_progress
from qtc.store.files import FileStore
from qtc.tracking.readonly import FileView
from qtc.views.leaderboard import leaderboard_view

log = logging.getLogger("qtc.serve")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `qtc serve`."""
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="the competition's data directory"
    )
    parser.add_argument("--api-host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--api-port", type=int, default=8000, help="API port (default 8000)")
    parser.add_argument(
        "--rate-limit", type=int, default=600, help="requests per minute per team (default 600)"
    )


def serve_command(args: argparse.Namespace) -> int:
    """Entry point of `qtc serve`: writes nothing, locks nothing, follows the files."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    data_dir: Path = args.data_dir
    if not (data_dir / "team").is_dir() and not (data_dir / KEYS_FILE).is_file():
        print(f"error: {data_dir} holds no competition (no team/ folder, no {KEYS_FILE})",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        keys = KeyStore(data_dir / KEYS_FILE)
    except (OSError, ValueError) as e:
        print(f"error: cannot read {data_dir / KEYS_FILE} ({e})", file=sys.stderr)
        return 2
    try:
        sock = bind_socket(args.api_host, args.api_port)
    except OSError as e:
        print(
            f"error: cannot serve the API on {args.api_host}:{args.api_port} ({e.strerror}); "
            "choose another --api-port",
            file=sys.stderr,
        )
        return 2
    view = FileView(FileStore(data_dir, read_only=True))
    app = create_app(
        view,
        keys,
        status=lambda: status(view, data_dir),
        leaderboard=lambda: leaderboard_view(view, view.prices(), view.orders_placed()),
        rate_limit_per_minute=args.rate_limit,
        prices=view.prices,
        snapshots=view.store,
        board_minute=lambda: read_progress(data_dir)[0],
    )
    app.state.qtc.board.refresh()  # every snapshot is read before the first request
    server = make_server(app, args.api_host, args.api_port)
    log.info(
        "QTC serve (read-only): data=%s, API http://%s:%d", data_dir, args.api_host, args.api_port
    )
    asyncio.run(server.serve(sockets=[sock]))
    return 0


def status(view: FileView, data_dir: Path) -> dict[str, Any]:
    """The public status document, as far as the files tell it."""
    next_minute, _ = read_progress(data_dir)
    teams = view.team_ids()
    holder = lock_holder(data_dir)
    return {
        "running": holder is not None,
        "read_only": True,
        "run_pid": holder,
        "last_minute_processed": (next_minute - MINUTE).isoformat() if next_minute else None,
        "now": datetime.now(UTC).isoformat(),
        "broker": None,
        "teams": len(teams),
        "open_orders": sum(len(view.open_orders(t)) for t in teams),
    }
